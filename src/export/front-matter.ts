/**
 * Our own YAML front matter for `answer.md` (the answer's own was removed by the sanitiser): the
 * title and the options of the one target format, nothing that loads files or runs code.
 */
import { breakText } from './sanitize.ts';

/** Quarto `--to` targets we use. `typst` renders a PDF with the Typst bundled in Quarto. */
export type QuartoTarget = 'html' | 'docx' | 'typst' | 'pdf';

const MAX_TITLE = 200;
// Controls and Unicode line/paragraph separators: a title is one line of text.
// eslint-disable-next-line no-control-regex
const NOT_TEXT = /[\u0000-\u001F\u007F\u0085\u2028\u2029]+/g;

/** A title (e.g. the mail subject, untrusted) as one line of plain text, at most 200 characters. */
export function plainTitle(title: string | undefined): string | undefined {
  const clean = title?.replace(NOT_TEXT, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_TITLE).trim();
  return clean || undefined;
}

/**
 * A title as Markdown that is only text: Quarto parses `title` as Markdown and expands shortcodes
 * in it, so every ASCII punctuation character is backslash-escaped and `{`/`@` get a zero-width space.
 */
export function markdownTitle(title: string): string {
  return breakText(title).replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

const FORMAT_OPTIONS: Record<QuartoTarget, string[]> = {
  // Self-contained, no theme or JavaScript, MathML instead of MathJax: needs no network, ever.
  html: ['embed-resources: true', 'minimal: true', 'html-math-method: mathml'],
  docx: ['toc: false'],
  typst: ['toc: false'],
  pdf: ['toc: false'],
};

/** The front matter for one render: title, markdown engine (never knitr/jupyter), no citeproc. */
export function quartoFrontMatter(target: QuartoTarget, title: string | undefined): string {
  const lines = ['---'];
  const plain = plainTitle(title);
  // JSON strings are valid YAML double-quoted scalars.
  if (plain) lines.push(`title: ${JSON.stringify(markdownTitle(plain))}`);
  lines.push('engine: markdown', 'execute:', '  enabled: false', 'citeproc: false', 'format:', `  ${target}:`);
  for (const option of FORMAT_OPTIONS[target]) lines.push(`    ${option}`);
  lines.push('---', '');
  return lines.join('\n');
}
