import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_CATALOGUE, operatorVariables } from './config-catalogue.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './observability/logger.ts';
import { loadTimeoutSettings } from './timeouts/settings.ts';

const ROOT = join(import.meta.dirname, '..');

/** An env that records every variable name the code asks for. */
function recordingEnv(values: NodeJS.ProcessEnv, read: Set<string>): NodeJS.ProcessEnv {
  return new Proxy(values, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return target[key as string];
    },
    has(target, key) {
      if (typeof key === 'string') read.add(key);
      return key in target;
    },
  });
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Names read as `env.NAME` / `env['NAME']` (process.env or an env parameter) anywhere in src/. */
async function staticReads(): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const pattern = /\benv\??\.([A-Z][A-Z0-9_]+)\b|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g;
  for (const file of await sourceFiles(join(ROOT, 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(pattern)) {
      const name = (m[1] ?? m[2])!;
      found.set(name, [...(found.get(name) ?? []), relative(ROOT, file)]);
    }
  }
  return found;
}

/** Names the start-up path reads at run time: config, timeout engine, logger (secrets, level, project). */
function runtimeReads(): Set<string> {
  const read = new Set<string>();
  loadConfig(recordingEnv({ GEMINI_BASE_URL: 'http://127.0.0.1:9' }, read));
  createLogger({ env: recordingEnv({}, read) });
  return read;
}

async function readByCode(): Promise<Set<string>> {
  return new Set([...runtimeReads(), ...(await staticReads()).keys()]);
}

interface EnvExampleLine {
  name: string;
  value: string;
  commented: boolean;
}

async function envExample(): Promise<{ lines: EnvExampleLine[]; text: string }> {
  const text = await readFile(join(ROOT, '.env.example'), 'utf8');
  const lines: EnvExampleLine[] = [];
  for (const raw of text.split('\n')) {
    const m = /^(# )?([A-Z][A-Z0-9_]*)=(.*)$/.exec(raw);
    if (m) lines.push({ name: m[2]!, value: m[3]!, commented: Boolean(m[1]) });
  }
  return { lines, text };
}

describe('configuration catalogue', () => {
  it('names every variable the code reads, and only those', async () => {
    const read = await readByCode();
    const catalogued = new Set(CONFIG_CATALOGUE.filter((v) => !v.family).map((v) => v.name));
    // Profile overrides are read by prefix; every one the catalogue lists must be accepted by the engine.
    const readButMissing = [...read].filter((n) => !catalogued.has(n) && !CONFIG_CATALOGUE.some((v) => v.name === n));
    assert.deepEqual(readButMissing, [], `read by the code but missing from src/config-catalogue.ts: ${readButMissing.join(', ')}`);
    const listedButUnread = [...catalogued].filter((n) => !read.has(n));
    assert.deepEqual(listedButUnread, [], `in src/config-catalogue.ts but never read by the code: ${listedButUnread.join(', ')}`);
  });

  it('lists exactly the TIMEOUT_* overrides the timeout engine accepts', () => {
    const family = CONFIG_CATALOGUE.filter((v) => v.family);
    const env = Object.fromEntries(family.map((v) => [v.name, v.default || '1']));
    const settings = loadTimeoutSettings(env);
    assert.deepEqual(settings.overrides.map((o) => o.variable).sort(), family.map((v) => v.name).sort());
    assert.throws(() => loadTimeoutSettings({ TIMEOUT_NOT_A_KEY: '1' }), /TIMEOUT_NOT_A_KEY/, 'the engine refuses a name outside the family');
  });

  it('gives defaults that are the defaults: setting one changes nothing', () => {
    const base = { GEMINI_BASE_URL: 'http://127.0.0.1:9' };
    const unset = loadConfig(base);
    for (const v of operatorVariables().filter((v) => v.default !== '' && !v.family && v.setBy !== 'dev')) {
      assert.deepEqual(loadConfig({ ...base, [v.name]: v.default }), unset, `${v.name}=${v.default} is not the default`);
    }
  });
});

describe('.env.example', () => {
  it('lists every operator variable with its catalogue default, and nothing else', async () => {
    const { lines } = await envExample();
    const active = lines.filter((l) => !l.commented);
    const expected = operatorVariables().filter((v) => !v.family);
    const names = active.map((l) => l.name);
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], 'listed twice');
    const missing = expected.filter((v) => !names.includes(v.name)).map((v) => v.name);
    assert.deepEqual(missing, [], `missing from .env.example: ${missing.join(', ')}`);
    const extra = names.filter((n) => !expected.some((v) => v.name === n));
    assert.deepEqual(extra, [], `in .env.example but not read by the code (or not in the catalogue): ${extra.join(', ')}`);
    for (const v of expected) assert.equal(active.find((l) => l.name === v.name)!.value, v.default, `${v.name}: .env.example default differs from the catalogue`);
  });

  it('shows every email/api TIMEOUT_* override with its seed value and names the ui family', async () => {
    const { lines, text } = await envExample();
    for (const v of CONFIG_CATALOGUE.filter((c) => c.family === 'TIMEOUT_<KEY>')) {
      const line = lines.find((l) => l.commented && l.name === v.name);
      assert.ok(line, `.env.example lacks "# ${v.name}=${v.default}"`);
      assert.equal(line.value, v.default, `${v.name}: .env.example shows ${line.value}, the engine's value is ${v.default}`);
    }
    assert.match(text, /TIMEOUT_UI_<KEY>/);
  });
});
