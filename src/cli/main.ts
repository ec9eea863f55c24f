/**
 * `email-worker` command line: one sub-command per file in this folder.
 * Each sub-command module exports `run(argv: string[]): Promise<number>` (the exit code).
 */
const COMMANDS: Record<string, { load: () => Promise<{ run: (argv: string[]) => Promise<number> }>; summary: string }> = {
  explain: { load: () => import('./explain.ts'), summary: 'print the effective timeout matrix, tiers, levels and the deadline chain' },
  publish: { load: () => import('./publish.ts'), summary: 'publish a job to the Pub/Sub topic' },
  send: { load: () => import('./send.ts'), summary: 'post an email to a running worker as a signed Mailgun route would' },
  serve: { load: () => import('./serve.ts'), summary: 'run the worker (HTTP server + pull or push delivery)' },
  dlq: { load: () => import('./dlq.ts'), summary: 'list or replay dead-lettered jobs' },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: email-worker <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'email-worker <command> --help' for a command's options.`;
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h') {
  console.log(usage());
  process.exitCode = name ? 0 : 2;
} else if (!Object.hasOwn(COMMANDS, name)) {
  console.error(`email-worker: unknown command '${name}'\n\n${usage()}`);
  process.exitCode = 2;
} else {
  const command = await COMMANDS[name]!.load();
  process.exitCode = await command.run(rest);
}
