/**
 * Step 3 of the pipeline (SPEC §3.2): every attachment of a job to a file in the job's temp dir.
 *
 * - Two files at a time (`concurrency`, default 2): one slow or stalled file does not hold up
 *   the others, and a job's 50 attachments do not open 50 sockets. Results keep the job's order.
 * - Per file: `perFileTimeoutMs` in total, retries included, via `deadline.child(...)`; each
 *   attempt retried per `policy` for 408/429/5xx and socket failures; other 4xx and policy
 *   refusals are final.
 * - A failed or refused file never fails the job: it comes back `ok: false` with a short reason
 *   for the reply. Only the deadline itself (or a shutdown) ends the step with an error.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCodes, describeError, isWorkerError, permanent, type WorkerError } from '../errors.ts';
import { classifyError } from '../resilience/classify.ts';
import { Deadline, abortReason, operationTimeout } from '../resilience/deadline.ts';
import { retry } from '../resilience/retry.ts';
import { fetchToFile } from './fetch-url.ts';
import { safeFileName } from './file-names.ts';
import { resolveContentType } from './mime.ts';
import { CappedFileWriter, DEFAULT_MAX_BYTES, base64DecodedSize, tooLarge } from './size-limit.ts';
import type { AttachmentResult, DownloadAttachmentsOptions, JobAttachment } from './types.ts';
import { DEFAULT_ALLOWED_HOSTS } from './url-policy.ts';

export type { AttachmentResult, DownloadAttachmentsOptions, JobAttachment } from './types.ts';

export const OPERATION = 'attachment.download';
const DEFAULT_CONCURRENCY = 2;

export async function downloadAttachments(attachments: readonly JobAttachment[], options: DownloadAttachmentsOptions): Promise<AttachmentResult[]> {
  const results: AttachmentResult[] = new Array(attachments.length);
  let next = 0;
  const worker = async () => {
    while (next < attachments.length && !options.deadline.expired) {
      const index = next++;
      results[index] = await downloadOne(attachments[index]!, index, options);
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, attachments.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  // Out of time (or shutting down): the job cannot go on either; say why instead of a half list.
  if (options.deadline.expired) throw abortReason(options.deadline.signal, OPERATION);
  return results;
}

async function downloadOne(attachment: JobAttachment, index: number, options: DownloadAttachmentsOptions): Promise<AttachmentResult> {
  const { name } = attachment;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const path = join(options.dir, safeFileName(name, index));
  const log = options.logger?.child({ attachment: name, index });
  const started = Date.now();
  let servedType: string | undefined;
  try {
    if (attachment.size !== undefined && attachment.size > maxBytes) {
      throw tooLarge(maxBytes, { declaredBytes: attachment.size, phase: 'job' });
    }
    let bytes: number;
    if ('base64' in attachment) {
      bytes = await writeBase64(attachment.base64, path, maxBytes);
    } else {
      const fetched = await fetchWithRetry(attachment.url, path, maxBytes, options);
      bytes = fetched.bytes;
      servedType = fetched.contentType;
    }
    const contentType = resolveContentType(name, attachment.contentType, servedType);
    log?.info('Attachment saved', { bytes, contentType, ms: Date.now() - started, source: 'base64' in attachment ? 'inline' : 'url' });
    return { name, contentType, ok: true, path, bytes };
  } catch (thrown) {
    await rm(path, { force: true }).catch(() => {});
    const error = asAttachmentError(thrown, options.deadline);
    const reason = plainReason(error);
    log?.warn('Attachment skipped', { reason, err: error, ms: Date.now() - started });
    return { name, contentType: resolveContentType(name, attachment.contentType, servedType), ok: false, error, reason };
  }
}

async function fetchWithRetry(url: string, path: string, maxBytes: number, options: DownloadAttachmentsOptions) {
  // The file's whole budget: a TIMEOUT naming this operation when it fires first, else the job's reason.
  using fileTimer = options.deadline.child(OPERATION, options.perFileTimeoutMs, 'file');
  using fileDeadline = Deadline.after(Math.min(options.perFileTimeoutMs, options.deadline.remainingMs()), { label: OPERATION, parent: fileTimer.signal });
  try {
    return await retry(
      ({ signal }) =>
        fetchToFile(url, path, {
          signal,
          allowedHosts: options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS,
          allowPrivate: options.allowPrivate ?? false,
          headersTimeoutMs: options.headersTimeoutMs,
          bodyTimeoutMs: options.bodyTimeoutMs,
          maxBytes,
          ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
          ...(options.mailgunApiKey === undefined ? {} : { mailgunApiKey: options.mailgunApiKey }),
          ...(options.mailgunApiUrl === undefined ? {} : { mailgunApiUrl: options.mailgunApiUrl }),
          ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
        }),
      {
        operation: OPERATION,
        policy: options.policy,
        deadline: fileDeadline,
        ...(options.onRetry ? { onRetry: options.onRetry } : {}),
        ...(options.onGiveUp ? { onGiveUp: options.onGiveUp } : {}),
      },
    );
  } catch (error) {
    // Both timers end at the same instant; report the per-file limit, not the helper deadline.
    if (isWorkerError(error) && error.code === ErrorCodes.DEADLINE_EXCEEDED && error.details.deadline === OPERATION && !options.deadline.expired) {
      throw operationTimeout(OPERATION, 'file', options.perFileTimeoutMs);
    }
    throw error;
  }
}

/** Decodes inline base64 to `path` in slices, through the same size cap as a download. */
async function writeBase64(base64: string, path: string, maxBytes: number): Promise<number> {
  const decoded = base64DecodedSize(base64);
  if (decoded > maxBytes) throw tooLarge(maxBytes, { declaredBytes: decoded, phase: 'base64' });
  const clean = base64.replace(/\s+/g, '');
  const SLICE = 64 * 1024; // a multiple of 4: every slice decodes on its own
  function* slices() {
    for (let i = 0; i < clean.length; i += SLICE) yield Buffer.from(clean.slice(i, i + SLICE), 'base64');
  }
  const file = new CappedFileWriter(path, maxBytes);
  await pipeline(Readable.from(slices()), file);
  return file.bytes;
}

