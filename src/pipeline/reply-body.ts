/**
 * The reply's text and HTML body: the answer (Markdown) plus plain-language notes about what was
 * partial, skipped or not exported. The answer is untrusted model output: raw HTML in it is shown
 * as text, and links keep only http(s)/mailto targets.
 */
import { createRequire } from 'node:module';
import type * as MarkedModule from 'marked';
import { ErrorCodes, isWorkerError } from '../errors.ts';
import { cutBy } from '../gemini/response.ts';

export interface ExportedFileInfo {
  filename: string;
  /** Which engine made it. @defaultValue not said */
  engine?: 'quarto' | 'builtin';
  /** Made by the built-in engine after Quarto failed. */
  fallbackFrom?: { reason: string };
}

export interface ReplyBodyInput {
  /** `finishReason`: Gemini's, for an answer that arrived in full (`MAX_TOKENS` … get a note). */
  answer: { text: string; complete: boolean; stoppedBy?: unknown; finishReason?: string };
  attachments: ReadonlyArray<{ name: string; ok: boolean; reason?: string }>;
  notes: readonly string[];
  exported: { files: ReadonlyArray<ExportedFileInfo>; failures: ReadonlyArray<{ format: string; reason: string }> };
  /** The answer came from the local Gemini stand-in, not a real model. */
  standIn?: boolean;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

let markdown: MarkedModule.Marked | undefined;

/**
 * The Markdown renderer, made on the first reply rather than at start-up (a push instance scaled
 * from zero is ready sooner). `require` of the ESM package is synchronous in Node 24, so the
 * renderer stays a plain function.
 */
function markdownRenderer(): MarkedModule.Marked {
  if (markdown) return markdown;
  const { Marked } = createRequire(import.meta.url)('marked') as typeof MarkedModule;
  markdown = new Marked({
    gfm: true,
    renderer: {
      // Raw HTML in model output is displayed, never interpreted.
      html({ text }) {
        return escapeHtml(text);
      },
      link({ href, text }) {
        const safe = /^(https?:|mailto:)/i.test(href) ? href : undefined;
        return safe ? `<a href="${escapeHtml(safe)}">${escapeHtml(text)}</a>` : escapeHtml(text);
      },
      image({ text }) {
        // No remote images in mail (tracking, SSRF via clients): show the alt text.
        return escapeHtml(text);
      },
    },
  });
  return markdown;
}

export function replyNotes(input: ReplyBodyInput): string[] {
  const notes: string[] = [];
  if (!input.answer.complete) {
    notes.push(
      'This answer is incomplete: it was cut off before it finished' +
        (input.answer.stoppedBy ? ` (${plainStop(input.answer.stoppedBy)})` : '') +
        '. What was written so far is included above.',
    );
  } else {
    const cut = cutBy(input.answer.finishReason);
    if (cut === 'max-tokens') {
      notes.push('This answer was cut off: it reached the maximum length allowed for one answer. What was written is included above; ask a narrower question to get the rest.');
    } else if (cut === 'other') {
      notes.push(`The model stopped before a normal end (reason: ${plainReason(input.answer.finishReason!)}), so this answer may be incomplete.`);
    }
  }
  for (const a of input.attachments) if (!a.ok) notes.push(`Attachment "${a.name}" was skipped: ${a.reason ?? 'it could not be downloaded'}.`);
  notes.push(...input.notes);
  notes.push(...madeBy(input.exported.files));
  for (const f of input.exported.failures) notes.push(`The ${f.format.toUpperCase()} export could not be produced: ${f.reason}.`);
  return notes;
}

const ENGINE_NAMES = { quarto: 'Quarto', builtin: 'the built-in converter' } as const;

/** Which engine made each attached file: one line per engine, one per fallback. */
function madeBy(files: ReadonlyArray<ExportedFileInfo>): string[] {
  const lines: string[] = [];
  for (const engine of ['quarto', 'builtin'] as const) {
    const names = files.filter((f) => f.engine === engine && !f.fallbackFrom).map((f) => f.filename);
    if (names.length) lines.push(`${names.join(', ')} ${names.length === 1 ? 'was' : 'were'} made by ${ENGINE_NAMES[engine]}.`);
  }
  for (const f of files) {
    if (f.fallbackFrom) lines.push(`${f.filename} was made by the built-in converter instead of Quarto (${f.fallbackFrom.reason}).`);
  }
  return lines;
}

/** A finish reason as words: `MALFORMED_FUNCTION_CALL` → "malformed function call". Only [A-Z_] is kept. */
function plainReason(reason: string): string {
  return reason.replace(/[^A-Za-z_]/g, '').slice(0, 40).replace(/_/g, ' ').toLowerCase() || 'unknown';
}

function plainStop(reason: unknown): string {
  const code = isWorkerError(reason) ? reason.code : undefined;
  if (code === ErrorCodes.DEADLINE_EXCEEDED) return 'the time limit for one message was reached';
  if (code === ErrorCodes.TIMEOUT) return 'the answering service stopped responding';
  return 'the answering service was interrupted';
}

export function renderReplyBody(input: ReplyBodyInput): { text: string; html: string } {
  const notes = replyNotes(input);
  const noteText = notes.length ? `\n\n---\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}` : '';
  const standInText = input.standIn ? '\n\n(Answered by the local Gemini stand-in: this is not a real model answer.)' : '';
  const text = `${input.answer.text.trim()}${noteText}${standInText}\n`;
  const html =
    `<!doctype html><html><body>${markdownRenderer().parse(input.answer.text, { async: false })}` +
    (notes.length ? `<hr><p><strong>Notes</strong></p><ul>${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '') +
    (input.standIn ? '<p><em>Answered by the local Gemini stand-in: this is not a real model answer.</em></p>' : '') +
    '</body></html>';
  return { text, html };
}
