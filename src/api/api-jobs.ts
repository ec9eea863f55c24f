/**
 * API job records (`POST /v1/jobs`, `GET /v1/jobs/:id`) in the ingress store: who created the job
 * (the key's id, so another key sees 404), its state and timestamps, and when done the result
 * text and the exported files inline as base64 (small enough for one Firestore document;
 * larger exports are listed without data). The worker writes the result with compare-and-set, so
 * a concurrent update is never lost, then POSTs it to the job's callbackUrl when it has one.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'winston';
import type { IngressStore, StoreValue } from '../ledger/ingress-store.ts';
import type { Job } from '../jobs/schema.ts';
import type { Deadline } from '../resilience/deadline.ts';
import { getHttpTimeouts, getRetryConfig } from '../timeouts/engine.ts';
import type { ExportResult } from '../export/export-answer.ts';
import { postCallback } from './callback.ts';

export const API_JOB_SPACE = 'api-job';
/** How long a record (and its result) can be read. */
export const API_JOB_TTL_MS = 7 * 86_400_000;
/** Exported bytes kept inline in a record, all files together (Firestore documents hold 1 MiB). */
export const INLINE_EXPORT_MAX_BYTES = 600 * 1024;

export type ApiJobState = 'queued' | 'running' | 'done' | 'failed';

export interface ApiJobRecord extends StoreValue {
  id: string;
  keyId: string;
  tier: string;
  state: ApiJobState;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  callbackUrl?: string;
  result?: {
    text: string;
    complete: boolean;
    notes: string[];
    files: Array<{ filename: string; contentType: string; bytes: number; base64?: string; note?: string }>;
  };
  error?: string;
  callback?: { status: 'delivered' | 'failed'; detail?: string };
}

export interface ApiResultInput {
  text: string;
  complete: boolean;
  notes: string[];
  exported: ExportResult;
}

export interface ApiJobs {
  create(record: ApiJobRecord): Promise<boolean>;
  get(id: string): Promise<ApiJobRecord | undefined>;
  /** True when `id` was created through the API (its result goes to the record, not by email). */
  isApiJob(id: string): Promise<boolean>;
  /** Stores the result and calls back; false when the job has no API record. */
  complete(job: Job, result: ApiResultInput, run: { deadline: Deadline; logger: Logger }): Promise<boolean>;
  /** Records a failure (the caller's "failure email"); false when the job has no API record. */
  fail(job: Job, reason: string, run: { deadline: Deadline; logger: Logger }): Promise<boolean>;
}

export function createApiJobs(store: IngressStore, options: { allowPrivate: boolean; now?: () => number }): ApiJobs {
  const now = options.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();

  /** Read-modify-write with compare-and-set; retried when another writer got there first. */
  const update = async (id: string, change: (r: ApiJobRecord) => ApiJobRecord): Promise<ApiJobRecord | undefined> => {
    for (let i = 0; i < 5; i++) {
      const current = await store.get<ApiJobRecord>(API_JOB_SPACE, id);
      if (!current) return undefined;
      const next = change(current.value);
      if (await store.compareAndSet(API_JOB_SPACE, id, current.version, next, current.expiresAt)) return next;
    }
    throw new Error(`API job ${id}: record kept changing under five updates`);
  };

  const callBack = async (record: ApiJobRecord, run: { deadline: Deadline; logger: Logger }) => {
    if (!record.callbackUrl) return;
    let callback: ApiJobRecord['callback'];
    try {
      const status = await postCallback(record.callbackUrl, publicView(record), {
        deadline: run.deadline,
        policy: getRetryConfig('api'),
        attemptTimeoutMs: getHttpTimeouts('api').writeTimeoutMs,
        allowPrivate: options.allowPrivate,
        onRetry: (e) => run.logger.warn('API callback failed; retrying', { err: e.error, attempt: e.attemptNumber, delayMs: e.delayMs }),
      });
      callback = { status: 'delivered', detail: String(status) };
      run.logger.info('API callback delivered', { status });
    } catch (error) {
      callback = { status: 'failed', detail: (error as Error).message.slice(0, 200) };
      run.logger.error('API callback failed; the result stays readable with GET /v1/jobs/:id', { err: error });
    }
    await update(record.id, (r) => ({ ...r, callback }));
  };

  return {
    create: (record) => store.createIfAbsent(API_JOB_SPACE, record.id, record, now() + API_JOB_TTL_MS),
    get: async (id) => (await store.get<ApiJobRecord>(API_JOB_SPACE, id))?.value,
    isApiJob: async (id) => (await store.get(API_JOB_SPACE, id)) !== undefined,
    async complete(job, result, run) {
      if (!(await store.get(API_JOB_SPACE, job.id))) return false;
      let inline = 0;
      const files: NonNullable<ApiJobRecord['result']>['files'] = [];
      for (const f of result.exported.files) {
        const data = await readFile(f.path);
        if (inline + data.length <= INLINE_EXPORT_MAX_BYTES) {
          inline += data.length;
          files.push({ filename: f.filename, contentType: f.contentType, bytes: data.length, base64: data.toString('base64') });
        } else {
          files.push({ filename: f.filename, contentType: f.contentType, bytes: data.length, note: 'too large to keep inline' });
        }
      }
      const notes = [...result.notes, ...result.exported.failures.map((f) => `The ${f.format.toUpperCase()} export could not be produced: ${f.reason}.`)];
      const record = await update(job.id, (r) => ({ ...r, state: 'done', updatedAt: iso(), finishedAt: iso(), result: { text: result.text, complete: result.complete, notes, files } }));
      if (record) await callBack(record, run);
      return record !== undefined;
    },
    async fail(job, reason, run) {
      const record = await update(job.id, (r) => ({ ...r, state: 'failed', updatedAt: iso(), finishedAt: iso(), error: reason }));
      if (record) await callBack(record, run);
      return record !== undefined;
    },
  };
}

/** What `GET /v1/jobs/:id` and the callback show: no key id, no callback URL. */
export function publicView(record: ApiJobRecord, liveState?: ApiJobState): Record<string, unknown> {
  return {
    id: record.id,
    state: liveState ?? record.state,
    tier: record.tier,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
    ...(record.result ? { result: record.result } : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.callback ? { callback: record.callback } : {}),
  };
}
