/**
 * Locally signed Google-style ID tokens for push-auth tests: an RSA key made here, its public key
 * injected as the "certificates", tokens signed RS256 with node:crypto — the verifier code runs
 * exactly as in production, only the certificate source differs.
 */
import { generateKeyPairSync, sign } from 'node:crypto';

export interface TestSigner {
  /** Key id → PEM public key, what the verifier is given instead of Google's certificates. */
  certs: Record<string, string>;
  /** A signed JWT with the given claims (defaults: a valid push token for `audience` / `email`). */
  token(claims?: Record<string, unknown>, options?: { kid?: string }): string;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function createTestSigner(defaults: { audience: string; email: string }): TestSigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'test-key-1';
  return {
    certs: { [kid]: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    token(claims = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: 'https://accounts.google.com',
        aud: defaults.audience,
        email: defaults.email,
        email_verified: true,
        sub: '1234567890',
        iat: now,
        exp: now + 3600,
        ...claims,
      };
      const signed = `${b64url({ alg: 'RS256', typ: 'JWT', kid: options.kid ?? kid })}.${b64url(payload)}`;
      return `${signed}.${sign('RSA-SHA256', Buffer.from(signed), privateKey).toString('base64url')}`;
    },
  };
}
