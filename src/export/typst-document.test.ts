import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Block, PandocDocument } from './pandoc-ast.ts';
import { MAX_NESTING, MAX_UNBROKEN, breakLongRuns, prepareForTypst, typstPreamble } from './typst-document.ts';
import { ZWSP } from './sanitize.ts';

const doc = (blocks: Block[]): PandocDocument => ({ 'pandoc-api-version': [1, 23, 1], meta: {}, blocks });
const depth = (blocks: Block[]): number =>
  Math.max(0, ...blocks.map((b) => (b.t === 'BulletList' ? 1 + Math.max(0, ...(b.c as Block[][]).map(depth)) : 0)));

describe('Typst document', () => {
  it('puts a zero-width space into runs longer than the limit, and nothing else changes', () => {
    const long = 'x'.repeat(MAX_UNBROKEN * 2 + 5);
    const broken = breakLongRuns(`short words ${long}`);
    assert.equal(broken.replaceAll(ZWSP, ''), `short words ${long}`);
    assert.equal(broken.split(ZWSP).length, 3);
    assert.equal(breakLongRuns('a b c'), 'a b c');
  });

  it('splits a long word into several Str nodes (the typst writer is quadratic in one Str)', () => {
    const prepared = prepareForTypst(doc([{ t: 'Para', c: [{ t: 'Str', c: 'y'.repeat(MAX_UNBROKEN * 3) }] }]));
    const inlines = prepared.blocks[0]!.c as Array<{ t: string; c: string }>;
    assert.equal(inlines.length, 3);
    assert.ok(inlines.every((i) => i.t === 'Str' && i.c.replace(ZWSP, '').length === MAX_UNBROKEN));
  });

  it('turns in-document links (no label to point at) into their text and keeps web links', () => {
    const prepared = prepareForTypst(
      doc([
        {
          t: 'Para',
          c: [
            { t: 'Link', c: [['', [], []], [{ t: 'Str', c: 'inside' }], ['#section', '']] },
            { t: 'Link', c: [['', [], []], [{ t: 'Str', c: 'web' }], ['https://example.com', '']] },
          ],
        },
      ]),
    );
    assert.deepEqual(
      (prepared.blocks[0]!.c as Array<{ t: string }>).map((i) => i.t),
      ['Str', 'Link'],
    );
  });

  it(`flattens lists nested deeper than ${MAX_NESTING} levels, keeping every item`, () => {
    let blocks: Block[] = [{ t: 'Plain', c: [{ t: 'Str', c: 'deepest' }] }];
    for (let i = 0; i < 40; i++) blocks = [{ t: 'BulletList', c: [[{ t: 'Plain', c: [{ t: 'Str', c: `level${i}` }] }, ...blocks]] }];
    const prepared = prepareForTypst(doc(blocks));
    assert.equal(depth(prepared.blocks), MAX_NESTING);
    const text = JSON.stringify(prepared.blocks);
    for (const word of ['deepest', 'level0', 'level39']) assert.ok(text.includes(word), word);
  });

  it('takes the title from sys.inputs (data), never from the source', () => {
    const preamble = typstPreamble();
    assert.match(preamble, /sys\.inputs\.at\("title", default: none\)/);
    assert.match(preamble, /#set page\(paper: "a4"/);
    assert.match(typstPreamble({ paper: 'us-letter"); #read("x' }), /paper: "a4"/, 'an odd paper name falls back to a4');
  });
});
