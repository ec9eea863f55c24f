import { performance } from 'node:perf_hooks';
import { Deadline } from '../src/resilience/deadline.ts';
const keep = setInterval(() => {}, 1000);
function* expiries(count: number) { let x = 0x2545f491; for (let i = 0; i < count; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; yield 200 + ((x >>> 0) % 801); } }
async function scenario(kind: string) {
  using job = Deadline.after(60_000);
  const late: number[] = []; const ps: Promise<void>[] = [];
  const t0 = performance.now();
  for (const ms of expiries(10000)) {
    const created = performance.now();
    const c = kind === 'child' ? job.child('op', ms) : Deadline.after(ms);
    ps.push(new Promise((r) => c.signal.addEventListener('abort', () => { late.push(performance.now() - created - ms); r(); }, { once: true })));
  }
  const loop = performance.now() - t0;
  await Promise.all(ps);
  late.sort((a, b) => a - b);
  console.log(kind, 'loop', loop.toFixed(1), 'p50', late[5000]!.toFixed(2), 'p95', late[9500]!.toFixed(2), 'p99', late[9900]!.toFixed(2), 'max', late[9999]!.toFixed(2));
}
for (const k of process.argv.slice(2)) await scenario(k);
clearInterval(keep);
