/**
 * `POST /v1/jobs` publishes an api job and answers 202 with its id; `GET /v1/jobs/:id` shows its
 * state, timestamps and, when done, the result text and exported files. A key sees only the jobs
 * it created (another key's job → 404). The tier comes from the key.
 */
import { randomUUID } from 'node:crypto';
import { Router, type Response } from 'express';
import type { Logger } from 'winston';
import { z } from 'zod';
import { ErrorCodes, describeError, isWorkerError, permanent } from '../errors.ts';
import { httpStatusForError } from '../errors-outcome.ts';
import { ExportFormat, parseJob, type Job, type JobInput } from '../jobs/schema.ts';
import type { IngressStore } from '../ledger/ingress-store.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { checkCaps, type CapLimits } from '../ingress/caps.ts';
import { detectRequestContext } from '../timeouts/context.ts';
import { API_JOB_SPACE, publicView, type ApiJobRecord, type ApiJobs } from './api-jobs.ts';
import { apiKeyOf, methodNotAllowed, requireApiKey } from './auth.ts';
import type { ApiKey } from './api-keys.ts';
import { checkCallbackUrl } from './callback.ts';
import { jsonBody } from './json-body.ts';

const attachment = z.union([
  z.strictObject({ name: z.string().min(1).max(255), contentType: z.string().max(255).optional(), url: z.string().max(4096) }),
  z.strictObject({ name: z.string().min(1).max(255), contentType: z.string().max(255).optional(), base64: z.string() }),
]);

const CreateJobBody = z.strictObject({
  text: z.string().min(1).max(1_000_000),
  subject: z.string().max(998).optional(),
  attachments: z.array(attachment).max(50).optional(),
  export: z.strictObject({ formats: z.array(ExportFormat).max(3) }).optional(),
  callbackUrl: z.string().max(2048).optional(),
});

export interface JobsRouterOptions {
  keys: readonly ApiKey[];
  store: IngressStore;
  apiJobs: ApiJobs;
  ledger: Pick<Ledger, 'get'>;
  publish(job: Job): Promise<string>;
  /** Our domain: the api job's placeholder sender and Message-ID. */
  domain: string;
  /** The global daily job cap applies to API jobs too. */
  caps: CapLimits;
  allowPrivateCallbacks: boolean;
  /** JSON body limit (base64 attachments included); the job must fit one Pub/Sub message (10 MB). @defaultValue 8 MiB */
  maxBodyBytes?: number;
  logger: Logger;
}

export function createJobsRouter(options: JobsRouterOptions): Router {
  const router = Router();
  const auth = requireApiKey(options.keys);
  const readJson = jsonBody(options.maxBodyBytes ?? 8 * 1024 * 1024);
  const fail = (res: Response, error: unknown) => {
    const status = httpStatusForError(error);
    if (status >= 500) options.logger.error('API request failed', { err: error });
    const code = isWorkerError(error) ? error.code : 'EW_ERR_INTERNAL';
    res.status(status).json({ error: code, message: status >= 500 || !isWorkerError(error) ? 'temporary failure; retry later' : error.message });
  };

  router.post('/v1/jobs', auth, async (req, res) => {
    try {
      const key = apiKeyOf(res);
      const parsed = CreateJobBody.safeParse(await readJson(req, res));
      if (!parsed.success) {
        throw permanent(ErrorCodes.INVALID_ARGUMENT, parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
      }
      const body = parsed.data;
      if (body.callbackUrl) {
        const problem = checkCallbackUrl(body.callbackUrl, options.allowPrivateCallbacks);
        if (problem) throw permanent(ErrorCodes.INVALID_ARGUMENT, problem);
      }
      const context = detectRequestContext({ headers: req.headers, env: {}, job: { kind: 'api' } });
      const id = `api-${randomUUID()}`;
      const input: JobInput = {
        version: 1,
        id,
        kind: 'api',
        ...(context !== 'api' ? { context } : {}),
        tier: key.tier,
        from: `api@${options.domain}`,
        to: [],
        subject: body.subject ?? '',
        text: body.text,
        messageId: `<${id}@${options.domain}>`,
        attachments: body.attachments ?? [],
        ...(body.export ? { export: body.export } : {}),
        ...(body.callbackUrl ? { callbackUrl: body.callbackUrl } : {}),
      };
      const job = parseJob(JSON.stringify(input));
      if (!job.ok) throw permanent(ErrorCodes.INVALID_ARGUMENT, job.error.message);
      const cap = await checkCaps(options.store, { ...options.caps, perSender: 0, perThread: 0 }, { jobId: id, sender: `api-key:${key.id}` });
      if (!cap.ok) {
        res.status(429).json({ error: ErrorCodes.INBOUND_IGNORED, message: `the service's daily job cap is reached (${cap.reason})` });
        return;
      }
      const now = new Date().toISOString();
      const record: ApiJobRecord = { id, keyId: key.id, tier: key.tier, state: 'queued', createdAt: now, updatedAt: now, ...(body.callbackUrl ? { callbackUrl: body.callbackUrl } : {}) };
      await options.apiJobs.create(record);
      try {
        await options.publish(job.job);
      } catch (error) {
        await options.store.delete(API_JOB_SPACE, id).catch(() => {});
        throw permanent(ErrorCodes.PUBLISH_FAILED, `publishing the job failed: ${describeError(error)}`, { cause: error });
      }
      options.logger.info('API job published', { jobId: id, keyId: key.id, tier: key.tier, context });
      res.status(202).location(`/v1/jobs/${id}`).json({ id, state: 'queued' });
    } catch (error) {
      fail(res, error);
    }
  });
  router.all('/v1/jobs', methodNotAllowed('POST'));

  router.get('/v1/jobs/:id', auth, async (req, res) => {
    try {
      const record = await options.apiJobs.get(String(req.params.id));
      if (!record || record.keyId !== apiKeyOf(res).id) {
        res.status(404).json({ error: ErrorCodes.NOT_FOUND, message: 'no such job' });
        return;
      }
      let live = record.state;
      if (live === 'queued') {
        const ledger = await options.ledger.get(record.id);
        if (ledger && (ledger.state === 'running' || ledger.state === 'reply_pending')) live = 'running';
      }
      res.json(publicView(record, live));
    } catch (error) {
      fail(res, error);
    }
  });
  router.all('/v1/jobs/:id', methodNotAllowed('GET'));
  return router;
}
