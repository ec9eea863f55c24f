import { Deadline } from '../src/resilience/deadline.ts';
import { retry } from '../src/resilience/retry.ts';
const fn = async () => 1;
const policy = { attempts: 5, minDelayMs: 5, maxDelayMs: 300 };
for (let i = 0; i < 2_000_000; i++) { using d = Deadline.after(60_000); await retry(fn, { operation: 'x', policy, deadline: d }); }
