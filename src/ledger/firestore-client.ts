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
    client = import('@google-cloud/firestore').then(
      ({ Firestore }) => new Firestore({ projectId: options.projectId, ...(options.databaseId ? { databaseId: options.databaseId } : {}), ignoreUndefinedProperties: true }),
    );
    clients.set(key, client);
  }
  return client;
}

/** Closes every client made by `getFirestore` (shutdown, test teardown). */
export async function closeFirestoreClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map(async (c) => (await c).terminate()));
}
