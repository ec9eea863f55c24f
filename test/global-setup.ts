/**
 * One Pub/Sub emulator for the whole `npm test` run (node --test --test-global-setup).
 * Test files inherit PUBSUB_EMULATOR_HOST and use their own unique topic names.
 * If PUBSUB_EMULATOR_HOST is already set (e.g. a developer's running emulator), it is reused.
 */
import { startEmulator, type RunningEmulator } from '../src/dev/emulator.ts';

let pubsub: RunningEmulator | undefined;

export async function globalSetup(): Promise<void> {
  process.env.METADATA_SERVER_DETECTION = 'none';
  process.env.GOOGLE_CLOUD_PROJECT ??= 'demo-test';
  if (!process.env.PUBSUB_EMULATOR_HOST) {
    pubsub = await startEmulator('pubsub', { project: process.env.GOOGLE_CLOUD_PROJECT });
    process.env.PUBSUB_EMULATOR_HOST = pubsub.host;
  }
}

export async function globalTeardown(): Promise<void> {
  await pubsub?.stop();
}
