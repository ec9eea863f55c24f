/**
 * The size cap, enforced on the bytes that actually arrive: a lying or absent Content-Length
 * cannot get more than `maxBytes` onto the disk.
 */
import { Transform } from 'node:stream';
import { ErrorCodes, permanent, type WorkerError } from '../errors.ts';

export const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;

/** '25 MiB', '512 KiB', '300 bytes': for reply texts. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

export function tooLarge(maxBytes: number, details: Record<string, unknown> = {}): WorkerError {
  const reason = `larger than the ${formatBytes(maxBytes)} limit`;
  return permanent(ErrorCodes.ATTACHMENT_TOO_LARGE, `attachment ${reason}`, { details: { ...details, maxBytes, reason } });
}

/** A pass-through that counts bytes and fails the pipeline as soon as the count passes `maxBytes`. */
export class ByteLimit extends Transform {
  bytes = 0;
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super();
    this.maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(tooLarge(this.maxBytes, { receivedBytes: this.bytes, phase: 'stream' }));
      return;
    }
    callback(null, chunk);
  }
}

/** Upper bound of the bytes a base64 text decodes to, computed without decoding it. */
export function base64DecodedSize(base64: string): number {
  let length = 0;
  let padding = 0;
  for (let i = 0; i < base64.length; i++) {
    const c = base64.charCodeAt(i);
    // Whitespace (line breaks of MIME base64) carries no data.
    if (c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09) continue;
    length++;
    padding = c === 0x3d ? padding + 1 : 0;
  }
  return Math.floor((length * 3) / 4) - Math.min(padding, 2);
}
