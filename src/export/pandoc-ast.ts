/**
 * The few Pandoc AST (JSON, API 1.23) shapes the sanitiser reads and writes. Nodes are plain
 * `{ t, c }` objects; `c` is typed per node where it is used (see pandoc-types' `Text.Pandoc.Definition`).
 */

/** `[identifier, classes, key-value pairs]` */
export type Attr = [string, string[], Array<[string, string]>];

export interface Node {
  t: string;
  c?: unknown;
}

export type Block = Node;
export type Inline = Node;

export interface PandocDocument {
  'pandoc-api-version': number[];
  meta: Record<string, unknown>;
  blocks: Block[];
}

export function emptyAttr(): Attr {
  return ['', [], []];
}

export function isAttrEmpty(attr: Attr): boolean {
  return attr[0] === '' && attr[1].length === 0 && attr[2].length === 0;
}

export function str(text: string): Inline {
  return { t: 'Str', c: text };
}

/** Parses pandoc's JSON output, failing loudly on anything that is not a document. */
export function parseDocument(json: string): PandocDocument {
  const doc = JSON.parse(json) as PandocDocument;
  if (!doc || !Array.isArray(doc.blocks) || typeof doc.meta !== 'object') {
    throw new TypeError('Expected a Pandoc JSON document with `blocks` and `meta`.');
  }
  return doc;
}
