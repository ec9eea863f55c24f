/**
 * Shutdown drain shared by both delivery modes: wait up to `graceMs` for the running jobs; if some
 * are still running then, call `interrupt` (which aborts them: they release their leases) and wait
 * for them to settle. Resolves true when everything finished within the grace period.
 */
export async function drainWithGrace(running: ReadonlySet<Promise<unknown>>, graceMs: number, interrupt: () => void): Promise<boolean> {
  const all = Promise.allSettled([...running]);
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  try {
    if ((await Promise.race([all.then(() => 'done' as const), grace])) === 'done') return true;
    interrupt();
    await Promise.allSettled([...running]);
    return false;
  } finally {
    clearTimeout(timer);
  }
}
