import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyTypstBody } from './typst-guard.ts';

describe('verifyTypstBody', () => {
  it('accepts what the typst writer makes of ordinary Markdown', () => {
    const body = [
      '= Hello #emph[world]',
      'Some #strong[bold], #link("https://example.com/a?b=1")[a link], `code` and $x^2 + sqrt(y)$.',
      '#figure(',
      '  align(center)[#table(',
      '    columns: (50%, 50%),',
      '    align: (auto,auto,),',
      '    table.header([a], [b],),',
      '    table.hline(),',
      '    [1], [two],',
      '  )]',
      '  , kind: table',
      '  )',
      '#block[',
      '#set enum(numbering: "1.", start: 3)',
      '+ x',
      ']',
      '```python',
      '#read("/etc/passwd") inside raw text is only text',
      '```',
      'Text \\# with \\@ref and \\$dollar. #quote(block: true)[q] Note#footnote[n.] #strike[s] H#sub[2]O #horizontalrule',
      '#raw("a ` b")',
    ].join('\n');
    assert.deepEqual(verifyTypstBody(body), []);
  });

  for (const [name, source] of [
    ['#read with a path', 'Hello #read("/etc/passwd")'],
    ['#include', '#include "/etc/hostname"'],
    ['#image with a path', '#image("/etc/passwd")'],
    ['#import of a package', '#import "@preview/cetz:0.2.2": canvas'],
    ['a code block', '#{ read("/etc/passwd") }'],
    ['a parenthesised expression', '#(read("x"))'],
    ['#let', '#let x = 1'],
    ['#show', '#show: it => it'],
    ['#set page', '#set page(paper: "a5")'],
    ['a package spec in an allowed call', '#link("@preview/cetz:0.2.2")[x]'],
    ['read inside arguments', '#link(read("/etc/passwd"))[x]'],
    ['code in math', '$ #read("/etc/passwd") $'],
    ['code inside content of an allowed call', '#emph[#read("/etc/passwd")]'],
    ['sys.inputs', '#sys.inputs'],
    ['an unterminated raw block hiding code', '```\n#read("x")'],
    ['code after a raw block closed by the first three of five backticks', '```\nx\n`````#read("a")```'],
    ['code behind what looks like a line comment', 'https://x.example #read("a")'],
    ['a method call after a content block', '#emph[x].func()'],
  ] as const) {
    it(`rejects ${name}`, () => {
      assert.notDeepEqual(verifyTypstBody(source), [], source);
    });
  }

  it('reads raw text as Typst does: a longer run closes at its first n backticks, the rest opens new raw', () => {
    assert.deepEqual(verifyTypstBody('```\nx\n````#read("a")`'), [], 'the fourth backtick opens inline raw');
  });

  it('does not count escaped hashes, raw text or strings as code', () => {
    assert.deepEqual(verifyTypstBody('\\#read("x") `#read("x")` ``` #import "@preview/x:1.0.0" ``` #link("https://x.example/#read")[y]'), []);
  });
});
