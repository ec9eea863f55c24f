/**
 * The reply's text and HTML body: the answer (Markdown) plus plain-language notes about what was
 * partial, skipped or not exported. The answer is untrusted model output: raw HTML in it is shown
 * as text, and links keep only http(s)/mailto targets.
 */
import { createRequire } from 'node:module';
import type * as MarkedModule from 'marked';
import { ErrorCodes, isWorkerError } from '../errors.ts';

export interface ReplyBodyInput {
  answer: { text: string; complete: boolean; stoppedBy?: unknown };
  attachments: ReadonlyArray<{ name: string; ok: boolean; reason?: string }>;
  notes: readonly string[];
  exported: { files: ReadonlyArray<{ filename: string }>; failures: ReadonlyArray<{ format: string; reason: string }> };
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
  }
  for (const a of input.attachments) if (!a.ok) notes.push(`Attachment "${a.name}" was skipped: ${a.reason ?? 'it could not be downloaded'}.`);
  notes.push(...input.notes);
  for (const f of input.exported.failures) notes.push(`The ${f.format.toUpperCase()} export could not be produced: ${f.reason}.`);
  return notes;
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
