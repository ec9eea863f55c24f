/**
 * Verifies the OIDC token Pub/Sub puts on every push (`Authorization: Bearer <JWT>`) with
 * google-auth-library: RS256 signature against Google's certificates, issuer accounts.google.com,
 * audience PUSH_AUDIENCE, not expired, and — when PUSH_SERVICE_ACCOUNT is set — the push
 * subscription's service account as a verified `email`.
 *
 * The certificates come from Google (`getFederatedSignonCertsAsync`, cached by the library) unless
 * `certs` is given (tests inject their own, with tokens signed locally by the matching key).
 */
import { OAuth2Client } from 'google-auth-library';
import { ErrorCodes, permanent, type WorkerError } from '../errors.ts';

/** Issuers Google uses in ID tokens. */
export const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

export interface PushAuthOptions {
  /** PUSH_AUDIENCE: the audience the push subscription puts in its tokens. */
  audience: string;
  /** PUSH_SERVICE_ACCOUNT: the only identity allowed to push. @defaultValue any Google-signed identity */
  serviceAccount?: string;
  /** Key id → PEM certificate or public key. @defaultValue Google's federated sign-on certificates */
  certs?: () => Promise<Record<string, string>>;
  /** Allowed issuers. @defaultValue GOOGLE_ISSUERS */
  issuers?: string[];
}

export interface PushIdentity {
  email?: string;
  subject?: string;
}

export type PushVerifier = (authorization: string | undefined) => Promise<PushIdentity>;

const refuse = (message: string): WorkerError => permanent(ErrorCodes.PUSH_UNAUTHENTICATED, message);

export function createPushVerifier(options: PushAuthOptions): PushVerifier {
  const client = new OAuth2Client();
  const certs = options.certs ?? (async () => (await client.getFederatedSignonCertsAsync()).certs as Record<string, string>);
  const issuers = options.issuers ?? GOOGLE_ISSUERS;
  return async (authorization) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    if (!match) throw refuse('push request without a Bearer token');
    let payload;
    try {
      const ticket = await client.verifySignedJwtWithCertsAsync(match[1]!, await certs(), options.audience, issuers);
      payload = ticket.getPayload();
    } catch (error) {
      // The library's message says which check failed (signature, audience, issuer, expiry); the
      // part after ':' quotes the token or its payload, which stays out of logs.
      throw refuse(`push token rejected: ${(error as Error).message.split(':')[0]}`);
    }
    if (!payload) throw refuse('push token has no payload');
    if (options.serviceAccount && (payload.email !== options.serviceAccount || payload.email_verified !== true)) {
      throw refuse(`push token is for ${payload.email ?? 'no email'}, not the push service account`);
    }
    return { ...(payload.email ? { email: payload.email } : {}), ...(payload.sub ? { subject: payload.sub } : {}) };
  };
}
