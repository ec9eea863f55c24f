/**
 * One Pub/Sub and one Firestore emulator for the whole `npm test` run (node --test
 * --test-global-setup). Test files inherit PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST and use
 * their own unique topic names / Firestore project ids (projects are separate on the emulator).
 * An emulator whose variable is already set (e.g. a developer's running emulator) is reused.
 */
import { startEmulator, type RunningEmulator } from '../src/dev/emulator.ts';

const started: RunningEmulator[] = [];

export async function globalSetup(): Promise<void> {
  process.env.METADATA_SERVER_DETECTION = 'none';
  process.env.GOOGLE_CLOUD_PROJECT ??= 'demo-test';
  const project = process.env.GOOGLE_CLOUD_PROJECT;
  await Promise.all([
    process.env.PUBSUB_EMULATOR_HOST
      ? undefined
      : startEmulator('pubsub', { project }).then((emu) => {
          started.push(emu);
          process.env.PUBSUB_EMULATOR_HOST = emu.host;
        }),
    process.env.FIRESTORE_EMULATOR_HOST
      ? undefined
      : startEmulator('firestore', { project }).then((emu) => {
          started.push(emu);
          process.env.FIRESTORE_EMULATOR_HOST = emu.host;
        }),
  ]);
}

export async function globalTeardown(): Promise<void> {
  await Promise.all(started.map((emu) => emu.stop()));
}
