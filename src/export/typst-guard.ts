/**
 * Verifies Typst written by pandoc's typst writer before the compiler sees it — the last of three
 * layers keeping untrusted text out of Typst *code*:
 *
 * 1. the sanitiser (`sanitize.ts`) turns raw `{=typst}` blocks and inlines into code/text, images
 *    into their alt text, and keeps only http(s)/mailto links;
 * 2. pandoc's typst writer escapes text (`\#`, `\$`, `\@`, `\<` …);
 * 3. this scanner reads the result the way Typst does — markup, `\` escapes, raw text in backticks,
 *    `$…$` math, strings, code after `#` — and accepts code only in the shape the writer produces
 *    for a sanitised document: `#name` from a fixed vocabulary, followed by `(…)` arguments and
 *    `[…]` content, with identifiers and strings from the same vocabulary. No `#let`, `#set`,
 *    `#show`, `#import`, `#include`, `#read`, `#image`, `#{…}`, `#(…)`, and no string starting
 *    with `@` (a package spec, which would make the compiler read or download a package).
 *
 * The compiler's own sandbox (an empty workspace root, see `typst-pdf.ts`) is the backstop for files;
 * this scanner is what keeps package downloads and any other code out.
 *
 * Pure, no I/O.
 */

/** Functions the typst writer calls for the nodes a sanitised document can contain. */
const CODE_CALLS = new Set([
  'emph',
  'strong',
  'strike',
  'underline',
  'sub',
  'super',
  'smallcaps',
  'link',
  'footnote',
  'quote',
  'figure',
  'table',
  'table.header',
  'table.footer',
  'table.hline',
  'table.cell',
  'align',
  'block',
  'box',
  'horizontalrule',
  'linebreak',
  'terms',
  'terms.item',
  'enum',
  'enum.item',
  'list',
  'list.item',
  'raw',
  'text',
  'h',
  'v',
]);

/** Elements the writer configures with `#set`. */
const SET_TARGETS = new Set(['enum', 'list']);

/** Names (not calls) that appear inside the writer's argument lists. */
const CODE_NAMES = new Set([
  ...CODE_CALLS,
  'auto',
  'none',
  'true',
  'false',
  'left',
  'right',
  'center',
  'top',
  'bottom',
  'horizon',
  'start',
  'end',
  'kind',
  'columns',
  'rows',
  'colspan',
  'rowspan',
  'block',
  'numbering',
  'start',
  'tight',
  'lang',
  'caption',
  'supplement',
  'fill',
  'inset',
  'stroke',
  'width',
  'weight',
  'style',
  'dest',
  'body',
  'x',
  'y',
]);

