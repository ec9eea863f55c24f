import { performance } from 'node:perf_hooks';
let x = 0;
for (const [name, f] of [['Date.now', () => Date.now()], ['performance.now', () => performance.now()], ['hrtime.bigint', () => Number(process.hrtime.bigint())]] as const) {
  for (let i = 0; i < 1e5; i++) x += f();
  const s = performance.now(); for (let i = 0; i < 1e6; i++) x += f(); console.log(name, ((performance.now() - s) * 1000 / 1e6).toFixed(3), 'us');
}
console.log(x > 0);
