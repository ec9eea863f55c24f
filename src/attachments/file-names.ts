/**
 * File names for attachments on disk. The sender chooses the name, so it is treated as hostile:
 * no directories, no dot-files, no control or shell-special characters, bounded length, and a
 * numeric prefix that keeps names unique within one job.
 */
import { extname } from 'node:path';

const MAX_NAME = 100;

/** A name safe to join to the job's temp dir: `<index>-<cleaned name>`. */
export function safeFileName(name: string, index: number): string {
  // Only the last path segment counts, whichever separator the sender used.
  const base = name.split(/[/\\]/).pop() ?? '';
  let clean = base
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}._ ()+-]/gu, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[.\s_-]+/, '')
    .trim();
  if (clean === '' || /^\.+$/.test(clean)) clean = 'attachment';
  if (clean.length > MAX_NAME) {
    const ext = extname(clean).slice(0, 16);
    clean = clean.slice(0, MAX_NAME - ext.length) + ext;
  }
  return `${index + 1}-${clean}`;
}
