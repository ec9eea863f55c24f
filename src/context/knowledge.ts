/**
 * The knowledge base: an optional folder of Markdown (KNOWLEDGE_DIR), loaded under the seed-004
 * levels (SPEC §2.3):
 *
 * | level | what                               | on timeout                                  |
 * |-------|------------------------------------|---------------------------------------------|
 * | T1    | in-memory index lookup             | skip the cache, load from disk              |
 * | T2    | one file                           | the file is left out (no text to fall back to) |
 * | T3    | one folder                         | partial: the files read so far              |
 * | T4    | the whole base                     | core documents only                         |
 *
 * **Core documents** are the Markdown files in the top folder, plus any file whose name starts
 * with `core` or `README` (any case) in a subfolder. The top folder is read first, so a T4
 * fallback nearly always has them.
 *
 * Folders are walked breadth-first, names in sorted order; hidden entries, symlinks and anything
 * but regular `.md`/`.markdown` files are ignored, and `prompt.md` at the top is the system prompt,
 * not a document. All timeouts are aggressive (withTimeout): the fallback is used at once and the
 * abandoned work stops at its next check of the aborted signal.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { withTimeout } from '../timeouts/with-timeout.ts';
import { levelOptions, type LevelCallOptions } from './level-options.ts';
import { PROMPT_FILE } from './prompt.ts';
import { progressText, readBounded } from './read-text.ts';

export interface KnowledgeDoc {
  /** Path relative to the knowledge folder, with `/` separators. */
  path: string;
  /** First Markdown heading, else the file name. */
  title: string;
  text: string;
  core: boolean;
  /** Only the first `maxFileBytes` were read (or the text was cut to fit a budget). */
  truncated: boolean;
}

export interface KnowledgeBase {
  docs: KnowledgeDoc[];
  /** Every folder and file was read (no fallback, no limit hit). Only complete bases are cached. */
  complete: boolean;
  /** One line per fallback taken, e.g. `T3 folder guides: partial (2 files)`. */
  fallbacks: string[];
  /** Served from the in-memory cache. */
  cached?: boolean;
}

export interface KnowledgeOptions extends LevelCallOptions {
  /** Bytes read per file; the rest is left out and the document marked truncated. @defaultValue 256 KiB */
  maxFileBytes?: number;
  /** Files read in total. @defaultValue 500 */
  maxFiles?: number;
  /** Subfolder levels below the top folder. @defaultValue 4 */
  maxDepth?: number;
  /** Documents are appended here as they are read: progress, and the source of the T3/T4 fallbacks. */
  sink?: KnowledgeDoc[];
  /** Fallback lines are appended here too. */
  fallbacks?: string[];
}

export interface CachedKnowledgeOptions extends KnowledgeOptions {
  /** How long a complete base is reused. @defaultValue 60 000 (one minute) */
  cacheTtlMs?: number;
}

const DEFAULTS = { maxFileBytes: 256 * 1024, maxFiles: 500, maxDepth: 4 };
const MARKDOWN = /\.(md|markdown)$/i;
const CORE_NAME = /^(core|readme)/i;

export function isCoreDocument(path: string): boolean {
  const slash = path.lastIndexOf('/');
  return slash < 0 || CORE_NAME.test(path.slice(slash + 1));
}

function titleOf(path: string, text: string): string {
  const heading = /^#{1,6}[ \t]+(.+?)[ \t#]*$/m.exec(text)?.[1];
  return (heading ?? path.slice(path.lastIndexOf('/') + 1).replace(MARKDOWN, '')).slice(0, 200);
}

/** Reads one knowledge file under T2. `undefined` when it could not be read in time (or at all). */
export function readKnowledgeFile(root: string, path: string, options: KnowledgeOptions = {}): Promise<KnowledgeDoc | undefined> {
  const fallbacks = options.fallbacks ?? [];
  return withTimeout(
    'T2',
    'knowledge.file',
    async (signal) => {
      try {
        const progress = await readBounded(join(root, path), options.maxFileBytes ?? DEFAULTS.maxFileBytes, signal);
        const text = progressText(progress);
        return { path, title: titleOf(path, text), text, core: isCoreDocument(path), truncated: progress.truncated };
      } catch (error) {
        if (!signal.aborted) options.logger?.warn('Knowledge file could not be read; leaving it out', { path, err: error });
        return undefined;
      }
    },
    () => {
      fallbacks.push(`T2 ${path}: left out`);
      return undefined;
    },
    levelOptions(options),
  );
}

interface WalkState {
  files: number;
  limited: boolean;
}

export interface FolderResult {
  /** All files of the folder were read. */
  complete: boolean;
  /** Subfolders found (all of them, or those listed before a timeout). */
  subfolders: string[];
}

