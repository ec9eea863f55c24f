#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript run by Node 24's type stripping. When started by a
// system Node that cannot strip types (e.g. Node 20 through `npx`), re-exec with the project's
// Node 24 (the `node` devDependency, or the image's node in production).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import(join(root, 'src/cli/main.ts'));
} else {
  const local = join(root, 'node_modules/node/bin/node');
  if (!existsSync(local)) {
    console.error(`email-worker needs Node >= 24 (this is ${process.version}); run 'npm ci' to get the project's Node 24.`);
    process.exit(1);
  }
  const r = spawnSync(local, [join(root, 'bin/email-worker.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
