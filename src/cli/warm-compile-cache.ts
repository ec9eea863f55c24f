/**
 * Fills Node's compile cache (NODE_COMPILE_CACHE) at image build time: loads the start-up graph
 * and every module a job loads lazily, without starting anything, so a fresh instance compiles
 * nothing it has compiled before. The Dockerfile runs it; the cache is keyed by path and source,
 * so it must run where the image runs the code (/app).
 */
import { flushCompileCache, getCompileCacheDir } from 'node:module';

/** What `src/app.ts` imports on first use (test/dockerfile.test.ts keeps this list complete). */
export const LAZY_MODULES = [
  '../gemini/client.ts',
  '../mail/transport.ts',
  '../attachments/download.ts',
  '../context/build-context.ts',
  '../export/export-answer.ts',
  '../mail/send.ts',
  // issue 9: feature routers on their first request, the push verifier and the pull worker by
  // mode, the Pub/Sub client (push mode: after ready; src/worker/pubsub-on-demand.ts).
  '../ingress/from-config.ts',
  '../api/jobs-router.ts',
  '../api/ask-router.ts',
  '../worker/push-auth.ts',
  '../worker/pull-worker.ts',
  '../worker/pubsub-resources.ts',
  '../worker/subscription-report.ts',
  // The API callback's HTTP client (src/api/callback.ts, first callback).
  'undici',
  // The reply's HTML renderer (src/pipeline/reply-body.ts, first reply).
  'marked',
  // The Firestore client, loaded when the ledger is Firestore (production).
  '@google-cloud/firestore',
] as const;

/** What `src/main.ts` loads before it listens. */
const START_MODULES = ['../config.ts', '../errors.ts', '../observability/logger.ts', '../timeouts/chain.ts', '../timeouts/settings.ts', '../app.ts'] as const;

if (import.meta.main) {
  const dir = getCompileCacheDir();
  if (!dir) {
    console.error('NODE_COMPILE_CACHE is not set: nothing to warm.');
    process.exit(1);
  }
  for (const m of [...START_MODULES, ...LAZY_MODULES]) await import(m);
  flushCompileCache();
  console.log(`compile cache warmed in ${dir}`);
}