/**
 * Reads the Markdown files of one folder (`path` relative to `root`, '' for the top) under T3,
 * appending each document to `options.sink`. On timeout the folder is partial: the documents
 * already in the sink stay, the rest are left out.
 */
export function loadFolder(root: string, path: string, options: KnowledgeOptions & { state?: WalkState } = {}): Promise<FolderResult> {
  const sink = options.sink ?? [];
  const fallbacks = options.fallbacks ?? [];
  const state = options.state ?? { files: 0, limited: false };
  const depth = path === '' ? 0 : path.split('/').length;
  const subfolders: string[] = [];
  let read = 0;
  return withTimeout(
    'T3',
    'knowledge.folder',
    async (signal) => {
      let entries;
      try {
        entries = (await readdir(join(root, path), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      } catch (error) {
        // A missing or unreadable folder costs the documents in it, never the job.
        if (!signal.aborted) options.logger?.warn('Knowledge folder could not be listed; leaving it out', { path: path || '.', err: error });
        return { complete: false, subfolders };
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const rel = path ? `${path}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (depth < (options.maxDepth ?? DEFAULTS.maxDepth)) subfolders.push(rel);
          continue;
        }
        if (!entry.isFile() || !MARKDOWN.test(entry.name) || (path === '' && entry.name === PROMPT_FILE)) continue;
        if (state.files >= (options.maxFiles ?? DEFAULTS.maxFiles)) {
          state.limited = true;
          break;
        }
        state.files++;
        const doc = await readKnowledgeFile(root, rel, { ...options, signal, fallbacks });
        if (signal.aborted) break;
        if (doc) {
          sink.push(doc);
          read++;
        }
      }
      options.logger?.debug('Knowledge folder read', { path: path || '.', files: read, subfolders: subfolders.length });
      return { complete: true, subfolders };
    },
    () => {
      fallbacks.push(`T3 folder ${path || '.'}: partial (${read} file${read === 1 ? '' : 's'})`);
      return { complete: false, subfolders: [...subfolders] };
    },
    levelOptions(options),
  );
}

/**
 * Reads the whole knowledge base under T4, top folder first, then subfolders breadth-first.
 * On timeout: the core documents read so far.
 */
export function loadKnowledgeBase(root: string, options: KnowledgeOptions = {}): Promise<KnowledgeBase> {
  const sink = options.sink ?? [];
  const fallbacks = options.fallbacks ?? [];
  const state: WalkState = { files: 0, limited: false };
  return withTimeout(
    'T4',
    'knowledge.load',
    async (signal) => {
      const queue = [''];
      let complete = true;
      while (queue.length > 0 && !signal.aborted) {
        const folder = await loadFolder(root, queue.shift()!, { ...options, signal, sink, fallbacks, state });
        complete &&= folder.complete;
        queue.push(...folder.subfolders);
      }
      if (state.limited) options.logger?.warn('Knowledge base has more files than are read; the rest are left out', { maxFiles: options.maxFiles ?? DEFAULTS.maxFiles });
      return { docs: [...sink], complete: complete && !state.limited, fallbacks };
    },
    () => {
      const core = sink.filter((d) => d.core);
      fallbacks.push(`T4 knowledge base: core documents only (${core.length} of ${sink.length} read)`);
      return { docs: core, complete: false, fallbacks };
    },
    levelOptions(options),
  );
}

// One entry per knowledge folder; the process serves one KNOWLEDGE_DIR, so this stays tiny.
const cache = new Map<string, { at: number; base: KnowledgeBase }>();

/** Forgets cached knowledge bases (tests, or after the folder changed). */
export function clearKnowledgeCache(): void {
  cache.clear();
}

/**
 * The knowledge base for a job: the cached index when fresh (looked up under T1; on timeout the
 * cache is skipped), else {@link loadKnowledgeBase}. Only a complete load is cached, so a base
 * cut short by a fallback is tried again by the next job.
 */
export async function loadKnowledge(root: string, options: CachedKnowledgeOptions = {}): Promise<KnowledgeBase> {
  const key = resolve(root);
  const ttl = options.cacheTtlMs ?? 60_000;
  const fallbacks = options.fallbacks ?? [];
  const hit = await withTimeout(
    'T1',
    'knowledge.cache',
    async () => {
      const entry = cache.get(key);
      return entry && Date.now() - entry.at < ttl ? entry.base : undefined;
    },
    () => {
      fallbacks.push('T1 knowledge cache: skipped');
      return undefined;
    },
    levelOptions(options),
  );
  if (hit) {
    options.sink?.push(...hit.docs);
    return { docs: hit.docs, complete: true, fallbacks, cached: true };
  }
  const base = await loadKnowledgeBase(root, { ...options, fallbacks });
  if (base.complete) cache.set(key, { at: Date.now(), base: { ...base, fallbacks: [] } });
  return base;
}
