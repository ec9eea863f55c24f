/**
 * Streaming parser for Mailgun forward() posts (multipart/form-data with `attachment-N` files),
 * on busboy. Limits: total body bytes (413 while streaming, the rest is not read), field count
 * and size, file count. Files are kept in memory only up to `inlineMaxBytes` in total; later or
 * larger files are measured and dropped (the reply names them).
 */
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { ErrorCodes, permanent, type WorkerError } from '../errors.ts';
import type { InboundFile } from './inbound-mail.ts';

export interface ForwardLimits {
  /** Whole request body, bytes (INBOUND_FORWARD_MAX_BYTES). */
  maxBytes: number;
  /** Attachment bytes kept for inlining, all files together (FORWARD_INLINE_MAX_BYTES). */
  inlineMaxBytes: number;
  /** Form fields. @defaultValue 200 */
  maxFields?: number;
  /** One field's value, bytes. @defaultValue 8 MiB */
  maxFieldBytes?: number;
  /** Uploaded files. @defaultValue 100 */
  maxFiles?: number;
}

export function tooLargeError(limit: number): WorkerError {
  return permanent(ErrorCodes.BODY_TOO_LARGE, `request body larger than ${limit} bytes`, { details: { limit } });
}

export function parseForwardBody(req: IncomingMessage, limits: ForwardLimits): Promise<{ fields: Record<string, string>; files: InboundFile[] }> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { fields: limits.maxFields ?? 200, fieldSize: limits.maxFieldBytes ?? 8 * 1024 * 1024, files: limits.maxFiles ?? 100, parts: 400 },
      });
    } catch (error) {
      reject(permanent(ErrorCodes.INBOUND_REJECTED, `broken multipart: ${(error as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    const files: InboundFile[] = [];
    let kept = 0;
    let received = 0;
    let settled = false;
    const fail = (error: WorkerError) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.maxBytes) {
        req.pause();
        fail(tooLargeError(limits.maxBytes));
      }
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(tooLargeError(limits.maxFieldBytes ?? 8 * 1024 * 1024));
      else fields[name] = value;
    });
    bb.on('file', (_name, stream, info) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let keep = true;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (keep && kept + size <= limits.inlineMaxBytes) chunks.push(chunk);
        else if (keep) {
          keep = false;
          chunks.length = 0;
        }
      });
      stream.on('end', () => {
        if (keep) kept += size;
        files.push({ name: info.filename ?? 'attachment', contentType: info.mimeType || 'application/octet-stream', size, ...(keep ? { data: Buffer.concat(chunks) } : {}) });
      });
    });
    bb.on('fieldsLimit', () => fail(permanent(ErrorCodes.INBOUND_REJECTED, 'too many form fields')));
    bb.on('filesLimit', () => fail(permanent(ErrorCodes.INBOUND_REJECTED, 'too many files')));
    bb.on('partsLimit', () => fail(permanent(ErrorCodes.INBOUND_REJECTED, 'too many parts')));
    bb.on('error', (error: Error) => fail(permanent(ErrorCodes.INBOUND_REJECTED, `broken multipart: ${error.message}`)));
    bb.on('close', () => {
      if (settled) return;
      settled = true;
      resolve({ fields, files });
    });
    req.on('error', (error) => fail(permanent(ErrorCodes.INBOUND_REJECTED, `request aborted: ${error.message}`)));
    req.pipe(bb);
  });
}
