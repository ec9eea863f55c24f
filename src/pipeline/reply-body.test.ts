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
      exported: { files: [], failures: [{ format: 'pdf', reason: 'PDF needs Quarto' }] },
    });
    assert.match(body.text, /incomplete/);
    assert.match(body.text, /time limit/);
    assert.match(body.text, /"big\.pdf" was skipped: larger than the 25 MiB limit/);
    assert.match(body.text, /x\.bin/);
    assert.match(body.text, /PDF export could not be produced: PDF needs Quarto/);
    assert.doesNotMatch(body.text, /EW_ERR/);
  });

  it('labels stand-in answers', () => {
    const body = renderReplyBody({ ...base, answer: { text: 'a', complete: true }, standIn: true });
    assert.match(body.text, /stand-in/);
    assert.match(body.html, /stand-in/);
  });
});
