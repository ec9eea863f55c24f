import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isWorkerError } from '../errors.ts';
import { CappedFileWriter } from './size-limit.ts';

describe('CappedFileWriter', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'capped-writer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const chunks = (count: number, size: number) => Array.from({ length: count }, (_, i) => Buffer.alloc(size, 97 + (i % 26)));

  it('writes every chunk in order and the file is complete when the pipeline resolves', async () => {
    const path = join(dir, 'ok.bin');
    const parts = chunks(40, 50_000);
    // A small buffer, so that chunks pile up behind a write in flight and go out together.
    const writer = new CappedFileWriter(path, 10_000_000, { highWaterMark: 64 * 1024 });
    await pipeline(Readable.from(parts), writer);
    assert.equal(writer.bytes, 2_000_000);
    assert.deepEqual(await readFile(path), Buffer.concat(parts));
  });

  it('accepts exactly maxBytes', async () => {
    const path = join(dir, 'exact.bin');
    const writer = new CappedFileWriter(path, 300);
    await pipeline(Readable.from(chunks(3, 100)), writer);
    assert.equal((await stat(path)).size, 300);
  });

  it('fails with ATTACHMENT_TOO_LARGE before writing the chunk that passes the cap', async () => {
    const path = join(dir, 'big.bin');
    const writer = new CappedFileWriter(path, 250);
    await assert.rejects(pipeline(Readable.from(chunks(5, 100)), writer), (error: unknown) => {
      assert.ok(isWorkerError(error));
      assert.equal(error.code, 'EW_ERR_ATTACHMENT_TOO_LARGE');
      assert.equal(error.details.maxBytes, 250);
      return true;
    });
    assert.ok((await stat(path)).size <= 250, 'nothing past the cap reached the disk');
  });

  it('refuses to overwrite an existing file', async () => {
    const path = join(dir, 'exists.bin');
    await writeFile(path, 'keep');
    await assert.rejects(pipeline(Readable.from(chunks(1, 10)), new CappedFileWriter(path, 100)), { code: 'EEXIST' });
    assert.equal(await readFile(path, 'utf8'), 'keep');
  });
});
