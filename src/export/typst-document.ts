/**
 * The Typst document the built-in engine compiles to PDF: our own preamble (page, margins, font,
 * title, code blocks and tables that fit the page — in the spirit of Quarto's typst format) and
 * the body pandoc's typst writer makes from the sanitised AST.
 *
 * The title is untrusted (the mail subject): it reaches Typst as `sys.inputs.title`, a string the
 * preamble places as text, never as source to be parsed.
 *
 * Pure, no I/O.
 */
import { str, type Block, type Inline, type PandocDocument } from './pandoc-ast.ts';
import { ZWSP } from './sanitize.ts';

export interface TypstLayout {
  /** Typst paper name. @defaultValue `'a4'` */
  paper?: string;
  /** Body text size, pt. @defaultValue `11` */
  fontSizePt?: number;
}

/** Longest run without a break opportunity before a zero-width space is put in (PDF only). */
export const MAX_UNBROKEN = 60;

/**
 * Preamble. Fonts are the ones compiled into the Typst binary (Libertinus Serif, DejaVu Sans Mono,
 * New Computer Modern Math), so the PDF looks the same on every machine and needs no font files.
 */
export function typstPreamble(layout: TypstLayout = {}): string {
  const paper = /^[a-z0-9-]+$/.test(layout.paper ?? '') ? layout.paper : 'a4';
  const size = Number.isFinite(layout.fontSizePt) && layout.fontSizePt! >= 6 && layout.fontSizePt! <= 20 ? layout.fontSizePt : 11;
  return `// email-worker built-in PDF (pandoc typst writer + Typst)
#let title = sys.inputs.at("title", default: none)
#set document(title: title) if title != none
#set page(paper: "${paper}", margin: (x: 2.2cm, y: 2.4cm), numbering: "1")
#set text(font: ("Libertinus Serif", "New Computer Modern"), size: ${size}pt, lang: "en")
#set par(justify: true, leading: 0.65em)
#show heading: set block(above: 1.3em, below: 0.8em)
#show raw: set text(font: "DejaVu Sans Mono", size: 0.82em)
#show raw.where(block: true): it => block(fill: luma(246), inset: 8pt, radius: 3pt, width: 100%, breakable: true, it)
#show link: set text(fill: rgb(26, 95, 180))
#show figure: set block(breakable: true)
#show figure.where(kind: table): set figure.caption(position: top)
#set table(inset: 5pt, stroke: 0.5pt + luma(170))
#show table: set text(size: 0.9em, hyphenate: true)
#show table: set par(justify: false)
#show quote.where(block: true): set block(inset: (left: 1em), stroke: (left: 2pt + luma(200)))
#let horizontalrule = align(center, line(length: 50%, stroke: 0.5pt + luma(150)))
#if title != none {
  align(center, block(below: 1.6em, text(size: 1.5em, weight: "bold", hyphenate: false, title)))
}
`;
}

/** Puts a zero-width space into every run of more than `max` characters without whitespace. */
export function breakLongRuns(text: string, max = MAX_UNBROKEN): string {
  if (text.length <= max) return text;
  return text.replace(new RegExp(`[^\\s\\u200B]{${max + 1},}`, 'gu'), (run) => {
    const chars = [...run];
    const out: string[] = [];
    for (let i = 0; i < chars.length; i += max) out.push(chars.slice(i, i + max).join(''));
    return out.join(ZWSP);
  });
}

/**
 * A long word as several Str nodes, each ending in a zero-width space: pandoc's typst writer takes
 * time quadratic in the length of one Str (10 s for 20 000 characters), linear in their number.
 */
function splitStr(text: string, max = MAX_UNBROKEN): Inline[] {
  if (text.length <= max) return [str(text)];
  const chars = [...text];
  if (chars.length <= max) return [str(text)];
  const out: Inline[] = [];
  for (let i = 0; i < chars.length; i += max) out.push(str(chars.slice(i, i + max).join('') + (i + max < chars.length ? ZWSP : '')));
  return out;
}

