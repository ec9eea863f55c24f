import { performance } from 'node:perf_hooks';
import { Deadline } from '../src/resilience/deadline.ts';
const keep = setInterval(() => {}, 1000);
const job = Deadline.after(60_000);
const late: [number, number][] = [];
const t0 = performance.now();
const ps: Promise<void>[] = [];
for (let i = 0; i < 10000; i++) {
  const ms = 200 + (i * 7919) % 801;
  const created = performance.now();
  const c = job.child('op', ms);
  ps.push(new Promise((r) => c.signal.addEventListener('abort', () => { late.push([ms, performance.now() - created - ms]); r(); }, { once: true })));
}
console.log('create loop ms', (performance.now() - t0).toFixed(1));
await Promise.all(ps);
late.sort((a, b) => b[1] - a[1]);
console.log(late.slice(0, 10));
clearInterval(keep);
