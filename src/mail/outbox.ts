/**
 * The outbox transport: without MAILGUN_API_KEY, replies are written as `.eml` files to OUTBOX_DIR
 * (SPEC §3.2 step 7) — same composer, same headers as Mailgun would send.
 *
 * Idempotent by Message-ID: the file name is derived from it, so a second send of the same reply
 * finds the file and reports `already-sent`. The message is written to a temp file and then linked
 * to its final name, which fails if that name exists: of two concurrent sends exactly one wins, and
 * a reader never sees a half-written file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'winston';
import { ErrorCodes, isWorkerError, permanent, retryable } from '../errors.ts';
import { abortReason } from '../resilience/deadline.ts';
import type { ComposedReply } from './compose.ts';
import { toEml } from './eml.ts';
import type { LookupOptions, MailTransport, SendOptions, SendResult } from './types.ts';

export interface OutboxTransportOptions {
  /** OUTBOX_DIR; created when missing. */
  dir: string;
  /** Debug line per message written. @defaultValue no logging */
  logger?: Logger;
}

const OPERATION = 'outbox.send';

/**
 * The file name for a Message-ID: its safe characters, plus a short hash of the exact id so that
 * two ids that differ only in unsafe characters never share a file.
 */
export function outboxFileName(messageId: string): string {
  const bare = messageId.trim().replace(/^<|>$/g, '');
  const safe = bare.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '').slice(0, 120) || 'message';
  const hash = createHash('sha256').update(bare).digest('hex').slice(0, 12);
  return `${safe}.${hash}.eml`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function createOutboxTransport(options: OutboxTransportOptions): MailTransport {
  const { dir } = options;
  const log = options.logger?.child({ component: 'outbox' });
  const pathFor = (messageId: string) => join(dir, outboxFileName(messageId));

  return {
    kind: 'outbox',

    async send(reply: ComposedReply, { signal }: SendOptions): Promise<SendResult> {
      if (signal.aborted) throw abortReason(signal, OPERATION);
      const path = pathFor(reply.messageId);
      const tmp = join(dir, `.${randomUUID()}.tmp`);
      try {
        await mkdir(dir, { recursive: true });
        if (await exists(path)) return { id: reply.messageId, status: 'already-sent', path };
        const eml = await toEml(reply);
        await writeFile(tmp, eml, { signal, mode: 0o640 });
        const created = await linkOrRename(tmp, path);
        log?.debug('Reply written to the outbox', { path, messageId: reply.messageId, bytes: eml.length });
        return { id: reply.messageId, status: created ? 'sent' : 'already-sent', path };
      } catch (error) {
        if (signal.aborted) throw abortReason(signal, OPERATION);
        throw outboxError(error, reply.messageId);
      } finally {
        await unlink(tmp).catch(() => {});
      }
    },

    async wasAccepted(messageId: string, _options?: LookupOptions): Promise<boolean> {
      return exists(pathFor(messageId));
    },
  };
}

/** Moves `tmp` to `path` unless `path` exists. False when it existed (another send won). */
async function linkOrRename(tmp: string, path: string): Promise<boolean> {
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // Filesystems without hard links (some network and FUSE mounts): rename, checked first.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EXDEV') {
      if (await exists(path)) return false;
      await rename(tmp, path);
      return true;
    }
    throw error;
  }
}

function outboxError(error: unknown, messageId: string) {
  if (isWorkerError(error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const message = `${OPERATION}: could not write the reply ${messageId} to the outbox (${code ?? (error as Error).message})`;
  // A full disk or a busy file system may pass; a missing or unwritable directory will not.
  return code === 'ENOSPC' || code === 'EBUSY' || code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN'
    ? retryable(ErrorCodes.SEND_REJECTED, message, { cause: error, details: { operation: OPERATION, errno: code } })
    : permanent(ErrorCodes.SEND_REJECTED, message, { cause: error, details: { operation: OPERATION, errno: code } });
}
