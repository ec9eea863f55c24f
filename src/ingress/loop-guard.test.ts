import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loopGuard, LoopReasons } from './loop-guard.ts';
import { mailHeaders } from './mail-headers.ts';

interface Fixture {
  description: string;
  from: string;
  subject: string;
  headers: Array<[string, string]>;
  expect: { ignore: boolean; reasons: string[] };
}

const dir = join(import.meta.dirname, 'fixtures', 'loop-guard');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ name: f, ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture) }));
const own = { ownAddresses: ['worker@mg.example.com', 'ask@mg.example.com'], ownDomains: ['mg.example.com'] };

for (const fx of fixtures) {
  test(`loop guard: ${fx.name} — ${fx.description}`, () => {
    const verdict = loopGuard({ headers: mailHeaders(fx.headers), from: fx.from, subject: fx.subject, ...own });
    assert.equal(verdict.ignore, fx.expect.ignore);
    assert.deepEqual([...verdict.reasons].sort(), [...fx.expect.reasons].sort());
  });
}

test('the fixture corpus exercises every loop-guard rule and has human mail that passes', () => {
  const covered = new Set(fixtures.flatMap((f) => f.expect.reasons));
  for (const reason of Object.values(LoopReasons)) assert.ok(covered.has(reason), `no fixture for ${reason}`);
  assert.ok(fixtures.filter((f) => !f.expect.ignore).length >= 5);
});

test('X-Auto-Response-Suppress passes with None and OOF but is caught with DR, AutoReply or All in any case', () => {
  const check = (value: string) => loopGuard({ headers: mailHeaders([['X-Auto-Response-Suppress', value]]), from: 'a@example.com', subject: 'Hi', ...own }).ignore;
  assert.equal(check('None'), false);
  assert.equal(check('OOF'), false);
  assert.equal(check('dr'), true);
  assert.equal(check('RN, autoreply'), true);
  assert.equal(check('ALL'), true);
});

test('system senders are caught with plus tags and separators, ordinary names containing the words are not', () => {
  const sender = (from: string) => loopGuard({ headers: mailHeaders([]), from, subject: 'Hi', ...own }).reasons.includes(LoopReasons.SYSTEM_SENDER);
  for (const from of ['noreply@x.example', 'No-Reply+abc@x.example', 'do_not_reply@x.example', 'donotreply@x.example', 'Mailer-Daemon@x.example', 'postmaster@x.example', 'no-reply-alerts@x.example']) {
    assert.equal(sender(from), true, from);
  }
  for (const from of ['norma@x.example', 'replyguy@x.example', 'post.master.fan@x.example']) {
    assert.equal(sender(from), false, from);
  }
});

test('an empty Return-Path is caught in its common spellings, a real one passes', () => {
  const rp = (value: string) => loopGuard({ headers: mailHeaders([['Return-Path', value]]), from: 'a@example.com', subject: 'Hi', ...own }).ignore;
  assert.equal(rp('<>'), true);
  assert.equal(rp(' < > '), true);
  assert.equal(rp(''), true);
  assert.equal(rp('<a@example.com>'), false);
});

test('the guard is pure: the same input gives the same verdict and the input is not changed', () => {
  const pairs: Array<[string, string]> = [['Auto-Submitted', 'auto-replied']];
  const input = { headers: mailHeaders(pairs), from: 'a@example.com', subject: 'Out of office', ...own };
  assert.deepEqual(loopGuard(input), loopGuard(input));
  assert.deepEqual(pairs, [['Auto-Submitted', 'auto-replied']]);
});
