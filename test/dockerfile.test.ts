/**
 * The Dockerfile's properties, read from the file (Docker does not run here): multi-stage Node 24
 * slim, checksum-verified Quarto, non-root, tini, the production command, a warmed compile cache,
 * and a build context that holds everything the image runs.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { LAZY_MODULES } from '../src/cli/warm-compile-cache.ts';
import { loadTerraform } from './helpers/terraform.ts';

const ROOT = join(import.meta.dirname, '..');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions per stage, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!current && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    current += (current ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      logical.push(current);
      current = '';
    }
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(l)!;
    if (op!.toUpperCase() === 'FROM') {
      const [from, , name] = args!.split(/\s+/);
      stages.push({ from: from!, ...(name ? { name } : {}), instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ op: op!.toUpperCase(), args: args! });
    }
  }
  return stages;
}

let stages: Stage[];
let final: Stage;
let dockerignore: string[];
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);

before(async () => {
  stages = parseDockerfile(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
  final = stages.at(-1)!;
  dockerignore = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
});

describe('Dockerfile', () => {
  it('is multi-stage on Node 24 slim throughout', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages) assert.match(s.from, /^node:24(\.[\d.]+)?-[a-z]+-slim$/, s.from);
    // Dependencies come from a build stage, not from the build context.
    assert.ok(ops(final, 'COPY').some((c) => /--from=deps\s+\/app\/node_modules/.test(c.args)));
    const deps = stages.find((s) => s.name === 'deps')!;
    assert.ok(ops(deps, 'RUN').some((r) => /npm ci --omit=dev/.test(r.args)));
  });

  it('verifies the Quarto download against the release checksums and a pinnable sha256', () => {
    const quarto = stages.find((s) => s.name === 'quarto')!;
    const run = ops(quarto, 'RUN').map((r) => r.args).join(' ');
    assert.match(run, /curl -fsSLO "\$\{base\}\/\$\{file\}"/);
    assert.match(run, /https:\/\/github\.com\/quarto-dev\/quarto-cli\/releases\/download/);
    assert.match(run, /checksums\.txt" \| sha256sum -c -/);
    assert.match(run, /if \[ -n "\$\{QUARTO_SHA256\}" \]; then echo "\$\{QUARTO_SHA256\} {2}\$\{file\}" \| sha256sum -c -; fi/);
    // Verified before it is unpacked.
    assert.ok(run.indexOf('sha256sum -c') < run.indexOf('tar -xzf'));
    assert.ok(ops(quarto, 'ARG').some((a) => a.args.startsWith('QUARTO_SHA256')));
    assert.ok(ops(final, 'COPY').some((c) => /--from=quarto \/opt\/quarto/.test(c.args)), 'Quarto (with Pandoc and Typst) in the image');
    assert.ok(!ops(final, 'RUN').some((r) => /\bcurl\b/.test(r.args)), 'no download tool in the runtime stage');
  });

  it('runs as a non-root user under tini with the same command as npm start', async () => {
    const user = ops(final, 'USER').at(-1);
    assert.ok(user && !/^(root|0)(:|$)/.test(user.args), 'non-root USER');
    const userIndex = final.instructions.indexOf(user);
    assert.ok(final.instructions.findIndex((i) => i.op === 'CMD') > userIndex, 'USER before CMD');
    assert.deepEqual(JSON.parse(ops(final, 'ENTRYPOINT').at(-1)!.args), ['/usr/bin/tini', '--']);
    assert.ok(ops(final, 'RUN').some((r) => /apt-get install[^&]*\btini\b/.test(r.args)));
    const cmd = JSON.parse(ops(final, 'CMD').at(-1)!.args) as string[];
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(cmd.join(' '), pkg.scripts.start);
  });

  it('sets the production env infra/ relies on (email profile, Quarto path)', async () => {
    const env = ops(final, 'ENV').map((e) => e.args).join(' ');
    assert.match(env, /EMAIL_PROCESSING_MODE=true/);
    const tf = await loadTerraform();
    const quartoPath = (tf.locals.common_env as Record<string, string>).QUARTO_PATH!;
    assert.match(env, new RegExp(`QUARTO_PATH=${quartoPath}\\b`));
    assert.ok(ops(final, 'RUN').some((r) => r.args.includes(`ln -s /opt/quarto/bin/quarto ${quartoPath}`)));
  });

  it('warms the compile cache after the sources are in place, for every module a job loads lazily', async () => {
    const env = ops(final, 'ENV').map((e) => e.args).join(' ');
    const dir = /NODE_COMPILE_CACHE=(\S+)/.exec(env)?.[1];
    assert.ok(dir, 'NODE_COMPILE_CACHE set in the runtime stage');
    const warm = final.instructions.findIndex((i) => i.op === 'RUN' && i.args.includes('src/cli/warm-compile-cache.ts'));
    const copySrc = final.instructions.findIndex((i) => i.op === 'COPY' && /^src\s/.test(i.args));
    assert.ok(warm > copySrc && copySrc >= 0, 'warmed after COPY src');
    assert.ok(final.instructions.findIndex((i) => i.op === 'USER') > warm, 'warmed before dropping root, readable after');
    // Every module src/app.ts imports on first use is warmed.
    const app = await readFile(join(ROOT, 'src', 'app.ts'), 'utf8');
    const lazy = [...app.matchAll(/import\('\.\/([^']+)'\)/g)].map((m) => `../${m[1]}`);
    assert.ok(lazy.length >= 5, 'app.ts loads the job modules lazily');
    for (const m of lazy) assert.ok((LAZY_MODULES as readonly string[]).includes(m), `${m} is loaded lazily by app.ts but not warmed`);
  });

  it('has a build context (.dockerignore) that keeps secrets and bulk out and everything the image runs in', async () => {
    for (const pattern of ['.git', 'node_modules', '.env', 'test', 'bench']) assert.ok(dockerignore.includes(pattern), `.dockerignore lacks ${pattern}`);
    const copies = ops(final, 'COPY').filter((c) => !c.args.startsWith('--from')).flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    assert.deepEqual(copies.sort(), ['bin', 'package.json', 'src'].sort());
    // src/dev is left out of the image: nothing the image runs may import it.
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('dev/'));
    for (const f of files) {
      const text = await readFile(join(ROOT, 'src', f), 'utf8');
      assert.doesNotMatch(text, /from '(\.\.?\/)+dev\/|import\('(\.\.?\/)+dev\//, `${f} imports src/dev, which .dockerignore leaves out`);
    }
  });
});
