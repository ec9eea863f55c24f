import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TailBuffer } from './tail-buffer.ts';

describe('TailBuffer', () => {
  it('keeps everything below the limit', () => {
    const t = new TailBuffer(16);
    t.push('hello ');
    t.push(Buffer.from('world'));
    assert.equal(t.text(), 'hello world');
    assert.equal(t.dropped, 0);
  });

  it('keeps only the last `limit` bytes of many chunks', () => {
    const t = new TailBuffer(10);
    for (let i = 0; i < 1000; i++) t.push(`${i % 10}`);
    assert.equal(t.text(), '0123456789');
    assert.equal(t.dropped, 990);
  });

  it('keeps the end of a chunk larger than the limit', () => {
    const t = new TailBuffer(4);
    t.push('abc');
    t.push('0123456789');
    assert.equal(t.text(), '6789');
    assert.equal(t.size, 4);
  });

  it('rejects a limit that is not a positive integer', () => {
    assert.throws(() => new TailBuffer(0), /positive integer/);
  });
});
