/**
 * Loads something once, on first use: `const client = lazy(() => import('x').then(…))`. A failed
 * load is not cached, so the next job tries again rather than inheriting one bad start.
 */
export function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    }));
}
