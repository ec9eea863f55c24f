/**
 * Step 4 of the pipeline (SPEC §3.2, §2.3): the system instruction and the parts of the user turn
 * for one job, assembled under T5. Inside it, in parallel: the prompt (T2), the knowledge base
 * (T1 cache → T4 whole base → T3 per folder → T2 per file) and the attachments (T3 each). Then the
 * knowledge documents are ranked against the question and cut to a character budget.
 *
 * On the T5 timeout the assembly is abandoned and the job gets a summary of what was gathered
 * by then: the prompt, the attachments already read, and the titles and openings of the knowledge
 * documents read — with a note in the reply that the context was shortened.
 *
 * Parts are ordered material first, question last (long-context models answer best that way):
 * knowledge, attachments, unavailable files, then the email. Everything is wrapped in the data
 * tags the system instruction names (see `delimit.ts`).
 */
import type { Logger } from 'winston';
import type { AttachmentResult } from '../attachments/types.ts';
import type { TimeoutSettings } from '../timeouts/settings.ts';
import { withTimeout, type LevelMetricsSink } from '../timeouts/with-timeout.ts';
import { attachmentParts, newGathering, type AttachmentGathering } from './attachment-parts.ts';
import { wrap, wrapTrusted } from './delimit.ts';
import { loadKnowledge, type KnowledgeBase, type KnowledgeDoc } from './knowledge.ts';
import { levelOptions } from './level-options.ts';
import { DATA_RULES, DEFAULT_PROMPT, loadSystemInstruction, type LoadedPrompt } from './prompt.ts';
import { rankDocuments, selectDocuments } from './rank.ts';
import type { BuiltContext, ContextPart } from './types.ts';

export type { BuiltContext, ContextPart } from './types.ts';

export interface BuildContextInput {
  job: { subject: string; text: string; from: string };
  attachments: readonly AttachmentResult[];
  /** KNOWLEDGE_DIR: Markdown documents and an optional `prompt.md`. @defaultValue none */
  knowledgeDir?: string;
  /** Base64 bytes of PDFs/images per request. @defaultValue 18 000 000 (Gemini takes ~20 MB) */
  maxInlineBytes?: number;
  /** Characters of knowledge text per request. @defaultValue 60 000 */
  maxKnowledgeChars?: number;
  /** Also list failed downloads in `notes` (the reply body lists them already). @defaultValue false */
  noteFailedDownloads?: boolean;
  /** Fallback lines and read problems. @defaultValue withTimeout's stderr lines */
  logger?: Logger;
  /** The job's signal: its abort ends the step with its reason. */
  signal?: AbortSignal;
  /** Level budgets (TIMEOUT_SCALE). @defaultValue the process-wide settings */
  settings?: TimeoutSettings;
  /** Level metrics. @defaultValue the process-wide sink */
  metrics?: LevelMetricsSink;
}

const DEFAULT_KNOWLEDGE_CHARS = 60_000;
const SUMMARY_DOCS = 10;
const SUMMARY_CHARS_PER_DOC = 400;

export const SHORTENED_NOTE = 'Preparing the material for this answer took too long, so the answer is based on a shortened version of it.';

interface Gathered {
  prompt?: LoadedPrompt;
  knowledge?: KnowledgeBase;
  docs: KnowledgeDoc[];
  attachments: AttachmentGathering;
  fallbacks: string[];
}

