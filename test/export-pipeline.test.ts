/**
 * Issue 10 end to end: the real worker on the Pub/Sub emulator, the Gemini stand-in (real SSE) and
 * the Mailgun stand-in. A failing Quarto (fake script) costs the sender no format; an answer the
 * model cut at GEMINI_MAX_OUTPUT_TOKENS arrives with a note.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pdfText } from '../src/export/fixtures/pdf-text.ts';
import { sampleJob, startStack, type Stack } from './helpers/stack.ts';

const finished = (e: Record<string, unknown>) => e.message === 'Job finished: reply sent';

describe('pipeline: exports and cut answers', () => {
  let stack: Stack | undefined;
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ew-export-pipeline-'));
  });
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('a failing Quarto still yields every format, made by the built-in engine, and the reply says so', async () => {
    const quarto = join(root, 'quarto');
    await copyFile(new URL('../src/export/fixtures/quarto-fail', import.meta.url), quarto);
    await chmod(quarto, 0o755);
    // 0.05: the export gets 30 s per render, enough for a cold pandoc-wasm + Typst.
    stack = await startStack({ env: { TIMEOUT_SCALE: '0.05', QUARTO_PATH: quarto } });
    await stack.publish(sampleJob({ subject: 'Fallback please', export: { formats: ['pdf', 'html'] } }));
    await stack.waitForLog(finished, 120_000);

    const reply = stack.mailgun.messages[0]!;
    assert.deepEqual(reply.attachments.map((a) => a.filename).sort(), ['answer.html', 'answer.pdf']);
    const pdf = reply.attachments.find((a) => a.filename === 'answer.pdf')!;
    assert.match(await pdfText(pdf.data), /Re: Fallback please[\s\S]*Gemini stand-in/);
    const text = String(reply.fields.text);
    assert.match(text, /answer\.pdf was made by the built-in converter instead of Quarto \(Quarto could not convert the answer\)\./);
    assert.match(text, /answer\.html was made by the built-in converter instead of Quarto/);
    assert.doesNotMatch(text, /could not be produced/);

    const metrics = await stack.app.metrics.registry.metrics();
    assert.match(metrics, /export_renders_total\{format="pdf",engine="quarto",outcome="failed",fallback="false"\} 1/);
    assert.match(metrics, /export_renders_total\{format="pdf",engine="builtin",outcome="ok",fallback="true"\} 1/);
    assert.ok(stack.logs.some((e) => e.message === 'Quarto failed; falling back to the built-in engine' && e.format === 'pdf'));
  });

  it('an answer cut at GEMINI_MAX_OUTPUT_TOKENS is sent with a note saying it was cut', async () => {
    stack = await startStack({ env: { GEMINI_MAX_OUTPUT_TOKENS: '40' } });
    await stack.publish(sampleJob({ subject: 'Tell me everything' }));
    const done = await stack.waitForLog(finished);
    assert.equal(done.complete, true);
    const body = stack.gemini.requests.at(-1)!.body as { generationConfig?: { maxOutputTokens?: number } };
    assert.equal(body.generationConfig?.maxOutputTokens, 40);
    const text = String(stack.mailgun.messages[0]!.fields.text);
    assert.match(text, /This answer was cut off: it reached the maximum length allowed for one answer\./);
    assert.ok(stack.logs.some((e) => e.message === 'Answer was cut by the model; the reply says so' && e.finishReason === 'MAX_TOKENS'));
  });
});
