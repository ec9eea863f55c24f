/** The answers the export benchmark converts: a short reply and a long one (≈ 20 PDF pages). */

export const SHORT_ANSWER = [
  '# Q3 support report: what to fix first',
  '',
  'Two problems stand out in the report:',
  '',
  '1. **SSO setup** — the docs are out of date, and it is a top topic.',
  '2. **Billing exports** — the most frequent ticket subject.',
  '',
  '| Topic | Tickets | Trend |',
  '|-------|--------:|-------|',
  '| Billing exports | 412 | up |',
  '| SSO setup | 287 | up |',
  '| API rate limits | 190 | flat |',
  '',
  'Median first response was 2 h 10 min; $r = 0.8$ between volume and churn.',
  '',
].join('\n');

const paragraph =
  'The support team handled more tickets than in any quarter before, and the median first response ' +
  'stayed close to two hours. Most of the growth came from two topics that documentation and small ' +
  'product changes could address, which makes them the cheapest wins for the next quarter. ';

function section(i: number): string {
  return [
    `## ${i}. Finding ${i}`,
    '',
    paragraph.repeat(3),
    '',
    paragraph.repeat(2),
    '',
    '- First point with **emphasis** and a [link](https://example.com/docs).',
    '- Second point with `inline code` and more words to wrap the line.',
    '  - A nested point.',
    '',
    '| Metric | Q2 | Q3 | Change |',
    '|--------|---:|---:|-------:|',
    `| Tickets | ${1000 + i} | ${1100 + i} | +10 % |`,
    '| First response | 2 h 30 | 2 h 10 | −13 % |',
    '',
    '```ts',
    `export function finding${i}(tickets: number): number {`,
    '  return Math.round(tickets * 1.1);',
    '}',
    '```',
    '',
  ].join('\n');
}

/** About 20 pages of A4 in the built-in PDF: 32 sections of prose, lists, a table and code. */
export const LONG_ANSWER = `# Quarterly support review\n\n${Array.from({ length: 32 }, (_, i) => section(i + 1)).join('\n')}`;