/** Calls `withTimeout('T5', …)` before its first await (tests rely on it). */
export function buildContext(input: BuildContextInput): Promise<BuiltContext> {
  const gathered: Gathered = { docs: [], attachments: newGathering(), fallbacks: [] };
  const question = `${input.job.subject}\n${input.job.text}`;
  return withTimeout(
    'T5',
    'context.assemble',
    async (signal) => {
      const inner = { ...(input.settings ? { settings: input.settings } : {}), ...(input.logger ? { logger: input.logger } : {}), ...(input.metrics ? { metrics: input.metrics } : {}), signal };
      const [prompt, knowledge] = await Promise.all([
        loadSystemInstruction(input.knowledgeDir, inner).then((p) => {
          input.logger?.debug('Context: prompt ready', { source: p.source });
          return (gathered.prompt = p);
        }),
        input.knowledgeDir
          ? loadKnowledge(input.knowledgeDir, { ...inner, sink: gathered.docs, fallbacks: gathered.fallbacks }).then((k) => {
              input.logger?.debug('Context: knowledge ready', { documents: k.docs.length, complete: k.complete, cached: k.cached === true });
              return (gathered.knowledge = k);
            })
          : undefined,
        attachmentParts(input.attachments, {
          ...inner,
          gathering: gathered.attachments,
          ...(input.maxInlineBytes === undefined ? {} : { maxInlineBytes: input.maxInlineBytes }),
          ...(input.noteFailedDownloads === undefined ? {} : { noteFailedDownloads: input.noteFailedDownloads }),
        }).then((g) => {
          input.logger?.debug('Context: attachments ready', { parts: g.parts.length, notes: g.notes.length });
          return g;
        }),
      ]);
      const selection = selectDocuments(knowledge?.docs ?? [], question, input.maxKnowledgeChars ?? DEFAULT_KNOWLEDGE_CHARS);
      if (selection.omitted > 0) input.logger?.info('Knowledge documents left out for lack of room', { omitted: selection.omitted });
      const fallbacks = [...(prompt.fallback ? [prompt.fallback] : []), ...gathered.fallbacks, ...gathered.attachments.fallbacks];
      return {
        systemInstruction: prompt.systemInstruction,
        parts: compose(selection.docs, false, gathered.attachments, input.job),
        notes: dedupe(gathered.attachments.notes),
        knowledge: { files: selection.docs.length, fallbacks },
      };
    },
    () => summarize(gathered, input, question),
    levelOptions(input),
  );
}

/** The T5 fallback: what was gathered, shortened, with a note for the reply. */
function summarize(gathered: Gathered, input: BuildContextInput, question: string): BuiltContext {
  const docs = rankDocuments(gathered.knowledge?.docs ?? gathered.docs, question)
    .slice(0, SUMMARY_DOCS)
    .map(({ doc }) => ({ ...doc, text: opening(doc.text), truncated: true }));
  const g = gathered.attachments;
  const notes = [...g.notes];
  input.attachments.forEach((a, i) => {
    if (!g.handled.has(i) && a.ok) notes.push(`Attachment "${a.name}" was not read: there was not enough time.`);
  });
  notes.push(SHORTENED_NOTE);
  const fallbacks = [...(gathered.prompt?.fallback ? [gathered.prompt.fallback] : []), ...gathered.fallbacks, ...g.fallbacks, 'T5 context assembly: summary of what was gathered'];
  return {
    systemInstruction: gathered.prompt?.systemInstruction ?? `${DEFAULT_PROMPT}\n\n${DATA_RULES}`,
    // Parts are copied: the abandoned assembly may still append to the gathering.
    parts: compose(docs, true, { ...g, parts: [...g.parts], unavailable: [...g.unavailable] }, input.job),
    notes: dedupe(notes),
    knowledge: { files: docs.length, fallbacks },
  };
}

function compose(docs: readonly KnowledgeDoc[], summary: boolean, g: AttachmentGathering, job: BuildContextInput['job']): ContextPart[] {
  const parts: ContextPart[] = [];
  if (docs.length > 0) {
    const body = docs.map((d) => wrap('document', { path: d.path, title: d.title, ...(d.truncated ? { excerpt: 'true' } : {}) }, d.text)).join('\n');
    parts.push({ text: wrapTrusted('knowledge', summary ? { summary: 'true' } : {}, body) });
  }
  parts.push(...g.parts);
  if (g.unavailable.length > 0) {
    parts.push({ text: wrap('unavailable-attachments', {}, g.unavailable.map((u) => `- ${u.name}: ${u.reason}`).join('\n')) });
  }
  parts.push({ text: wrap('email', { from: job.from, subject: job.subject }, job.text || '(no text)') });
  return parts;
}

function opening(text: string): string {
  const trimmed = text.trim();
  return trimmed.length <= SUMMARY_CHARS_PER_DOC ? trimmed : `${trimmed.slice(0, SUMMARY_CHARS_PER_DOC)}…`;
}

function dedupe(items: readonly string[]): string[] {
  return [...new Set(items)];
}
