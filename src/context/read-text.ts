/**
 * Bounded reads of local files for the context step: at most `maxBytes`, regular files only,
 * cancellable between chunks, with progress kept in a caller-owned {@link ReadProgress} so a
 * level fallback can use what was read before the timeout.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { abortReason } from '../resilience/deadline.ts';

const CHUNK = 64 * 1024;

/** What a read has produced so far. The reader appends; a fallback may read it at any time. */
export interface ReadProgress {
  chunks: Buffer[];
  bytes: number;
  /** The file has more bytes than were read (cap reached). */
  truncated: boolean;
  /** The whole file (or the cap) was read. */
  done: boolean;
}

export function newProgress(): ReadProgress {
  return { chunks: [], bytes: 0, truncated: false, done: false };
}

/** Text of the bytes read so far (UTF-8; a character cut at the end is dropped). */
export function progressText(progress: ReadProgress): string {
  return Buffer.concat(progress.chunks, progress.bytes).toString('utf8').replace(/\uFFFD$/, '');
}

/**
 * Reads up to `maxBytes` of `path` into `progress`. Refuses anything but a regular file: a FIFO or
 * device in a knowledge folder must not block a thread-pool thread forever (opened non-blocking,
 * checked with fstat before any read). Symlinks are not followed.
 */
export async function readBounded(path: string, maxBytes: number, signal: AbortSignal, progress: ReadProgress = newProgress()): Promise<ReadProgress> {
  if (signal.aborted) throw abortReason(signal, 'read file');
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error(`not a regular file: ${path}`);
    while (progress.bytes < maxBytes) {
      if (signal.aborted) throw abortReason(signal, 'read file');
      const want = Math.min(CHUNK, maxBytes - progress.bytes);
      const buffer = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buffer, 0, want, progress.bytes);
      if (bytesRead === 0) break;
      progress.chunks.push(buffer.subarray(0, bytesRead));
      progress.bytes += bytesRead;
    }
    progress.truncated = stat.size > progress.bytes;
    progress.done = true;
    return progress;
  } finally {
    await handle.close();
  }
}
