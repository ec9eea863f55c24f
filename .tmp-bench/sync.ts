import { Writable } from 'node:stream';
import { createLogger } from '../src/observability/logger.ts';
const out: string[] = [];
const stream = new Writable({ write(chunk, _e, cb) { out.push(String(chunk)); cb(); } });
const log = createLogger({ stream });
log.info('a'); console.log('sync', out.length);
await new Promise((r) => setImmediate(r)); console.log('after immediate', out.length);
