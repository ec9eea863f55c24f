/**
 * Makes untrusted Markdown (model output derived from untrusted email) safe to render.
 *
 * Quarto and Pandoc are document *programs*: an answer could read environment variables
 * (`{{< env GEMINI_API_KEY >}}`), host files (`{{< include /etc/passwd >}}`, `![](/etc/passwd)`
 * embedded by `embed-resources`, `\input{…}`), fetch URLs (remote images), run code (```` ```{r} ````,
 * `{ojs}` cells) or inject script into the HTML. Line-based regexes cannot decide reliably what
 * Pandoc will parse as code, raw TeX or HTML (fences that do not close, code spans across lines,
 * table cells…), so the answer is **parsed by Pandoc itself** (pandoc-wasm, see
 * `pandoc-worker.ts`) and sanitised on the AST:
 *
 * | construct (as Pandoc parses it)                 | becomes                              | why |
 * |-------------------------------------------------|--------------------------------------|-----|
 * | YAML front matter / metadata blocks             | removed (front matter) / shown as text (mid-document; the YAML reader is off) | `header-includes`, `include-in-header`, `css`, `format` options load files and set output options; we write our own front matter |
 * | raw blocks (```` ```{=latex} ````, `<script>…`) | code block showing the source        | raw LaTeX (`\input`, `\write18`, `\openin`, `\catcode`…), raw HTML (`<script>`, `<iframe>`, `<img src>`, `<link>`, `<object>`) and raw Typst reach the output unescaped |
 * | raw inline (`` `…`{=tex} ``, `\input{…}`, `<b>`) | the same text, escaped (`<br>` → line break) | as above |
 * | images `![alt](src)` (remote *and* local)       | their alt text                      | remote: fetched at render time (network, tracking); local: read from the host FS and embedded |
 * | TeX math using commands outside an allowlist    | inline code showing the TeX          | math is raw TeX in PDF output (`tex-math.ts`) |
 * | links other than http(s), mailto, `#fragment`   | their text                           | `javascript:`, `file:` and local document links |
 * | attributes on headers, code, spans, divs, tables, links | removed; code keeps one language class | attributes drive Quarto/Pandoc features (`include`, `style="…url()"`, layout, callouts) |
 * | fenced divs / spans                             | their content                        | carry attributes only |
 * | executable cells (```` ```{python} ````, `{ojs}`, `{mermaid}`) | plain code blocks (`python`) | never executed (also `--no-execute`); OJS/mermaid would run in the reader's browser |
 * | inline expressions `` `{python} x` ``, `` `r x` `` | code with a zero-width space in front | Quarto inline execution syntax |
 * | citations `[@key]`, cross-references `@fig-x`   | their literal text                   | would trigger citeproc / crossref look-ups |
 * | shortcodes `{{< … >}}`, escaped `{{{< … >}}}`   | a zero-width space between the braces | `env`, `include`, `meta`, `var`, `embed`, `video` read env vars, files and URLs; Quarto expands them in code too |
 * | `{`, `:::`, `@` in text                         | followed by a zero-width space       | Pandoc's writer does not escape them: text after inline code or at a header's end would re-parse as attributes (`` `x`{=html} ``), a div or a citation |
 *
 * Ordinary Markdown — headings, lists, tables, code blocks, emphasis, block quotes, footnotes,
 * links — is kept. The sanitised AST is written back to Markdown and **verified**: it is parsed again
 * (with every Pandoc extension on, as Quarto would) and must be a fixed point of the sanitiser, with
 * no Quarto cell fences or shortcodes left in its text. If that ever fails (a Pandoc writer escaping
 * gap), the whole answer is exported as one plain code block instead ({@link fallbackMarkdown}).
 *
 * Zero-width spaces (U+200B) are used where a visible escape would show in code: they break the
 * syntax for Pandoc and Quarto and are invisible to the reader.
 *
 * This module is pure (no I/O); the parse/write round trips run in the pandoc-wasm worker.
 */
import { emptyAttr, isAttrEmpty, str, type Attr, type Block, type Inline, type PandocDocument } from './pandoc-ast.ts';
import { isSafeTexMath } from './tex-math.ts';

