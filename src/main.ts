/**
 * Production entry point (`npm start`, the Dockerfile's command): validate the configuration and
 * the deadline chain, start the worker, and shut down cleanly on SIGTERM within the grace period.
 */
import { loadConfig, type Config } from './config.ts';
import { describeError } from './errors.ts';
import { createLogger, flushLogger } from './observability/logger.ts';
import { assertChain } from './timeouts/chain.ts';
import { configureTimeouts } from './timeouts/settings.ts';
import { startApp } from './app.ts';

let config: Config;
try {
  config = loadConfig();
  assertChain(config.timeouts);
} catch (error) {
  // Before the logger exists: one JSON line Cloud Run can still read, then a non-zero exit.
  console.error(JSON.stringify({ severity: 'CRITICAL', message: `Start-up refused: ${describeError(error)}` }));
  process.exit(1);
}
configureTimeouts(config.timeouts);
const logger = createLogger({ level: config.logLevel, secrets: config.secrets, projectId: config.projectId });
logger.info('Starting email-worker', {
  mode: config.workerMode,
  concurrency: config.workerConcurrency,
  emailProcessingMode: config.emailProcessingMode,
  timeoutScale: config.timeouts.scale,
  gemini: config.gemini.standIn ? `stand-in at ${config.gemini.baseUrl}` : config.gemini.model,
  mail: config.mailgun.apiKey ? `mailgun ${config.mailgun.domain}` : `outbox ${config.outboxDir}`,
});

const app = await startApp(config, logger).catch(async (error: unknown) => {
  logger.error('Start-up failed', { err: error });
  await flushLogger(logger);
  process.exit(1);
});

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info('Shutting down: no new work; running jobs get the grace period', { signal, graceS: config.timeouts.shutdownGraceS });
  try {
    await app.stop();
  } catch (error) {
    logger.error('Shutdown did not finish cleanly', { err: error });
  }
  await flushLogger(logger);
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
