/**
 * Keeps only the last `limit` bytes of a stream (a child's stderr, a Worker's console): enough
 * for an error report, bounded however much the process writes.
 */
export class TailBuffer {
  readonly limit: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #dropped = 0;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit <= 0) throw new TypeError(`Expected \`limit\` to be a positive integer, got ${limit}.`);
    this.limit = limit;
  }

  push(chunk: Buffer | string): void {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length >= this.limit) {
      this.#dropped += this.#size + buf.length - this.limit;
      buf = Buffer.from(buf.subarray(buf.length - this.limit));
      this.#chunks = [buf];
      this.#size = buf.length;
      return;
    }
    this.#chunks.push(buf);
    this.#size += buf.length;
    while (this.#size - this.#chunks[0]!.length >= this.limit) {
      const first = this.#chunks.shift()!;
      this.#size -= first.length;
      this.#dropped += first.length;
    }
  }

  /** Bytes kept (≤ limit + one chunk before trimming; exactly ≤ limit as returned by `text()`). */
  get size(): number {
    return Math.min(this.#size, this.limit);
  }

  /** Bytes that were discarded from the front. */
  get dropped(): number {
    return this.#dropped + Math.max(0, this.#size - this.limit);
  }

  /** The kept tail as UTF-8 (a split multi-byte character at the front is replaced). */
  text(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}
