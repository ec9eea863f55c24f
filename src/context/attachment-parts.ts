/**
 * Downloaded attachments as Gemini parts (SPEC §3.2 step 4):
 *
 * - text (`text/*`, JSON, XML, YAML, CSV, Markdown…): read under T3 (on timeout: the part read so
 *   far), cut at `maxTextBytesPerFile`, sent as a delimited text part;
 * - PDFs and images Gemini reads (`application/pdf`, `image/png|jpeg|webp|heic|heif`): sent as
 *   `inlineData` while their base64 size fits `maxInlineBytes` in total (the request limit);
 * - anything else, or what does not fit: listed in `notes` as not read, with the reason.
 *
 * Files are handled one after the other, in the job's order, so which files fit the budgets is
 * deterministic. Progress is kept in a caller-owned {@link AttachmentGathering} for the T5 summary.
 */
import { extname } from 'node:path';
import type { AttachmentResult } from '../attachments/types.ts';
import { withTimeout } from '../timeouts/with-timeout.ts';
import { formatBytes } from '../attachments/size-limit.ts';
import { wrap } from './delimit.ts';
import { levelOptions, type LevelCallOptions } from './level-options.ts';
import { newProgress, progressText, readBounded } from './read-text.ts';
import type { ContextPart } from './types.ts';

export const INLINE_TYPES: ReadonlySet<string> = new Set(['application/pdf', 'image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif']);

const TEXT_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/ld+json',
  'application/xml',
  'application/yaml',
  'application/x-yaml',
  'application/csv',
  'application/x-ndjson',
  'application/javascript',
  'application/x-sh',
  'application/sql',
]);
const TEXT_EXTENSIONS: ReadonlySet<string> = new Set(['.txt', '.md', '.markdown', '.csv', '.tsv', '.json', '.xml', '.yaml', '.yml', '.log', '.ini', '.toml', '.html', '.htm', '.sql']);

export type AttachmentKind = 'text' | 'inline' | 'other';

export function attachmentKind(contentType: string, name: string): AttachmentKind {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (INLINE_TYPES.has(type)) return 'inline';
  if (type.startsWith('text/') || TEXT_TYPES.has(type) || type.endsWith('+json') || type.endsWith('+xml')) return 'text';
  // A generic type says nothing; the name may.
  if ((type === 'application/octet-stream' || type === '') && TEXT_EXTENSIONS.has(extname(name).toLowerCase())) return 'text';
  return 'other';
}

/** What the attachment step has produced so far; the T5 fallback summarises from it. */
export interface AttachmentGathering {
  parts: ContextPart[];
  notes: string[];
  /** Downloads that failed, with their reason (shown to the model). */
  unavailable: Array<{ name: string; reason: string }>;
  /** Attachments handled so far (by index). */
  handled: Set<number>;
  fallbacks: string[];
}

export function newGathering(): AttachmentGathering {
  return { parts: [], notes: [], unavailable: [], handled: new Set(), fallbacks: [] };
}

export interface AttachmentPartsOptions extends LevelCallOptions {
  /** Base64 bytes of inline files in one request. @defaultValue 18 000 000 (Gemini takes ~20 MB per request) */
  maxInlineBytes?: number;
  /** Bytes of text read per text attachment. @defaultValue 512 KiB */
  maxTextBytesPerFile?: number;
  /** Bytes of attachment text in total. @defaultValue 2 MiB */
  maxTextBytesTotal?: number;
  /** Also list failed downloads in `notes` (the reply layer usually lists them itself). @defaultValue false */
  noteFailedDownloads?: boolean;
  /** Where progress goes. @defaultValue a new one */
  gathering?: AttachmentGathering;
}

export const DEFAULT_MAX_INLINE_BYTES = 18_000_000;
const DEFAULT_TEXT_PER_FILE = 512 * 1024;
const DEFAULT_TEXT_TOTAL = 2 * 1024 * 1024;

const base64Length = (bytes: number) => Math.ceil(bytes / 3) * 4;

