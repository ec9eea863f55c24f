import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isWorkerError } from '../errors.ts';
import { safeFileName } from './file-names.ts';
import { base64DecodedSize, formatBytes } from './size-limit.ts';
import { DEFAULT_ALLOWED_HOSTS, checkAddress, checkUrl, isHostAllowed, isMailgunOrigin, resolveAllowed } from './url-policy.ts';

describe('isHostAllowed', () => {
  it('matches exact hosts and subdomains of *.suffix entries, case-insensitively', () => {
    const allowed = ['files.example.com', '*.storage.example.net'];
    assert.equal(isHostAllowed('FILES.example.com', allowed), true);
    assert.equal(isHostAllowed('eu.storage.example.net', allowed), true);
    assert.equal(isHostAllowed('a.b.storage.example.net.', allowed), true);
    assert.equal(isHostAllowed('storage.example.net', allowed), false);
    assert.equal(isHostAllowed('evilstorage.example.net', allowed), false);
    assert.equal(isHostAllowed('files.example.com.evil.org', allowed), false);
  });

  it('allows Mailgun storage hosts by default and nothing else', () => {
    assert.equal(isHostAllowed('storage-us-east4.api.mailgun.net', DEFAULT_ALLOWED_HOSTS), true);
    assert.equal(isHostAllowed('storage-europe-west1.api.eu.mailgun.net', DEFAULT_ALLOWED_HOSTS), true);
    assert.equal(isHostAllowed('api.mailgun.net', DEFAULT_ALLOWED_HOSTS), true);
    assert.equal(isHostAllowed('example.com', DEFAULT_ALLOWED_HOSTS), false);
    assert.equal(isHostAllowed('mailgun.net.evil.org', DEFAULT_ALLOWED_HOSTS), false);
  });
});

describe('checkUrl', () => {
  const policy = { allowedHosts: ['files.example.com'], allowPrivate: false };

  it('refuses plain http unless allowPrivate is set', () => {
    assert.throws(() => checkUrl('http://files.example.com/a', policy), (e) => isWorkerError(e) && e.code === 'EW_ERR_ATTACHMENT_REFUSED' && /https only/.test(String(e.details.reason)));
    assert.equal(checkUrl('http://files.example.com/a', { ...policy, allowPrivate: true }).hostname, 'files.example.com');
  });

  it('refuses other schemes, embedded credentials and hosts outside the allowlist', () => {
    assert.throws(() => checkUrl('file:///etc/passwd', { ...policy, allowPrivate: true }), /not allowed/);
    assert.throws(() => checkUrl('https://user:pw@files.example.com/a', policy), /credentials/);
    assert.throws(() => checkUrl('https://other.example.com/a', policy), (e) => isWorkerError(e) && e.details.reason === 'host not allowed');
  });
});

describe('checkAddress', () => {
  it('allows public unicast addresses', () => {
    assert.deepEqual(checkAddress('93.184.216.34', false), { ok: true });
    assert.deepEqual(checkAddress('2606:2800:220:1:248:1893:25c8:1946', false), { ok: true });
  });

  it('refuses private, loopback, unique-local and CGNAT addresses unless allowPrivate', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      assert.equal(checkAddress(address, false).ok, false, address);
      assert.equal(checkAddress(address, true).ok, true, address);
    }
  });

  it('refuses link-local (the metadata server), unspecified and multicast addresses even with allowPrivate', () => {
    for (const address of ['169.254.169.254', 'fe80::1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '0.0.0.0', '::', '224.0.0.1', 'ff02::1']) {
      assert.equal(checkAddress(address, true).ok, false, address);
    }
    assert.match((checkAddress('169.254.169.254', true) as { reason: string }).reason, /link-local/);
  });
});

describe('resolveAllowed', () => {
  it('refuses a host when any of its addresses is internal', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ];
    await assert.rejects(resolveAllowed('mixed.example.com', false, resolve), (e) => isWorkerError(e) && e.code === 'EW_ERR_ATTACHMENT_REFUSED');
  });

  it('checks IP literals without a DNS lookup', async () => {
    const resolve = async () => assert.fail('no lookup expected');
    assert.deepEqual(await resolveAllowed('[::1]', true, resolve), [{ address: '::1', family: 6 }]);
    await assert.rejects(resolveAllowed('169.254.169.254', true, resolve), /link-local/);
  });

  it('reports an unknown host name as a permanent failure', async () => {
    const resolve = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });
    };
    await assert.rejects(resolveAllowed('nowhere.invalid', false, resolve), (e) => isWorkerError(e) && !e.retryable && e.details.reason === 'host name could not be resolved');
  });
});

describe('isMailgunOrigin', () => {
  it('accepts https Mailgun hosts and the configured API origin only', () => {
    assert.equal(isMailgunOrigin(new URL('https://storage-us-east4.api.mailgun.net/v3/x')), true);
    assert.equal(isMailgunOrigin(new URL('http://storage.mailgun.net/x')), false);
    assert.equal(isMailgunOrigin(new URL('https://mailgun.net.evil.org/x')), false);
    assert.equal(isMailgunOrigin(new URL('http://127.0.0.1:8080/x'), 'http://127.0.0.1:8080'), true);
    assert.equal(isMailgunOrigin(new URL('http://127.0.0.1:8081/x'), 'http://127.0.0.1:8080'), false);
    assert.equal(isMailgunOrigin(new URL('https://files.example.com/x'), 'https://api.mailgun.net'), false);
  });
});

describe('safeFileName', () => {
  it('keeps only the last path segment and strips dangerous characters', () => {
    assert.equal(safeFileName('../../etc/passwd', 0), '1-passwd');
    assert.equal(safeFileName('..\\..\\windows\\win.ini', 1), '2-win.ini');
    assert.equal(safeFileName('.bashrc', 2), '3-bashrc');
    assert.equal(safeFileName('a\u0000b;rm -rf $HOME.txt', 3), '4-a_b_rm -rf _HOME.txt');
    assert.equal(safeFileName('..', 4), '5-attachment');
    assert.equal(safeFileName('', 5), '6-attachment');
  });

  it('bounds the length and keeps the extension', () => {
    const name = safeFileName(`${'x'.repeat(300)}.pdf`, 0);
    assert.ok(name.length <= 110);
    assert.ok(name.endsWith('.pdf'));
  });
});

describe('size helpers', () => {
  it('computes the decoded size of base64 without decoding', () => {
    for (const text of ['', 'a', 'ab', 'abc', 'hello world!', 'x'.repeat(1000)]) {
      const b64 = Buffer.from(text).toString('base64');
      assert.equal(base64DecodedSize(b64), text.length);
      assert.equal(base64DecodedSize(b64.replace(/(.{4})/g, '$1\r\n')), text.length);
    }
  });

  it('formats limits for humans', () => {
    assert.equal(formatBytes(25 * 1024 * 1024), '25 MiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(100), '100 bytes');
  });
});
