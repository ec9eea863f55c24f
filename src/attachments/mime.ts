/**
 * Content types: the type a job declares wins; otherwise the server's answer, otherwise a guess
 * from the file name. Only the handful of types the context step treats specially are known.
 */
import { extname } from 'node:path';

const BY_EXTENSION: Readonly<Record<string, string>> = Object.freeze({
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.log': 'text/plain',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
  '.gif': 'image/gif',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.zip': 'application/zip',
});

export const OCTET_STREAM = 'application/octet-stream';

/** The bare, lower-case type of a Content-Type value (`text/plain; charset=utf-8` → `text/plain`). */
export function bareType(value: string | undefined | null): string | undefined {
  const bare = value?.split(';')[0]?.trim().toLowerCase();
  return bare && /^[\w.+-]+\/[\w.+-]+$/.test(bare) ? bare : undefined;
}

export function guessContentType(name: string): string {
  return BY_EXTENSION[extname(name).toLowerCase()] ?? OCTET_STREAM;
}

/** Declared type, else the server's (unless generic), else a guess from the name. */
export function resolveContentType(name: string, declared?: string, served?: string): string {
  const fromJob = bareType(declared);
  if (fromJob && fromJob !== OCTET_STREAM) return fromJob;
  const fromServer = bareType(served);
  if (fromServer && fromServer !== OCTET_STREAM) return fromServer;
  return guessContentType(name) ?? fromJob ?? OCTET_STREAM;
}