export async function attachmentParts(attachments: readonly AttachmentResult[], options: AttachmentPartsOptions = {}): Promise<AttachmentGathering> {
  const g = options.gathering ?? newGathering();
  const maxInline = options.maxInlineBytes ?? DEFAULT_MAX_INLINE_BYTES;
  let inlineUsed = 0;
  let textLeft = options.maxTextBytesTotal ?? DEFAULT_TEXT_TOTAL;

  for (const [index, a] of attachments.entries()) {
    if (options.signal?.aborted) break;
    const label = `Attachment "${a.name}"`;
    const attrs = { index: index + 1, name: a.name, type: a.contentType };
    if (!a.ok) {
      g.unavailable.push({ name: a.name, reason: a.reason });
      if (options.noteFailedDownloads) g.notes.push(`${label} was not read: ${a.reason}.`);
      g.handled.add(index);
      continue;
    }
    const kind = attachmentKind(a.contentType, a.name);
    if (kind === 'other') {
      g.notes.push(`${label} was not read: files of type ${a.contentType} are not supported.`);
    } else if (kind === 'inline') {
      const size = base64Length(a.bytes);
      if (inlineUsed + size > maxInline) {
        g.notes.push(`${label} was not read: together with the other files it exceeds the ${formatBytes(maxInline)} the model accepts in one request.`);
      } else {
        const data = await readInline(a.path, a.bytes, a.name, g, options);
        if (data !== undefined) {
          inlineUsed += size;
          g.parts.push({ text: wrap('attachment', { ...attrs, bytes: a.bytes }, '(The file’s content follows as the next part.)') }, { inlineData: { mimeType: a.contentType, data } });
        }
      }
    } else if (textLeft <= 0) {
      g.notes.push(`${label} was not read: the attachments contain more text than one request can take.`);
    } else {
      const cap = Math.min(options.maxTextBytesPerFile ?? DEFAULT_TEXT_PER_FILE, textLeft);
      const text = await readText(a.path, cap, a.name, g, options);
      if (text !== undefined) {
        textLeft -= Buffer.byteLength(text.text);
        if (text.binary) {
          g.notes.push(`${label} was not read: it does not look like text.`);
        } else {
          g.parts.push({ text: wrap('attachment', { ...attrs, ...(text.truncated || text.partial ? { excerpt: 'true' } : {}) }, text.text) });
          if (text.partial) g.notes.push(`${label} could only be read in part in the time available.`);
          else if (text.truncated) g.notes.push(`${label} is long; only its first ${formatBytes(cap)} were read.`);
        }
      }
    }
    g.handled.add(index);
  }
  return g;
}

interface ReadTextResult {
  text: string;
  truncated: boolean;
  /** Cut by the T3 timeout. */
  partial: boolean;
  binary: boolean;
}

/** One attachment's text under T3; on timeout, what was read so far. */
function readText(path: string, cap: number, name: string, g: AttachmentGathering, options: AttachmentPartsOptions): Promise<ReadTextResult | undefined> {
  const progress = newProgress();
  const result = (partial: boolean): ReadTextResult => {
    const text = progressText(progress);
    return { text, truncated: progress.truncated, partial, binary: text.includes('\u0000') };
  };
  return withTimeout(
    'T3',
    'context.attachment-text',
    async (signal) => {
      try {
        await readBounded(path, cap, signal, progress);
        return result(false);
      } catch (error) {
        if (signal.aborted) throw error;
        options.logger?.warn('Attachment text could not be read', { attachment: name, err: error });
        g.notes.push(`Attachment "${name}" could not be read.`);
        return undefined;
      }
    },
    () => {
      g.fallbacks.push(`T3 attachment ${name}: partial text (${progress.bytes} bytes)`);
      return result(true);
    },
    levelOptions(options),
  );
}

/** One PDF/image as base64 under T3; a partial binary is useless, so on timeout it is left out. */
function readInline(path: string, bytes: number, name: string, g: AttachmentGathering, options: AttachmentPartsOptions): Promise<string | undefined> {
  return withTimeout(
    'T3',
    'context.attachment-file',
    async (signal) => {
      try {
        const progress = await readBounded(path, bytes, signal);
        return Buffer.concat(progress.chunks, progress.bytes).toString('base64');
      } catch (error) {
        if (signal.aborted) throw error;
        options.logger?.warn('Attachment could not be read', { attachment: name, err: error });
        g.notes.push(`Attachment "${name}" could not be read.`);
        return undefined;
      }
    },
    () => {
      g.fallbacks.push(`T3 attachment ${name}: not read in time`);
      g.notes.push(`Attachment "${name}" was not read: reading it took too long.`);
      return undefined;
    },
    levelOptions(options),
  );
}
