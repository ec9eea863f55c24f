/**
 * Killing a whole process group. A converter (Quarto → Deno → Pandoc → Typst/LaTeX) is a tree of
 * processes; killing only the one we spawned leaves the rest running. The child is spawned with
 * `detached: true`, so it leads its own group (pgid = its pid) and its descendants inherit it.
 */

/** True while any process of the group exists (a zombie counts until its parent reaps it). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours to signal — still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` to every process of the group; false if the group is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

const POLL_MS = 10;

/** Resolves true once the group is gone, false if it still exists after `ms`. */
export async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (groupAlive(pgid)) {
    if (performance.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

export interface KillGroupOptions {
  /** Time between SIGTERM and SIGKILL, for a clean exit. @defaultValue `2000` */
  graceMs?: number;
  /** How long to wait for the group to vanish after SIGKILL. @defaultValue `5000` */
  exitWaitMs?: number;
}

/**
 * SIGTERM to the group, SIGKILL after `graceMs`, then waits until no member is left. Resolves
 * false if something survived (only a zombie that nobody reaps can: run with an init as PID 1).
 */
export async function killGroup(pgid: number, options: KillGroupOptions = {}): Promise<boolean> {
  if (!signalGroup(pgid, 'SIGTERM')) return true;
  if (await waitGroupGone(pgid, options.graceMs ?? 2000)) return true;
  signalGroup(pgid, 'SIGKILL');
  return waitGroupGone(pgid, options.exitWaitMs ?? 5000);
}

// Groups still running when this process exits (crash, process.exit) are killed on the way out,
// so a converter never outlives the worker.
const live = new Set<number>();
let exitHookInstalled = false;

/** Tracks a group until `untrack`, killing it with SIGKILL if the process exits first. */
export function trackGroup(pgid: number): void {
  live.add(pgid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const g of live) signalGroup(g, 'SIGKILL');
  });
}

export function untrackGroup(pgid: number): void {
  live.delete(pgid);
}
