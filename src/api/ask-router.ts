/**
 * `POST /v1/ask` (SPEC §2.2, §4): the interactive ui route. Streams the answer as Server-Sent
 * Events under the **ui** profile and the caller's **tier** (from the API key, never the body):
 *
 * - the Gemini budget is the tier's agent timeout (whole stream: the tier's streaming figure);
 * - a comment heartbeat (`: hb`) keeps the stream alive well inside the client-facing idle limit,
 *   the tier's stream-idle figure (seed 000's WebSocket receive), which exceeds the agent timeout;
 * - enterprise reports its five progressive 60 s phases as `phase` events;
 * - on timeout an `error` event carries the seed's message with tier, streaming flag and upgrade
 *   advice (the stream itself opened with 200); the server closes the stream when the answer ends.
 *
 * Events: `ready` {tier, context, agentTimeoutS, idleTimeoutS}, `phase` {phase, of, name},
 * `chunk` {text}, `restart` {attempt} (a retried attempt starts the text over), `done`
 * {complete}, `error` {code, message}. `X-Request-Context: email|api` runs the request under that
 * profile instead (no tier limits; the profile governs).
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Logger } from 'winston';
import { z } from 'zod';
import { ErrorCodes, describeError, isWorkerError, permanent } from '../errors.ts';
import { httpStatusForError } from '../errors-outcome.ts';
import type { Job } from '../jobs/schema.ts';
import type { PipelineServices } from '../pipeline/services.ts';
import { Deadline } from '../resilience/deadline.ts';
import { detectRequestContext } from '../timeouts/context.ts';
import { formatSeconds, getRetryConfig, getTierTimeouts, getTimeouts, tierTimeoutMessage } from '../timeouts/engine.ts';
import { ENTERPRISE_PHASE_NAMES } from '../timeouts/tiers.ts';
import { apiKeyOf, methodNotAllowed, requireApiKey } from './auth.ts';
import type { ApiKey } from './api-keys.ts';
import { jsonBody } from './json-body.ts';

const AskBody = z.strictObject({ text: z.string().min(1).max(100_000) });

export interface AskRouterOptions {
  keys: readonly ApiKey[];
  services: Pick<PipelineServices, 'buildContext' | 'gemini' | 'retryObserver'>;
  logger: Logger;
  /** Heartbeats per client-facing idle period (the comment interval is idle / this). @defaultValue 4 */
  heartbeatsPerIdle?: number;
}

export function createAskRouter(options: AskRouterOptions): Router {
  const router = Router();
  const readJson = jsonBody(512 * 1024);

  router.post('/v1/ask', requireApiKey(options.keys), async (req, res) => {
    const key = apiKeyOf(res);
    const log = options.logger.child({ route: '/v1/ask', keyId: key.id, tier: key.tier });
    let text: string;
    let context;
    try {
      const parsed = AskBody.safeParse(await readJson(req, res));
      if (!parsed.success) throw permanent(ErrorCodes.INVALID_ARGUMENT, parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
      text = parsed.data.text;
      // This is the ui route: only the header may choose another profile (EMAIL_PROCESSING_MODE does not).
      context = detectRequestContext({ headers: req.headers, env: {} });
    } catch (error) {
      const e = isWorkerError(error) ? error : permanent(ErrorCodes.INVALID_ARGUMENT, describeError(error));
      res.status(httpStatusForError(e)).json({ error: e.code, message: e.message });
      return;
    }

    const profile = getTimeouts(context);
    const tier = getTierTimeouts(key.tier);
    const ui = context === 'ui';
    const budgetMs = ui ? tier.agentMs : profile.hardTimeoutMs;
    const idleMs = ui ? tier.streamIdleMs : profile.toolHeartbeatMs;
    const closed = new AbortController();
    res.on('close', () => closed.abort(permanent(ErrorCodes.ABORTED, 'client closed the stream')));
    using deadline = Deadline.after(budgetMs, { label: `ask ${context}/${key.tier}`, parent: closed.signal });

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', connection: 'keep-alive' });
    const send = (event: string, data: unknown) => {
      if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('ready', { tier: key.tier, context, agentTimeoutS: Number(formatSeconds(budgetMs)), idleTimeoutS: Number(formatSeconds(idleMs)) });
    const timers: NodeJS.Timeout[] = [];
    timers.push(setInterval(() => !res.writableEnded && res.write(': hb\n\n'), Math.max(1, Math.floor(idleMs / (options.heartbeatsPerIdle ?? 4)))));
    if (ui && tier.phases > 1) {
      for (let i = 0; i < tier.phases; i++) {
        const phase = { phase: i + 1, of: tier.phases, name: ENTERPRISE_PHASE_NAMES[i] ?? `Phase ${i + 1}`, budgetS: Number(formatSeconds(tier.phaseMs)) };
        if (i === 0) send('phase', phase);
        else timers.push(setTimeout(() => send('phase', phase), tier.phaseMs * i));
      }
    }
    const timeoutMessage = () =>
      ui ? tierTimeoutMessage(key.tier, true) : `The answer took longer than the ${context} profile allows (${formatSeconds(budgetMs)}s).`;
    try {
      const job: Job = { version: 1, id: `ask-${randomUUID()}`, kind: 'api', from: 'ask@ask.invalid', to: [], subject: '', text, messageId: `<${randomUUID()}@ask.invalid>`, attachments: [] };
      const built = await options.services.buildContext({ job, attachments: [], logger: log, signal: deadline.signal });
      const observer = options.services.retryObserver(log);
      let attempt = 1;
      const answer = await options.services.gemini.streamAnswer(
        { systemInstruction: built.systemInstruction, parts: built.parts },
        {
          deadline,
          policy: getRetryConfig(context),
          firstChunkMs: Math.min(profile.genaiTimeoutMs, budgetMs),
          idleMs: profile.toolHeartbeatMs,
          totalMs: ui ? tier.streamingMs : profile.streamTimeoutMs,
          onChunk: (piece) => send('chunk', { text: piece }),
          onRetry: (e) => {
            observer.onRetry(e);
            send('restart', { attempt: ++attempt });
          },
          onGiveUp: observer.onGiveUp,
        },
      );
      if (!answer.complete && answer.stoppedBy?.code === ErrorCodes.DEADLINE_EXCEEDED) {
        send('error', { code: ErrorCodes.DEADLINE_EXCEEDED, message: timeoutMessage(), partial: true });
      } else {
        send('done', { complete: answer.complete });
      }
      log.info('Ask answered', { complete: answer.complete, chars: answer.text.length, ms: deadline.elapsedMs() });
    } catch (error) {
      const timedOut = isWorkerError(error) && (error.code === ErrorCodes.DEADLINE_EXCEEDED || error.code === ErrorCodes.TIMEOUT) && !closed.signal.aborted;
      if (closed.signal.aborted) log.info('Ask stream closed by the client');
      else log.warn('Ask failed', { err: error });
      send('error', timedOut ? { code: ErrorCodes.DEADLINE_EXCEEDED, message: timeoutMessage() } : { code: isWorkerError(error) ? error.code : 'EW_ERR_INTERNAL', message: 'the answer could not be produced' });
    } finally {
      for (const t of timers) clearTimeout(t);
      res.end();
    }
  });
  router.all('/v1/ask', methodNotAllowed('POST'));
  return router;
}