/** U+200B ZERO WIDTH SPACE */
export const ZWSP = '\u200B';

export type NeutralisedKind =
  | 'front-matter'
  | 'metadata'
  | 'shortcode'
  | 'code-cell'
  | 'inline-expression'
  | 'raw-block'
  | 'raw-inline'
  | 'image'
  | 'unsafe-math'
  | 'unsafe-link'
  | 'attributes'
  | 'citation'
  | 'unknown-node';

/** How many constructs of each kind were neutralised. Counts only, never content (safe to log). */
export type SanitizeReport = Partial<Record<NeutralisedKind, number>>;

/** Pandoc reader used on untrusted text: YAML metadata blocks off, so they stay visible text. */
export const UNTRUSTED_READER = 'markdown-yaml_metadata_block';
/** Reader used to verify our own output: everything on, as Quarto reads it. */
export const VERIFY_READER = 'markdown';

function count(report: SanitizeReport, kind: NeutralisedKind, n = 1): void {
  report[kind] = (report[kind] ?? 0) + n;
}

export function mergeReports(...reports: SanitizeReport[]): SanitizeReport {
  const out: SanitizeReport = {};
  for (const r of reports) for (const [k, v] of Object.entries(r)) count(out, k as NeutralisedKind, v);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text level (before parsing)

const SHORTCODE = /\{\{+(?=\s*[<%])/g;

/** Puts a zero-width space between the braces of every `{{<` / `{{%` (also `{{{<`). Idempotent. */
export function breakShortcodes(text: string): string {
  return text.replace(SHORTCODE, (run) => run.split('').join(ZWSP));
}

/** `{lang …}` fence lines are Quarto executable cells, even nested inside a longer fence. */
const CELL_FENCE = /^([ \t>]*)(`{3,}|~{3,})([ \t]*)\{/gm;

/** Text of code (blocks or inline): shortcodes and cell fences broken, otherwise unchanged. */
export function breakCode(text: string): string {
  return breakShortcodes(text).replace(CELL_FENCE, `$1$2$3${ZWSP}{`);
}

const FRONT_MATTER = /^\uFEFF?---[ \t]*\r?\n[\s\S]*?\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/;
const CELL_OPENER = /^( {0,3})(`{3,}|~{3,})[ \t]*\{[ \t]*([A-Za-z][\w+-]*)[^}\n]*\}[ \t]*$/gm;
// C0 controls other than tab and newline, and DEL: never meaningful in an answer.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/**
 * Text pass before Pandoc parses the answer: drops our-own-business front matter, turns Quarto
 * cell fences (```` ```{python} ````, which Pandoc does not know and would read as inline code)
 * into plain code fences, breaks shortcodes. Safety does not depend on this pass; it makes the
 * result read better and is a first layer.
 */
export function prepareMarkdown(markdown: string): { text: string; report: SanitizeReport } {
  const report: SanitizeReport = {};
  let text = markdown.replace(/\r\n?/g, '\n').replace(CONTROL, '');
  if (FRONT_MATTER.test(text)) {
    text = text.replace(FRONT_MATTER, '');
    count(report, 'front-matter');
  }
  text = text.replace(CELL_OPENER, (_m, indent: string, fence: string, lang: string) => {
    count(report, 'code-cell');
    return `${indent}${fence}${lang.toLowerCase()}`;
  });
  const shortcodes = text.match(SHORTCODE)?.length ?? 0;
  if (shortcodes) {
    count(report, 'shortcode', shortcodes);
    text = breakShortcodes(text);
  }
  return { text, report };
}

// ---------------------------------------------------------------------------------------------
// AST level

const LANGUAGE = /^[A-Za-z][A-Za-z0-9_+-]{0,30}$/;
/** Classes Quarto may act on even without braces: shown as plain code. */
const SPECIAL_CLASSES = new Set(['ojs', 'mermaid', 'dot', 'graphviz', 'cell', 'cell-code', 'hidden']);

/** The one class a code block keeps: a plain language name for highlighting. */
export function codeLanguage(attr: Attr): string | undefined {
  const lang = attr[1][0]?.toLowerCase();
  if (!lang || !LANGUAGE.test(lang) || SPECIAL_CLASSES.has(lang) || lang.startsWith('quarto')) return undefined;
  return lang;
}

/** http(s), mailto and in-document `#fragment` targets, with characters Quarto could expand encoded. */
export function safeUrl(url: string): string | undefined {
  const trimmed = url.trim();
  if (!/^(https?:\/\/|mailto:|#)/i.test(trimmed)) return undefined;
  return trimmed.replace(/[{}<>"'`\\\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * Text nodes, which Pandoc's Markdown writer does not fully escape: `{` (attributes), `:::` (fenced
 * divs) and `@` after a non-word character (citations, cross-references) get a zero-width space.
 * Idempotent.
 */
export function breakText(text: string): string {
  return text
    .replace(/\{(?!\u200B)/g, `{${ZWSP}`)
    .replace(/:(?=::)/g, `:${ZWSP}`)
    .replace(/(?<![\p{L}\p{N}_])@(?!\u200B)/gu, `@${ZWSP}`);
}

const BR = /^<br\s*\/?>$/i;
const AUTOLINK_CLASSES = new Set(['uri', 'email']);

interface Walk {
  report: SanitizeReport;
}

function sanitizeInlines(inlines: Inline[], w: Walk): Inline[] {
  return inlines.flatMap((inline) => sanitizeInline(inline, w));
}

function sanitizeInline(node: Inline, w: Walk): Inline[] {
  switch (node.t) {
    case 'Str':
      return [str(breakText(node.c as string))];
    case 'Space':
    case 'SoftBreak':
    case 'LineBreak':
      return [{ t: node.t }];
    case 'Emph':
    case 'Underline':
    case 'Strong':
    case 'Strikeout':
    case 'Superscript':
    case 'Subscript':
    case 'SmallCaps':
      return [{ t: node.t, c: sanitizeInlines(node.c as Inline[], w) }];
    case 'Quoted': {
      const [quote, inlines] = node.c as [unknown, Inline[]];
      return [{ t: 'Quoted', c: [quote, sanitizeInlines(inlines, w)] }];
    }
    case 'Cite': {
      count(w.report, 'citation');
      return sanitizeInlines((node.c as [unknown, Inline[]])[1], w);
    }
    case 'Code': {
      const [attr, text] = node.c as [Attr, string];
      if (!isAttrEmpty(attr)) count(w.report, 'attributes');
      let code = breakCode(text);
      if (/^\s*\{/.test(code) || /^r\s/.test(code)) {
        count(w.report, 'inline-expression');
        code = ZWSP + code;
      }
      return [{ t: 'Code', c: [emptyAttr(), code] }];
    }
    case 'Math': {
      const [kind, tex] = node.c as [{ t: string }, string];
      if (isSafeTexMath(tex)) return [{ t: 'Math', c: [{ t: kind.t }, tex] }];
      count(w.report, 'unsafe-math');
      const delimiter = kind.t === 'DisplayMath' ? '$$' : '$';
      return [{ t: 'Code', c: [emptyAttr(), breakCode(`${delimiter}${tex}${delimiter}`)] }];
    }
    case 'RawInline': {
      const [, text] = node.c as [string, string];
      count(w.report, 'raw-inline');
      return BR.test(text.trim()) ? [{ t: 'LineBreak' }] : [str(breakText(text))];
    }
    case 'Link': {
      const [attr, inlines, [url, title]] = node.c as [Attr, Inline[], [string, string]];
      // Autolinks (`<https://…>`) carry the class `uri` / `email`, which the reader sets itself.
      const autolink = attr[0] === '' && attr[2].length === 0 && attr[1].length === 1 && AUTOLINK_CLASSES.has(attr[1][0]!);
      if (!autolink && !isAttrEmpty(attr)) count(w.report, 'attributes');
      const text = sanitizeInlines(inlines, w);
      const target = safeUrl(url);
      if (target === undefined) {
        count(w.report, 'unsafe-link');
        return text;
      }
      return [{ t: 'Link', c: [autolink ? ['', [attr[1][0]!], []] : emptyAttr(), text, [target, breakText(title)]] }];
    }
    case 'Image': {
      count(w.report, 'image');
      return sanitizeInlines((node.c as [Attr, Inline[], unknown])[1], w);
    }
    case 'Note':
      return [{ t: 'Note', c: sanitizeBlocks(node.c as Block[], w) }];
    case 'Span': {
      const [attr, inlines] = node.c as [Attr, Inline[]];
      if (!isAttrEmpty(attr)) count(w.report, 'attributes');
      return sanitizeInlines(inlines, w);
    }
    default:
      // Fail closed: a node type this code does not know is dropped, not passed through.
      count(w.report, 'unknown-node');
      return [];
  }
}

type Caption = [Inline[] | null, Block[]];
type Cell = [Attr, unknown, number, number, Block[]];
type Row = [Attr, Cell[]];

function sanitizeRows(rows: Row[], w: Walk): Row[] {
  return rows.map(([attr, cells]) => {
    if (!isAttrEmpty(attr)) count(w.report, 'attributes');
    return [
      emptyAttr(),
      cells.map(([cellAttr, align, rowSpan, colSpan, blocks]): Cell => {
        if (!isAttrEmpty(cellAttr)) count(w.report, 'attributes');
        return [emptyAttr(), align, rowSpan, colSpan, sanitizeBlocks(blocks, w)];
      }),
    ];
  });
}

function sanitizeCaption([short, blocks]: Caption, w: Walk): Caption {
  return [short === null ? null : sanitizeInlines(short, w), sanitizeBlocks(blocks, w)];
}

function sanitizeTable(c: unknown[], w: Walk): Block {
  const [attr, caption, colSpecs, head, bodies, foot] = c as [
    Attr,
    Caption,
    unknown[],
    [Attr, Row[]],
    Array<[Attr, number, Row[], Row[]]>,
    [Attr, Row[]],
  ];
  for (const a of [attr, head[0], foot[0], ...bodies.map((b) => b[0])]) if (!isAttrEmpty(a)) count(w.report, 'attributes');
  return {
    t: 'Table',
    c: [
      emptyAttr(),
      sanitizeCaption(caption, w),
      colSpecs,
      [emptyAttr(), sanitizeRows(head[1], w)],
      bodies.map(([, headColumns, headRows, rows]) => [emptyAttr(), headColumns, sanitizeRows(headRows, w), sanitizeRows(rows, w)]),
      [emptyAttr(), sanitizeRows(foot[1], w)],
    ],
  };
}

function sanitizeBlocks(blocks: Block[], w: Walk): Block[] {
  return blocks.flatMap((block) => sanitizeBlock(block, w));
}

function sanitizeBlock(node: Block, w: Walk): Block[] {
  switch (node.t) {
    case 'Plain':
    case 'Para':
      return [{ t: node.t, c: sanitizeInlines(node.c as Inline[], w) }];
    case 'LineBlock':
      return [{ t: 'LineBlock', c: (node.c as Inline[][]).map((line) => sanitizeInlines(line, w)) }];
    case 'CodeBlock': {
      const [attr, text] = node.c as [Attr, string];
      const lang = codeLanguage(attr);
      if (attr[0] !== '' || attr[2].length || attr[1].length > (lang ? 1 : 0)) count(w.report, 'attributes');
      return [{ t: 'CodeBlock', c: [['', lang ? [lang] : [], []], breakCode(text)] }];
    }
    case 'RawBlock': {
      const [format, text] = node.c as [string, string];
      count(w.report, 'raw-block');
      const lang = codeLanguage(['', [format], []]);
      return [{ t: 'CodeBlock', c: [['', lang ? [lang] : [], []], breakCode(text)] }];
    }
    case 'BlockQuote':
      return [{ t: 'BlockQuote', c: sanitizeBlocks(node.c as Block[], w) }];
    case 'OrderedList': {
      const [listAttrs, items] = node.c as [unknown, Block[][]];
      return [{ t: 'OrderedList', c: [listAttrs, items.map((item) => sanitizeBlocks(item, w))] }];
    }
    case 'BulletList':
      return [{ t: 'BulletList', c: (node.c as Block[][]).map((item) => sanitizeBlocks(item, w)) }];
    case 'DefinitionList':
      return [
        {
          t: 'DefinitionList',
          c: (node.c as Array<[Inline[], Block[][]]>).map(([term, defs]) => [
            sanitizeInlines(term, w),
            defs.map((def) => sanitizeBlocks(def, w)),
          ]),
        },
      ];
    case 'Header': {
      const [level, attr, inlines] = node.c as [number, Attr, Inline[]];
      // The identifier is Pandoc's own (auto_identifiers) or harmless; classes and key-values are not.
      if (attr[1].length || attr[2].length) count(w.report, 'attributes');
      return [{ t: 'Header', c: [level, emptyAttr(), sanitizeInlines(inlines, w)] }];
    }
    case 'HorizontalRule':
      return [{ t: 'HorizontalRule' }];
    case 'Table':
      return [sanitizeTable(node.c as unknown[], w)];
    case 'Figure':
      // A figure wraps an image (replaced by its alt text); its caption repeats that text.
      return sanitizeBlocks((node.c as [Attr, Caption, Block[]])[2], w);
    case 'Div': {
      const [attr, blocks] = node.c as [Attr, Block[]];
      if (!isAttrEmpty(attr)) count(w.report, 'attributes');
      return sanitizeBlocks(blocks, w);
    }
    default:
      count(w.report, 'unknown-node');
      return [];
  }
}

/** Sanitises a parsed document (see the module comment). Pure; returns a new document. */
export function sanitizeDocument(doc: PandocDocument): { doc: PandocDocument; report: SanitizeReport } {
  const w: Walk = { report: {} };
  if (Object.keys(doc.meta).length) count(w.report, 'metadata');
  const blocks = sanitizeBlocks(doc.blocks, w);
  return { doc: { 'pandoc-api-version': doc['pandoc-api-version'], meta: {}, blocks }, report: w.report };
}

/** Header identifiers are generated by the reader; ignore them when comparing documents. */
function withoutHeaderIds(doc: PandocDocument): string {
  return JSON.stringify(doc.blocks, (key, value: unknown) => {
    if (value && typeof value === 'object' && (value as Block).t === 'Header') {
      const [level, attr, inlines] = (value as Block).c as [number, Attr, Inline[]];
      return { t: 'Header', c: [level, ['', attr[1], attr[2]], inlines] };
    }
    return value;
  });
}

/**
 * Problems with sanitised Markdown, given its text and its re-parse (with {@link VERIFY_READER}):
 * the re-parse must be a fixed point of the sanitiser, and the text must hold no Quarto cell fence
 * or shortcode (Quarto finds those in the raw text, before Pandoc parses it). Empty = safe.
 */
export function verifySanitized(markdown: string, reparsed: PandocDocument): string[] {
  const problems: string[] = [];
  const again = sanitizeDocument(reparsed);
  for (const [kind, n] of Object.entries(again.report)) problems.push(`re-parse contains ${n} × ${kind}`);
  if (!problems.length && withoutHeaderIds(again.doc) !== withoutHeaderIds(reparsed)) problems.push('re-parse is not a fixed point of the sanitiser');
  if (new RegExp(CELL_FENCE.source, 'm').test(markdown)) problems.push('text contains a Quarto cell fence');
  if (new RegExp(SHORTCODE.source).test(markdown)) problems.push('text contains a shortcode');
  return problems;
}

/**
 * Last resort when verification fails: the whole answer as one plain fenced code block (a fence
 * longer than any backtick run inside), with shortcodes and cell fences broken. Reads poorly, is
 * always safe.
 */
export function fallbackMarkdown(markdown: string): string {
  const text = breakCode(markdown.replace(/\r\n?/g, '\n').replace(CONTROL, ''));
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}\n${text}${text.endsWith('\n') ? '' : '\n'}${fence}\n`;
}