function asAttachmentError(thrown: unknown, deadline: Deadline): WorkerError {
  const error = classifyError(thrown, OPERATION);
  if (error.code === ErrorCodes.ATTACHMENT_REFUSED || error.code === ErrorCodes.ATTACHMENT_TOO_LARGE || error.code === ErrorCodes.ATTACHMENT_FAILED) {
    return error;
  }
  if (deadline.expired) return error;
  return permanent(ErrorCodes.ATTACHMENT_FAILED, `attachment could not be downloaded: ${describeError(error)}`, {
    cause: error,
    ...(error.status === undefined ? {} : { status: error.status }),
    details: { reason: plainReason(error), causeCode: error.code },
  });
}

/** What the reply says about a skipped file: short, plain, no URLs or secrets. */
export function plainReason(error: WorkerError): string {
  const fromDetails = error.details.reason;
  if (typeof fromDetails === 'string' && fromDetails) return fromDetails;
  switch (error.code) {
    case ErrorCodes.UPSTREAM_HTTP:
      return error.status === 404 || error.status === 410
        ? `the file was not found at its source (HTTP ${error.status})`
        : `the file server answered HTTP ${error.status ?? 'error'}`;
    case ErrorCodes.TIMEOUT:
      return 'the download timed out';
    case ErrorCodes.DEADLINE_EXCEEDED:
      return 'the time limit for this message was reached';
    case ErrorCodes.NETWORK:
    case ErrorCodes.STREAM_BROKEN:
      return 'the connection to the file server failed';
    case ErrorCodes.ABORTED:
    case ErrorCodes.SHUTTING_DOWN:
      return 'the download was interrupted';
    default:
      return 'it could not be downloaded';
  }
}
