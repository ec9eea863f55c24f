/**
 * Killing a whole process group. A converter (Quarto → Deno → Pandoc → Typst/LaTeX) is a tree of
 * processes; killing only the one we spawned leaves the rest running. The child is spawned with
 * `detached: true`, so it leads its own group (pgid = its pid) and its descendants inherit it.
 */
import { readdir, readFile } from 'node:fs/promises';

/**
 * True while any process of the group is running. A zombie does not count: it has exited and
 * holds nothing but its pid until an ancestor (often the container's PID 1, sometimes lazily)
 * reaps it, while `kill(-pgid, 0)` keeps succeeding. Where `/proc` exists, members are looked up
 * there; elsewhere any member counts as running.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    // EPERM: it exists but is not ours to signal — still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const members = await procMembers((stat) => stat.pgrp === pgid);
  return members === undefined || members.some((m) => !DEAD.has(m.state));
}

/** True while the process exists and is not a zombie. */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await readStat(String(pid));
  return stat === undefined || !DEAD.has(stat.state);
}

const DEAD = new Set(['Z', 'X', 'x']);

interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
}

async function readStat(pid: string): Promise<ProcStat | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp …" — comm may contain spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid: Number(pid), state: fields[0] ?? '', pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** Processes matching `filter` from /proc, or undefined without /proc (not Linux). */
async function procMembers(filter: (stat: ProcStat) => boolean): Promise<ProcStat[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const stats = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(readStat));
  return stats.filter((s): s is ProcStat => s !== undefined && filter(s));
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

const POLL_MS = 20;

/** Resolves true once the group is gone, false if it still exists after `ms`. */
export async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (await groupAlive(pgid)) {
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
 * false if a member is still running after SIGKILL (uninterruptible sleep in the kernel).
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
