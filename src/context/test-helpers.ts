/** Helpers for the context tests: temp folders with real files, and a logger that keeps its lines. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import winston, { type Logger } from 'winston';

/** Creates a temp dir holding `files` (relative path → content). */
export async function makeTree(files: Record<string, string | Buffer>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ew-context-test-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

export interface CapturedLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** A real winston logger writing JSON lines into `lines`. */
export function captureLogger(): { logger: Logger; lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as CapturedLine);
      callback();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}

/** Yields to the event loop until `condition` holds (real I/O keeps running; mocked timers do not). */
export async function until(condition: () => boolean, maxTurns = 100_000): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn >= maxTurns) throw new Error('condition not reached');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