function mapInlines(inlines: Inline[]): Inline[] {
  return inlines.flatMap((node): Inline[] => {
    switch (node.t) {
      case 'Str':
        return splitStr(node.c as string);
      case 'Code': {
        const [attr, text] = node.c as [unknown, string];
        return [{ t: 'Code', c: [attr, breakLongRuns(text)] }];
      }
      case 'Link': {
        const [attr, text, target] = node.c as [unknown, Inline[], [string, string]];
        // In-document links need a label Typst can find; sanitised headers carry none.
        if (target[0].startsWith('#')) return mapInlines(text);
        return [{ t: 'Link', c: [attr, mapInlines(text), target] }];
      }
      default:
        return [mapChildren(node)];
    }
  });
}

/** Recurses into any node's children (inline lists, block lists, nested arrays) generically. */
function mapChildren<T extends { t: string; c?: unknown }>(node: T): T {
  if (node.c === undefined) return node;
  return { ...node, c: mapValue(node.c) };
}

function mapValue(value: unknown): unknown {
  if (!Array.isArray(value)) {
    if (value && typeof value === 'object' && 't' in value) {
      const n = value as Block;
      if (n.t === 'CodeBlock') {
        const [attr, text] = n.c as [unknown, string];
        return { t: 'CodeBlock', c: [attr, text.split('\n').map((l) => breakLongRuns(l)).join('\n')] };
      }
      return mapChildren(n);
    }
    return value;
  }
  // A list of inlines is recognised by its first element.
  const first = value[0] as { t?: string } | undefined;
  if (first && typeof first === 'object' && !Array.isArray(first) && typeof first.t === 'string' && INLINE_TYPES.has(first.t)) {
    return mapInlines(value as Inline[]);
  }
  return value.map(mapValue);
}

const INLINE_TYPES = new Set([
  'Str', 'Emph', 'Underline', 'Strong', 'Strikeout', 'Superscript', 'Subscript', 'SmallCaps', 'Quoted', 'Cite', 'Code',
  'Space', 'SoftBreak', 'LineBreak', 'Math', 'RawInline', 'Link', 'Image', 'Note', 'Span',
]);

/** Deepest nesting of lists and block quotes kept; deeper ones are flattened into the last level. */
export const MAX_NESTING = 12;

/**
 * Lists and quotes nested deeper than `MAX_NESTING` lose their extra levels (the text stays):
 * Typst stops at "maximum show rule depth exceeded" long before pandoc does (100 levels fail).
 */
function limitNesting(blocks: Block[], depth: number): Block[] {
  const deep = depth >= MAX_NESTING;
  return blocks.flatMap((b): Block[] => {
    switch (b.t) {
      case 'BulletList': {
        const items = (b.c as Block[][]).map((item) => limitNesting(item, depth + 1));
        return deep ? items.flat() : [{ t: 'BulletList', c: items }];
      }
      case 'OrderedList': {
        const [attrs, raw] = b.c as [unknown, Block[][]];
        const items = raw.map((item) => limitNesting(item, depth + 1));
        return deep ? items.flat() : [{ t: 'OrderedList', c: [attrs, items] }];
      }
      case 'BlockQuote': {
        const inner = limitNesting(b.c as Block[], depth + 1);
        return deep ? inner : [{ t: 'BlockQuote', c: inner }];
      }
      case 'DefinitionList': {
        const entries = (b.c as Array<[Inline[], Block[][]]>).map(([term, defs]): [Inline[], Block[][]] => [term, defs.map((d) => limitNesting(d, depth + 1))]);
        return deep ? entries.flatMap(([term, defs]) => [{ t: 'Para', c: term }, ...defs.flat()]) : [{ t: 'DefinitionList', c: entries }];
      }
      default:
        return [b];
    }
  });
}

/**
 * The sanitised document adapted for Typst: long unbroken runs (URLs, hashes, minified code) get
 * break opportunities so lines fit the page; in-document `#fragment` links become their text;
 * nesting deeper than Typst can lay out is flattened.
 */
export function prepareForTypst(doc: PandocDocument): PandocDocument {
  return { ...doc, meta: {}, blocks: mapValue(limitNesting(doc.blocks, 0)) as Block[] };
}
