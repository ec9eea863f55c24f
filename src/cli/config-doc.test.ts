import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { CONFIG_CATALOGUE } from '../config-catalogue.ts';
import { CONFIGURATION_DOC, renderConfigurationDoc } from './config-doc.ts';
import { renderVariables, run } from './explain.ts';

describe('docs/configuration.md', () => {
  it('is what `npm run docs:config` generates now (fails when stale)', async () => {
    const actual = await readFile(CONFIGURATION_DOC, 'utf8');
    assert.ok(actual === (await renderConfigurationDoc()), 'docs/configuration.md is stale: run `npm run docs:config` and commit it');
  });

  it('documents every catalogued variable, as `explain --variables` lists them', async () => {
    const doc = await renderConfigurationDoc();
    const listing = renderVariables();
    for (const v of CONFIG_CATALOGUE) {
      assert.ok(doc.includes(`| \`${v.name}\``), `${v.name} missing from the doc`);
      assert.match(listing, new RegExp(`^${v.name}\\s`, 'm'), `${v.name} missing from explain --variables`);
    }
  });

  it('is what `email-worker explain --variables --json` prints: the catalogue itself', async () => {
    let out = '';
    const code = await run(['--variables', '--json'], { env: {}, stdout: { write: (t: string) => (out += t) } });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), JSON.parse(JSON.stringify(CONFIG_CATALOGUE)));
  });
});
