/**
 * One Firestore client per process, shared by every Firestore-backed store (the job ledger, the
 * ingress store). With FIRESTORE_EMULATOR_HOST set the client talks to the emulator without
 * credentials. The client is created on first use, so processes that never touch Firestore do not
 * load it.
 */
import type { Firestore } from '@google-cloud/firestore';

export interface FirestoreClientOptions {
  projectId: string;
  /** Firestore database id. @defaultValue '(default)' */
  databaseId?: string;
}

const clients = new Map<string, Promise<Firestore>>();

export function getFirestore(options: FirestoreClientOptions): Promise<Firestore> {
  const key = `${options.projectId}/${options.databaseId ?? '(default)'}`;
  let client = clients.get(key);
  if (!client) {
    if (process.env.FIRESTORE_EMULATOR_HOST) process.env.METADATA_SERVER_DETECTION ??= 'none';
    client = (async () => {
      const { Firestore } = await import('@google-cloud/firestore');
      return new Firestore({
        projectId: options.projectId,
        ...(options.databaseId ? { databaseId: options.databaseId } : {}),
        ignoreUndefinedProperties: true,
        // issue 9: REST (HTTP/1.1) for every call we make — unary reads, writes, transactions;
        // gRPC only for listeners (onSnapshot), which we do not use. Google's advice for cold
        // starts: no gRPC channel to set up before the first ledger read answers readiness.
        preferRest: true,
        ...(await emulatorAuth()),
      });
    })();
    clients.set(key, client);
  }
  return client;
}

/**
 * The REST transport asks for Application Default Credentials even on the emulator, where none
 * exist (googleapis/nodejs-firestore#1811, open): give it the emulator's fixed owner token, as the
 * gRPC transport does by itself.
 */
async function emulatorAuth(): Promise<{ authClient?: unknown }> {
  if (!process.env.FIRESTORE_EMULATOR_HOST) return {};
  const { OAuth2Client } = await import('google-auth-library');
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: 'owner' });
  return { authClient };
}

/** Closes every client made by `getFirestore` (shutdown, test teardown). */
export async function closeFirestoreClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map(async (c) => (await c).terminate()));
}
