import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderReplyBody } from './reply-body.ts';
import { ErrorCodes, permanent } from '../errors.ts';

const base = { attachments: [], notes: [], exported: { files: [], failures: [] } };

describe('reply body', () => {
  it('renders the Markdown answer to HTML and keeps the text version', () => {
    const body = renderReplyBody({ ...base, answer: { text: '# Title\n\n**bold** item', complete: true } });
    assert.match(body.html, /<h1>Title<\/h1>/);
    assert.match(body.html, /<strong>bold<\/strong>/);
    assert.match(body.text, /# Title/);
    assert.doesNotMatch(body.text, /Notes:/);
  });

  it('shows raw HTML and script from the model as text, drops remote images and unsafe links', () => {
    const body = renderReplyBody({
      ...base,
      answer: { text: '<script>alert(1)</script>\n\n![x](http://evil.example/p.png) [click](javascript:alert(1))', complete: true },
    });
    assert.doesNotMatch(body.html, /<script>/);
    assert.match(body.html, /&lt;script&gt;/);
    assert.doesNotMatch(body.html, /<img/);
    assert.doesNotMatch(body.html, /javascript:/);
  });

  it('notes a partial answer, skipped attachments and failed exports in plain words', () => {
    const body = renderReplyBody({
      answer: { text: 'Half', complete: false, stoppedBy: permanent(ErrorCodes.DEADLINE_EXCEEDED, 'job deadline') },
      attachments: [{ name: 'big.pdf', ok: false, reason: 'larger than the 25 MiB limit' }],
      notes: ['File "x.bin" was not read: unsupported type.'],
      exported: { files: [], failures: [{ format: 'pdf', reason: 'Quarto failed (x), and so did the built-in engine (y)' }] },
    });
    assert.match(body.text, /incomplete/);
    assert.match(body.text, /time limit/);
    assert.match(body.text, /"big\.pdf" was skipped: larger than the 25 MiB limit/);
    assert.match(body.text, /x\.bin/);
    assert.match(body.text, /PDF export could not be produced: Quarto failed \(x\), and so did the built-in engine \(y\)/);
    assert.doesNotMatch(body.text, /EW_ERR/);
  });

  it('notes an answer the model cut at its output limit (finish reason MAX_TOKENS)', () => {
    const body = renderReplyBody({ ...base, answer: { text: 'A long answer that', complete: true, finishReason: 'MAX_TOKENS' } });
    assert.match(body.text, /Notes:\n- This answer was cut off: it reached the maximum length allowed for one answer\./);
    assert.match(body.html, /<li>This answer was cut off/);
  });

  it('notes any other abnormal finish reason, in words, and none for STOP', () => {
    const other = renderReplyBody({ ...base, answer: { text: 'x', complete: true, finishReason: 'MALFORMED_FUNCTION_CALL' } });
    assert.match(other.text, /stopped before a normal end \(reason: malformed function call\), so this answer may be incomplete/);
    const normal = renderReplyBody({ ...base, answer: { text: 'x', complete: true, finishReason: 'STOP' } });
    assert.doesNotMatch(normal.text, /Notes:/);
  });

  it('says which engine made each attached file, and why the built-in one stepped in', () => {
    const body = renderReplyBody({
      ...base,
      answer: { text: 'x', complete: true },
      exported: {
        files: [
          { filename: 'answer.html', engine: 'quarto' },
          { filename: 'answer.docx', engine: 'quarto' },
          { filename: 'answer.pdf', engine: 'builtin', fallbackFrom: { reason: 'the conversion took longer than 10 min and was stopped' } },
        ],
        failures: [],
      },
    });
    assert.match(body.text, /- answer\.html, answer\.docx were made by Quarto\./);
    assert.match(body.text, /- answer\.pdf was made by the built-in converter instead of Quarto \(the conversion took longer than 10 min and was stopped\)\./);
  });

  it('labels stand-in answers', () => {
    const body = renderReplyBody({ ...base, answer: { text: 'a', complete: true }, standIn: true });
    assert.match(body.text, /stand-in/);
    assert.match(body.html, /stand-in/);
  });
});