const IDENT = /[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*/y;
const NUMBER = /\d+(?:\.\d+)?(?:%|pt|em|fr|cm|mm|in)?/y;

class Scanner {
  readonly problems: string[] = [];
  readonly src: string;
  i = 0;
  constructor(src: string) {
    this.src = src;
  }

  problem(what: string): void {
    if (this.problems.length < 20) this.problems.push(`${what} at offset ${this.i}`);
  }

  /**
   * Raw text, by Typst's lexer rule: n opening backticks (two = empty raw) end at the first n
   * consecutive backticks; any further backticks of that run start new raw text.
   */
  raw(): void {
    const start = this.i;
    while (this.src[this.i] === '`') this.i++;
    const n = this.i - start;
    if (n === 2) return;
    const close = this.src.indexOf('`'.repeat(n), this.i);
    if (close < 0) {
      this.problem('unterminated raw text');
      this.i = this.src.length;
      return;
    }
    this.i = close + n;
  }

  string(): void {
    const start = ++this.i;
    while (this.i < this.src.length && this.src[this.i] !== '"') this.i += this.src[this.i] === '\\' ? 2 : 1;
    if (this.src[start] === '@') this.problem('package spec in a string');
    if (this.i >= this.src.length) this.problem('unterminated string');
    this.i++;
  }

  /** Markup until `closer` (a `]` that ends content, or end of input); `[`…`]` nest. */
  markup(closer: string | undefined): void {
    let depth = 0;
    while (this.i < this.src.length) {
      const c = this.src[this.i]!;
      if (c === '\\') this.i += 2;
      else if (c === '`') this.raw();
      else if (c === '$') this.math();
      else if (c === '#') this.hashCode();
      // Comments are not skipped: what is in them is scanned like the rest (the writer makes none).
      else if (c === '[') {
        depth++;
        this.i++;
      } else if (c === ']') {
        if (depth === 0 && closer === ']') return;
        depth = Math.max(0, depth - 1);
        this.i++;
      } else this.i++;
    }
    if (closer) this.problem('unterminated content block');
  }

  math(): void {
    this.i++;
    while (this.i < this.src.length && this.src[this.i] !== '$') {
      const c = this.src[this.i]!;
      if (c === '\\') this.i += 2;
      else if (c === '"') this.string();
      else if (c === '#') this.hashCode();
      else this.i++;
    }
    this.i++;
  }

  ident(): string | undefined {
    IDENT.lastIndex = this.i;
    const m = IDENT.exec(this.src);
    if (!m) return undefined;
    this.i += m[0].length;
    return m[0];
  }

  /** `#name`, then any chain of `(args)` and `[content]`. */
  hashCode(): void {
    this.i++;
    const name = this.ident();
    if (name === undefined) {
      this.problem(`code expression "#${this.src.slice(this.i, this.i + 12)}"`);
      return;
    }
    if (name === 'set') {
      // The writer's only rule: `#set enum(numbering: "1.", start: 3)` for lists that do not start at 1.
      while (this.src[this.i] === ' ') this.i++;
      const target = this.ident();
      if (target === undefined || !SET_TARGETS.has(target) || this.src[this.i] !== '(') this.problem(`set rule ${target ?? ''}`);
    } else if (!CODE_CALLS.has(name)) this.problem(`code call #${name}`);
    this.chain();
  }

  chain(): void {
    for (;;) {
      const c = this.src[this.i];
      if (c === '(') {
        this.i++;
        this.args();
      } else if (c === '[') {
        this.i++;
        this.markup(']');
        this.i++;
      } else {
        // `#emph[x].f(…)`: Typst reads a field access or method call here; the writer never makes one.
        if (c === '.' && /[A-Za-z_]/.test(this.src[this.i + 1] ?? '')) this.problem('field access after a call');
        return;
      }
    }
  }

  /** Code inside `(…)`: names, numbers, strings, labels, content blocks, nested parens. */
  args(): void {
    while (this.i < this.src.length) {
      const c = this.src[this.i]!;
      if (c === ')') {
        this.i++;
        return;
      }
      if (c === '"') this.string();
      else if (c === '[') {
        this.i++;
        this.markup(']');
        this.i++;
      } else if (c === '(') {
        this.i++;
        this.args();
      } else if (c === '<') {
        // A label reference `<name>`.
        const end = this.src.indexOf('>', this.i);
        if (end < 0 || /[^\w:.-]/.test(this.src.slice(this.i + 1, end))) this.problem('malformed label');
        this.i = end < 0 ? this.src.length : end + 1;
      } else if (c === '`') this.raw();
      else if (/[A-Za-z_]/.test(c)) {
        const name = this.ident()!;
        if (!CODE_NAMES.has(name)) this.problem(`name ${name} in code`);
        if (this.src[this.i] === '(' || this.src[this.i] === '[') {
          if (!CODE_CALLS.has(name)) this.problem(`call ${name}() in code`);
          this.chain();
        }
      } else if (/\d/.test(c)) {
        NUMBER.lastIndex = this.i;
        this.i += NUMBER.exec(this.src)?.[0].length ?? 1;
      } else if (/[\s,:+\-*./]/.test(c)) this.i++;
      else {
        this.problem(`character ${JSON.stringify(c)} in code`);
        this.i++;
      }
    }
    this.problem('unterminated argument list');
  }
}

/**
 * Problems with a Typst body (no preamble) produced by pandoc's typst writer from a sanitised
 * document. Empty = only the writer's own vocabulary, nothing that reads files or packages.
 */
export function verifyTypstBody(source: string): string[] {
  const scanner = new Scanner(source);
  scanner.markup(undefined);
  return scanner.problems;
}
