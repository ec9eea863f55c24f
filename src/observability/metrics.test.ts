import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ErrorCodes, permanent, retryable } from '../errors.ts';
import { Deadline, operationTimeout } from '../resilience/deadline.ts';
import { retry } from '../resilience/retry.ts';
import { createLogger } from './logger.ts';
import { createMetrics, DURATION_BUCKETS_MS, reasonLabel, retryObserver, type LevelMetricsSink } from './metrics.ts';

/** Value of one sample in the Prometheus text, e.g. `retries_total{operation="x",reason="y"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ env: {}, stream }), lines };
}

describe('createMetrics', () => {
  it('is a LevelMetricsSink: observe records duration and timeouts per level and operation', async () => {
    const metrics = createMetrics();
    const sink: LevelMetricsSink = metrics;
    sink.observe('T2', 'knowledge.read', 120, false);
    sink.observe('T2', 'knowledge.read', 500, true);
    metrics.observeOperation('remote', 'gemini.stream', 2500, false);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'operation_duration_ms_count{operation="knowledge.read",level="T2"}'), 2);
    assert.equal(sample(text, 'operation_duration_ms_sum{operation="knowledge.read",level="T2"}'), 620);
    assert.equal(sample(text, 'operation_duration_ms_count{operation="gemini.stream",level="remote"}'), 1);
    assert.equal(sample(text, 'timeout_violations_total{level="T2",operation="knowledge.read"}'), 1);
    assert.equal(sample(text, 'timeout_percentage{level="T2"}'), 50);
    assert.equal(sample(text, 'timeout_percentage{level="remote"}'), 0);
  });

  it('has duration buckets from 1 ms to 3,000,000 ms', async () => {
    assert.equal(DURATION_BUCKETS_MS[0], 1);
    assert.equal(DURATION_BUCKETS_MS.at(-1), 3_000_000);
    const metrics = createMetrics();
    metrics.observe('T1', 'cache.get', 0.5, false);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'operation_duration_ms_bucket{le="1",operation="cache.get",level="T1"}'), 1);
    assert.equal(sample(text, 'operation_duration_ms_bucket{le="3000000",operation="cache.get",level="T1"}'), 1);
  });

  it('computes timeout_percentage over a sliding time window that forgets old operations', async () => {
    let now = 1_000_000;
    const metrics = createMetrics({ windowMs: 10_000, bucketMs: 1000, now: () => now });
    for (let i = 0; i < 4; i++) metrics.observe('T3', 'layer.load', 2000, true);
    now += 6000;
    for (let i = 0; i < 4; i++) metrics.observe('T3', 'layer.load', 100, false);
    assert.deepEqual(metrics.windowStats('T3'), { total: 8, timedOut: 4, percentage: 50 });
    now += 5000; // the first four are now older than 10 s
    assert.deepEqual(metrics.windowStats('T3'), { total: 4, timedOut: 0, percentage: 0 });
    assert.equal(sample(await metrics.registry.metrics(), 'timeout_percentage{level="T3"}'), 0);
    now += 60_000;
    assert.deepEqual(metrics.windowStats('T3'), { total: 0, timedOut: 0, percentage: 0 });
  });

  it('reports exactly 1 for 1 timeout in 100 operations', () => {
    const metrics = createMetrics();
    for (let i = 0; i < 100; i++) metrics.observe('T1', 'cache.get', 1, i === 0);
    assert.equal(metrics.timeoutPercentage('T1'), 1);
  });

  it('counts retries, give-ups and jobs with their labels', async () => {
    const metrics = createMetrics();
    metrics.recordRetry('gemini.stream', 'EW_ERR_UPSTREAM_HTTP:503');
    metrics.recordRetry('gemini.stream', 'EW_ERR_UPSTREAM_HTTP:503');
    metrics.recordGiveUp('mailgun.send', 'EW_ERR_TIMEOUT');
    metrics.recordJob('replied', 42_000);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'retries_total{operation="gemini.stream",reason="EW_ERR_UPSTREAM_HTTP:503"}'), 2);
    assert.equal(sample(text, 'retry_give_ups_total{operation="mailgun.send",reason="EW_ERR_TIMEOUT"}'), 1);
    assert.equal(sample(text, 'jobs_total{outcome="replied"}'), 1);
    assert.equal(sample(text, 'job_duration_ms_sum{outcome="replied"}'), 42_000);
  });

  it('counts export renders by format, engine, outcome and fallback', async () => {
    const metrics = createMetrics();
    metrics.recordExport({ format: 'pdf', engine: 'quarto', outcome: 'failed', fallback: false, durationMs: 600 });
    metrics.recordExport({ format: 'pdf', engine: 'builtin', outcome: 'ok', fallback: true, durationMs: 400 });
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'export_renders_total{format="pdf",engine="quarto",outcome="failed",fallback="false"}'), 1);
    assert.equal(sample(text, 'export_renders_total{format="pdf",engine="builtin",outcome="ok",fallback="true"}'), 1);
    assert.equal(sample(text, 'export_render_duration_ms_sum{format="pdf",engine="builtin"}'), 400);
  });

  it('keeps each instance on its own registry', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.recordJob('replied', 1);
    assert.equal(sample(await b.registry.metrics(), 'jobs_total{outcome="replied"}'), undefined);
  });

  it('tells onObserve listeners about each observation until they unsubscribe', () => {
    const metrics = createMetrics();
    const seen: string[] = [];
    const unsubscribe = metrics.onObserve((o) => seen.push(`${o.level}:${o.operation}:${o.timedOut}`));
    metrics.observe('T4', 'kb.load', 10, true);
    unsubscribe();
    metrics.observe('T4', 'kb.load', 10, false);
    assert.deepEqual(seen, ['T4:kb.load:true']);
  });

  it('rejects a bucket longer than the window', () => {
    assert.throws(() => createMetrics({ windowMs: 1000, bucketMs: 5000 }), TypeError);
  });
});

describe('reasonLabel', () => {
  it('is the error code, plus the status when there was one', () => {
    assert.equal(reasonLabel(retryable(ErrorCodes.UPSTREAM_HTTP, 'x', { status: 503 })), 'EW_ERR_UPSTREAM_HTTP:503');
    assert.equal(reasonLabel(operationTimeout('gemini.stream', 'first-chunk', 10)), 'EW_ERR_TIMEOUT');
  });
});

describe('retryObserver', () => {
  it('logs each retry as a warning in the seed’s words and counts it', async () => {
    const { logger, lines } = captureLogger();
    const metrics = createMetrics();
    const observer = retryObserver(logger, metrics);
    observer.onRetry({
      operation: 'gemini.stream',
      error: retryable(ErrorCodes.UPSTREAM_HTTP, 'gemini.stream: HTTP 503', { status: 503 }),
      attemptNumber: 1,
      retriesLeft: 4,
      delayMs: 5234.4,
      delaySource: 'backoff',
      clamped: false,
    });
    assert.equal(lines[0]!.severity, 'WARNING');
    assert.equal(lines[0]!.message, 'Retrying gemini.stream after 503 in 5234ms (attempt 1 of 5)');
    assert.equal(lines[0]!.code, 'EW_ERR_UPSTREAM_HTTP');
    assert.equal(lines[0]!.attempt, 1);
    assert.equal(lines[0]!.delayMs, 5234);
    assert.equal(lines[0]!.delaySource, 'backoff');
    assert.equal(sample(await metrics.registry.metrics(), 'retries_total{operation="gemini.stream",reason="EW_ERR_UPSTREAM_HTTP:503"}'), 1);
  });

  it('logs each give-up as an error with its reason and counts it', async () => {
    const { logger, lines } = captureLogger();
    const metrics = createMetrics();
    retryObserver(logger, metrics).onGiveUp({
      operation: 'mailgun.send',
      error: permanent(ErrorCodes.UPSTREAM_HTTP, 'mailgun.send: HTTP 400', { status: 400 }),
      attemptNumber: 1,
      reason: 'permanent',
    });
    assert.equal(lines[0]!.severity, 'ERROR');
    assert.equal(lines[0]!.message, 'Giving up on mailgun.send after 1 attempt(s) (permanent): EW_ERR_UPSTREAM_HTTP: mailgun.send: HTTP 400');
    assert.equal(lines[0]!.giveUpReason, 'permanent');
    assert.equal(sample(await metrics.registry.metrics(), 'retry_give_ups_total{operation="mailgun.send",reason="EW_ERR_UPSTREAM_HTTP:400"}'), 1);
  });

  it('plugs into retry(): per-attempt timeouts are logged by phase and counted as EW_ERR_TIMEOUT', async () => {
    const { logger, lines } = captureLogger();
    const metrics = createMetrics();
    using deadline = Deadline.after(5000, { label: 'test job' });
    const result = await retry(
      async ({ attemptNumber, signal }) => {
        if (attemptNumber === 1) {
          await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        }
        return 'ok';
      },
      { operation: 'attachment.download', policy: { attempts: 3, minDelayMs: 1, maxDelayMs: 2 }, deadline, attemptTimeoutMs: 20, ...retryObserver(logger, metrics) },
    );
    assert.equal(result, 'ok');
    assert.match(String(lines[0]!.message), /^Retrying attachment\.download after attempt timeout in \d+ms \(attempt 1 of 3\)$/);
    assert.equal(sample(await metrics.registry.metrics(), 'retries_total{operation="attachment.download",reason="EW_ERR_TIMEOUT"}'), 1);
  });
});
