/**
 * The fetch the genai SDK uses for one attempt: Node's fetch, remembering the response headers.
 *
 * Why: the SDK's `ApiError` keeps only the status and the body, so a `Retry-After` header would
 * be lost. The SDK accepts a per-request `httpOptions.fetch`; ours records the last response.
 *
 * When a custom fetch is given, the SDK no longer installs its own dispatcher that turns off
 * undici's default 300 s headers/body timeouts, so we do the same here: our phase timers (first
 * chunk, idle, total) are the only limits, and undici must not race them with its own.
 */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/** The part of undici's Dispatcher we use; Node's bundled undici is not the `undici` package. */
interface MinimalDispatcher {
  dispatch(options: Record<string, unknown>, handler: unknown): boolean;
}

/** Delegates to Node's global dispatcher (so proxies set there still apply), without undici timeouts. */
const noTimeoutDispatcher = {
  dispatch(options: Record<string, unknown>, handler: unknown): boolean {
    let global = (globalThis as Record<symbol, MinimalDispatcher | undefined>)[GLOBAL_DISPATCHER];
    if (!global) {
      // Node creates its global dispatcher lazily, on first use of fetch's classes.
      new Headers();
      global = (globalThis as Record<symbol, MinimalDispatcher | undefined>)[GLOBAL_DISPATCHER];
    }
    if (!global) throw new Error('undici global dispatcher is not available');
    return global.dispatch({ ...options, headersTimeout: 0, bodyTimeout: 0 }, handler);
  },
};

export interface RecordingFetch {
  /** Pass as `httpOptions.fetch`. */
  readonly fetch: typeof globalThis.fetch;
  /** Headers of the last response received, if any. */
  readonly headers: Headers | undefined;
}

export function recordingFetch(): RecordingFetch {
  let headers: Headers | undefined;
  const fetchFn: typeof globalThis.fetch = async (input, init) => {
    const response = await globalThis.fetch(input, { ...init, dispatcher: noTimeoutDispatcher } as unknown as RequestInit);
    headers = response.headers;
    return response;
  };
  return {
    fetch: fetchFn,
    get headers() {
      return headers;
    },
  };
}
