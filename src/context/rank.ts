/**
 * Which knowledge documents go into a job's context: simple keyword overlap between the question
 * and each document (idf-weighted, title and path count double), then as many of the best as fit
 * the character budget. Deliberately plain: predictable, explainable, no index to keep.
 */
import type { KnowledgeDoc } from './knowledge.ts';

const STOPWORDS = new Set(
  (
    'the and for are but not you your with this that from have has had was were will would could should can what when where which who whom why how ' +
    'all any each few more most other some such than too very just into over under about again then once here there also its our out off own same ' +
    'she her him his they them their these those been being does did doing only both nor yes please thanks thank hello dear regards best kind get got ' +
    'der die das und ist nicht ein eine les des une est pas pour que qui avec'
  ).split(' '),
);

/** Lower-case word tokens (letters/digits, ≥ 3 chars, no stop words), with a plural `s` folded. */
export function tokenize(text: string): string[] {
  const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const tokens: string[] = [];
  for (const word of words) {
    if (word.length < 3 || STOPWORDS.has(word)) continue;
    tokens.push(word.length > 4 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word);
  }
  return tokens;
}

export interface RankedDoc {
  doc: KnowledgeDoc;
  score: number;
}

/** Documents by relevance to `question`, best first; ties: core documents first, then by path. */
export function rankDocuments(docs: readonly KnowledgeDoc[], question: string): RankedDoc[] {
  const wanted = new Set(tokenize(question));
  const bodies = docs.map((doc) => {
    const counts = new Map<string, number>();
    for (const t of tokenize(doc.text)) if (wanted.has(t)) counts.set(t, (counts.get(t) ?? 0) + 1);
    return { doc, counts, heading: new Set(tokenize(`${doc.title} ${doc.path.replace(/\.[^.]+$/, '')}`)) };
  });
  const df = new Map<string, number>();
  for (const b of bodies) for (const t of new Set([...b.counts.keys(), ...[...b.heading].filter((h) => wanted.has(h))])) df.set(t, (df.get(t) ?? 0) + 1);
  const idf = (t: string) => Math.log(1 + docs.length / (df.get(t) ?? 1));

  return bodies
    .map(({ doc, counts, heading }) => {
      let score = 0;
      for (const t of wanted) {
        const tf = counts.get(t) ?? 0;
        if (tf > 0) score += idf(t) * (1 + Math.log(tf));
        if (heading.has(t)) score += idf(t);
      }
      return { doc, score };
    })
    .sort((a, b) => b.score - a.score || Number(b.doc.core) - Number(a.doc.core) || a.doc.path.localeCompare(b.doc.path));
}

export interface Selection {
  docs: KnowledgeDoc[];
  /** Relevant documents left out for lack of room. */
  omitted: number;
}

/** Least room worth filling with the start of a document that does not fit whole. */
const MIN_PARTIAL_CHARS = 2_000;

/**
 * The documents to send: relevant ones (score > 0) best first, then core documents, within
 * `maxChars` in total. A document that does not fit whole is cut to the room left (marked
 * truncated) when that room is worth it; documents with no overlap that are not core are left out.
 */
export function selectDocuments(docs: readonly KnowledgeDoc[], question: string, maxChars: number): Selection {
  const ranked = rankDocuments(docs, question).filter((r) => r.score > 0 || r.doc.core);
  const selected: KnowledgeDoc[] = [];
  let used = 0;
  let omitted = 0;
  for (const { doc } of ranked) {
    const room = maxChars - used;
    if (doc.text.length <= room) {
      selected.push(doc);
      used += doc.text.length;
    } else if (room >= MIN_PARTIAL_CHARS) {
      selected.push({ ...doc, text: doc.text.slice(0, room), truncated: true });
      used += room;
    } else {
      omitted++;
    }
  }
  return { docs: selected, omitted };
}
