import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createPushVerifier } from './push-auth.ts';
import { createTestSigner } from '../../test/helpers/oidc.ts';
import { rejection } from '../../test/helpers/worker-error.ts';

const audience = 'https://worker.example.run.app/pubsub/push';
const email = 'pubsub-push@demo.iam.gserviceaccount.com';
const signer = createTestSigner({ audience, email });
const verify = createPushVerifier({ audience, serviceAccount: email, certs: async () => signer.certs });

describe('push OIDC verification', () => {
  it('accepts a token signed by a known key, for the audience, from the push service account', async () => {
    assert.deepEqual(await verify(`Bearer ${signer.token()}`), { email, subject: '1234567890' });
  });

  it('accepts the short issuer form too', async () => {
    assert.equal((await verify(`Bearer ${signer.token({ iss: 'accounts.google.com' })}`)).email, email);
  });

  for (const [name, header, pattern] of [
    ['a missing header', undefined, /without a Bearer token/],
    ['a non-Bearer header', 'Basic YWJjOmRlZg==', /without a Bearer token/],
    ['a wrong audience', `Bearer ${signer.token({ aud: 'https://other.example/' })}`, /Wrong recipient/],
    ['a wrong issuer', `Bearer ${signer.token({ iss: 'https://evil.example' })}`, /Invalid issuer/],
    ['an expired token', `Bearer ${signer.token({ iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 })}`, /too late/],
    ['another service account', `Bearer ${signer.token({ email: 'someone@demo.iam.gserviceaccount.com' })}`, /not the push service account/],
    ['an unverified email', `Bearer ${signer.token({ email_verified: false })}`, /not the push service account/],
    ['a malformed token', 'Bearer not-a-jwt', /push token rejected/],
  ] as const) {
    it(`refuses ${name} with EW_ERR_PUSH_UNAUTHENTICATED`, async () => {
      const error = await rejection(verify(header));
      assert.equal(error.code, 'EW_ERR_PUSH_UNAUTHENTICATED');
      assert.match(error.message, pattern);
    });
  }

  it('refuses a token signed by a key it was not given, and never quotes the token', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const strict = createPushVerifier({ audience, certs: async () => ({ 'test-key-1': other }) });
    const token = signer.token();
    const error = await rejection(strict(`Bearer ${token}`));
    assert.match(error.message, /Invalid token signature/);
    assert.ok(!JSON.stringify(error).includes(token.split('.')[2]!), 'the token stays out of the error');
  });
});
