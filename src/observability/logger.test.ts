import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ErrorCodes, retryable } from '../errors.ts';
import { createLogger, flushLogger, traceFromHeaders, type LoggerOptions } from './logger.ts';

/** A logger writing into an array of parsed JSON lines. */
function capture(options: LoggerOptions = {}) {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const logger = createLogger({ env: {}, ...options, stream });
  return { logger, lines, raw };
}

describe('createLogger', () => {
  it('writes one Cloud Run JSON line per entry with severity, message, RFC 3339 `time` (not a string `timestamp`) and metadata', () => {
    const { logger, lines, raw } = capture();
    logger.info('Job claimed', { jobId: 'j1', attempt: 2 });
    assert.equal(raw.length, 1);
    const [line] = lines;
    assert.equal(line!.severity, 'INFO');
    assert.equal(line!.message, 'Job claimed');
    assert.equal(line!.jobId, 'j1');
    assert.equal(line!.attempt, 2);
    assert.equal(new Date(String(line!.time)).toISOString(), line!.time);
    // Cloud Logging ignores a string `timestamp` and would use the ingestion time.
    assert.equal('timestamp' in line!, false);
    assert.equal('level' in line!, false);
  });

  it('maps every level to its Cloud Logging severity, critical included', () => {
    const { logger, lines } = capture({ level: 'debug' });
    logger.debug('d');
    logger.info('i');
    logger.log('notice', 'n');
    logger.warn('w');
    logger.log('warning', 'w2');
    logger.error('e');
    logger.log('critical', 'c');
    assert.deepEqual(
      lines.map((l) => l.severity),
      ['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'WARNING', 'ERROR', 'CRITICAL'],
    );
  });

  it('drops entries below the configured level and reads LOG_LEVEL from env', () => {
    const fromOption = capture({ level: 'warning' });
    fromOption.logger.info('hidden');
    fromOption.logger.warn('shown');
    assert.deepEqual(fromOption.lines.map((l) => l.message), ['shown']);
    const fromEnv = capture({ env: { LOG_LEVEL: 'error' } });
    fromEnv.logger.warn('hidden');
    fromEnv.logger.error('shown');
    assert.deepEqual(fromEnv.lines.map((l) => l.message), ['shown']);
  });

  it('refuses an unknown level, naming it', () => {
    assert.throws(() => createLogger({ level: 'loud', env: {} }), /Unknown log level 'loud'/);
  });

  it('adds base fields to every line and child fields to the child’s lines', () => {
    const { logger, lines } = capture({ base: { service: 'email-worker' } });
    logger.child({ jobId: 'j9' }).info('from child');
    logger.info('from root');
    assert.equal(lines[0]!.service, 'email-worker');
    assert.equal(lines[0]!.jobId, 'j9');
    assert.equal(lines[1]!.service, 'email-worker');
    assert.equal('jobId' in lines[1]!, false);
  });

  it('serializes errors under err with name, message, code and retryable, without the stack at info', () => {
    const { logger, lines } = capture();
    const error = retryable(ErrorCodes.UPSTREAM_HTTP, 'gemini: HTTP 503', { status: 503 });
    logger.error('Attempt failed', { err: error });
    logger.warn('Plain error', { error: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    assert.deepEqual(lines[0]!.err, { name: 'WorkerError', code: 'EW_ERR_UPSTREAM_HTTP', retryable: true, message: 'gemini: HTTP 503', status: 503 });
    assert.deepEqual(lines[1]!.error, { name: 'Error', message: 'socket hang up', code: 'ECONNRESET' });
  });

  it('includes the stack when the logger runs at debug', () => {
    const { logger, lines } = capture({ level: 'debug' });
    logger.error('With stack', { err: new RangeError('out of range') });
    assert.match(String((lines[0]!.err as Record<string, unknown>).stack), /RangeError: out of range/);
  });

  it('files an error passed bare or as the second argument under err', () => {
    const { logger, lines } = capture();
    const error = retryable(ErrorCodes.NETWORK, 'network error ECONNRESET');
    logger.error('Upload failed', error);
    logger.error(new TypeError('bad input'));
    logger.child({ jobId: 'j2' }).error(new TypeError('through a child'));
    assert.equal(lines[0]!.message, 'Upload failed network error ECONNRESET');
    assert.deepEqual(lines[0]!.err, { name: 'WorkerError', code: 'EW_ERR_NETWORK', retryable: true, message: 'network error ECONNRESET' });
    assert.equal('code' in lines[0]!, false);
    assert.equal(lines[1]!.message, 'bad input');
    assert.deepEqual(lines[1]!.err, { name: 'TypeError', message: 'bad input' });
    assert.equal(lines[2]!.jobId, 'j2');
    assert.deepEqual(lines[2]!.err, { name: 'TypeError', message: 'through a child' });
  });

  it('redacts secrets from env, from options, in keys, messages and errors', () => {
    const { logger, raw } = capture({ env: { GEMINI_API_KEY: 'gemini-secret-value' }, secrets: ['mailgun-secret-value'] });
    logger.error('calling with gemini-secret-value', {
      apiKey: 'anything',
      headers: { authorization: 'Basic YXBpOmtleQ==' },
      url: 'https://x.test/v1?key=AIzaSomething',
      err: new Error('rejected mailgun-secret-value'),
    });
    const line = raw[0]!;
    for (const secret of ['gemini-secret-value', 'mailgun-secret-value', 'anything', 'YXBpOmtleQ==', 'AIzaSomething']) {
      assert.equal(line.includes(secret), false, `${secret} leaked: ${line}`);
    }
    assert.match(line, /\[REDACTED\]/);
  });

  it('writes the trace fields of a child’s trace metadata', () => {
    const { logger, lines } = capture({ projectId: 'my-project' });
    const trace = traceFromHeaders({ 'x-cloud-trace-context': '105445aa7843bc8bf206b12000100000/123;o=1' });
    logger.child({ jobId: 'j1', trace }).info('traced');
    const line = lines[0]!;
    assert.equal(line['logging.googleapis.com/trace'], 'projects/my-project/traces/105445aa7843bc8bf206b12000100000');
    assert.equal(line['logging.googleapis.com/spanId'], '000000000000007b');
    assert.equal(line['logging.googleapis.com/trace_sampled'], true);
    assert.equal('trace' in line, false);
  });

  it('takes the project for trace names from GOOGLE_CLOUD_PROJECT, and keeps a bare id without one', () => {
    const withProject = capture({ env: { GOOGLE_CLOUD_PROJECT: 'env-project' } });
    withProject.logger.info('x', { trace: '4bf92f3577b34da6a3ce929d0e0e4736' });
    assert.equal(withProject.lines[0]!['logging.googleapis.com/trace'], 'projects/env-project/traces/4bf92f3577b34da6a3ce929d0e0e4736');
    const without = capture();
    without.logger.info('x', { trace: '4bf92f3577b34da6a3ce929d0e0e4736' });
    assert.equal(without.lines[0]!.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal('logging.googleapis.com/trace' in without.lines[0]!, false);
  });
});

describe('traceFromHeaders', () => {
  it('reads X-Cloud-Trace-Context, converting the decimal span id to 16 hex digits', () => {
    assert.deepEqual(traceFromHeaders({ 'X-Cloud-Trace-Context': '105445AA7843BC8BF206B12000100000/18446744073709551615;o=0' }, 'p'), {
      traceId: '105445aa7843bc8bf206b12000100000',
      spanId: 'ffffffffffffffff',
      sampled: false,
      resource: 'projects/p/traces/105445aa7843bc8bf206b12000100000',
    });
  });

  it('reads a W3C traceparent, from a Headers object too', () => {
    const headers = new Headers({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    assert.deepEqual(traceFromHeaders(headers), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true });
  });

  it('returns undefined for missing or malformed headers', () => {
    assert.equal(traceFromHeaders(undefined), undefined);
    assert.equal(traceFromHeaders({}), undefined);
    assert.equal(traceFromHeaders({ 'x-cloud-trace-context': 'not-a-trace' }), undefined);
    assert.equal(traceFromHeaders({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }), undefined);
    assert.equal(traceFromHeaders({ traceparent: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }), undefined);
  });
});

describe('flushLogger', () => {
  it('resolves only after every line reached a slow stream, and ends the logger', async () => {
    const written: string[] = [];
    const stream = new Writable({
      highWaterMark: 1,
      write(chunk, _encoding, callback) {
        setTimeout(() => {
          written.push(String(chunk));
          callback();
        }, 5);
      },
    });
    const logger = createLogger({ env: {}, stream });
    for (let i = 0; i < 5; i++) logger.info(`line ${i}`);
    assert.ok(written.length < 5);
    await flushLogger(logger);
    assert.equal(written.length, 5);
    logger.info('after the flush');
    assert.equal(written.length, 5, 'nothing is written after the flush');
    // Idempotent: a second flush (e.g. SIGTERM after a fatal error) resolves at once.
    await flushLogger(logger);
  });
});
