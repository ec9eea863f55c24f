import pRetry from 'p-retry';
import { performance } from 'node:perf_hooks';
import { Deadline } from '/work/main/src/resilience/deadline.ts';
import { createTimeoutController } from '/work/main/src/resilience/timeout-controller.ts';
const fn = async () => 1;
async function t(name: string, body: () => unknown, n = 300_000) {
  for (let i = 0; i < 50_000; i++) await body();
  const s = performance.now(); for (let i = 0; i < n; i++) await body(); 
  console.log(name, (((performance.now() - s) * 1000) / n).toFixed(3), 'us');
}
const shared = Deadline.after(3_600_000);
await t('bare', fn);
await t('pRetry', () => pRetry(fn, { retries: 4, minTimeout: 0 }));
await t('pRetry+signal', () => pRetry(fn, { retries: 4, minTimeout: 0, signal: shared.signal, shouldRetry: async () => true }));
await t('child(inf)', async () => { using c = shared.child('x'); return fn(); });
await t('child(30s)', async () => { using c = shared.child('x', 30_000); return fn(); });
await t('AbortController', async () => { const c = new AbortController(); return fn(); });
await t('Deadline.after', async () => { using d = Deadline.after(60_000); return fn(); });
await t('setTimeout+clear', async () => { const h = setTimeout(() => {}, 60_000); h.unref(); clearTimeout(h); return fn(); });
await t('Date.now', async () => { Date.now(); return fn(); });
const sig = new AbortController().signal;
const s = performance.now(); for (let i = 0; i < 10000; i++) sig.addEventListener('abort', () => {}); console.log('10k addEventListener', (performance.now()-s).toFixed(1), 'ms');
shared.dispose();
