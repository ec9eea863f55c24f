/**
 * `npm run bench [-- name…]`: runs the named benchmarks (default: all), writes each result to
 * `bench/results/<name>.json` with the machine it ran on. Summaries live in `bench/README.md`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const BENCHES: Record<string, () => Promise<{ run: () => Promise<object> }>> = {
  deadline: () => import('./deadline.ts'),
  export: () => import('./export.ts'),
  pipeline: () => import('./pipeline.ts'),
  startup: () => import('./startup.ts'),
  ingress: () => import('./ingress.ts'),
  crash: () => import('./crash.ts'),
  'emulator-streams': () => import('./emulator-streams.ts'),
};

export function machine(): Record<string, unknown> {
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

export async function writeResult(name: string, result: object): Promise<string> {
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify({ benchmark: name, machine: machine(), ...result }, null, 2) + '\n');
  return path;
}

if (import.meta.main) {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const selected = names.length ? names : Object.keys(BENCHES);
  for (const name of selected) {
    const load = BENCHES[name];
    if (!load) {
      console.error(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(', ')}`);
      process.exitCode = 2;
      continue;
    }
    console.log(`▶ ${name}`);
    const result = await (await load()).run();
    const path = await writeResult(name, result);
    console.log(JSON.stringify(result, null, 2));
    console.log(`  → ${path}`);
  }
}
