import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, retryable } from '../src/errors.ts';
import { Deadline } from '../src/resilience/deadline.ts';
import { retry } from '../src/resilience/retry.ts';
for (let i = 0; i < 20; i++) {
const clock = () => performance.now();
const deadline = Deadline.after(5, { now: clock });
const starts: number[] = []; const evs: unknown[] = [];
try {
await retry(async ({ attemptNumber, signal }) => { starts.push(attemptNumber); await sleep(0, undefined, { signal }); throw retryable(ErrorCodes.UPSTREAM_HTTP, 'x'); },
 { operation: 'op', deadline, policy: { attempts: 3, minDelayMs: 1, maxDelayMs: 1, factor: 1 }, attemptTimeoutMs: 1, minAttemptMs: 0,
   onRetry: (e) => evs.push(['retry', e.attemptNumber, e.delayMs, e.error.code]), onGiveUp: (e) => evs.push(['giveup', e.reason, e.attemptNumber, e.error.code]) });
} catch {}
if (evs.filter((e: any) => e[0] === 'retry').length !== starts.length - 1) console.log(starts, evs);
}
