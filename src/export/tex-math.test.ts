import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeTexMath } from './tex-math.ts';

describe('isSafeTexMath', () => {
  const safe = [
    'x^2 + y^2 = z^2',
    '\\frac{a}{b} + \\sqrt{2}',
    '\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}',
    '\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}',
    '\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}',
    '\\alpha \\leq \\beta, \\quad \\text{for all } x',
    '\\left( \\mathbb{R} \\right) \\, \\{ x \\} \\% ',
    '\\operatorname{argmax}_x f(x)',
  ];
  for (const tex of safe) {
    it(`keeps ordinary math: ${tex}`, () => assert.equal(isSafeTexMath(tex), true));
  }

  const unsafe: Array<[string, string]> = [
    ['\\input{/etc/passwd}', 'file input'],
    ['\\include{secret}', 'file include'],
    ['\\immediate\\write18{curl evil}', 'shell escape'],
    ['\\openin5=/etc/passwd \\read5 to \\x', 'file read'],
    ['\\catcode`\\^=0', 'catcode change'],
    ['\\csname input\\endcsname{/etc/passwd}', 'csname indirection'],
    ['^^5cinput{/etc/passwd}', 'TeX ^^ character notation'],
    ['x % \\)', 'a comment that eats the closing delimiter'],
    ['\\def\\x{y}', 'definitions'],
    ['\\begin{filecontents}{x}\\end{filecontents}', 'an environment outside the allowlist'],
    ['\\directlua{os.execute("id")}', 'Lua in LuaTeX'],
    ['\\text{\\input{x}}', 'a command nested in \\text'],
    ['{{< env GEMINI_API_KEY >}}', 'a Quarto shortcode'],
    ['\\@', 'an unknown control symbol'],
    ['a\\', 'a trailing backslash'],
  ];
  for (const [tex, what] of unsafe) {
    it(`refuses ${what}: ${tex}`, () => assert.equal(isSafeTexMath(tex), false));
  }

  it('refuses math longer than 4000 characters', () => {
    assert.equal(isSafeTexMath('x+'.repeat(2001)), false);
  });
});
