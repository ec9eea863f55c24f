/**
 * One streaming-pull subscriber process for `bench/emulator-streams.ts`: prints a JSON line per
 * message received (`hold`: never acks, like a worker busy with the job; `ack`: acks at once).
 *
 *   node bench/emulator-streams/subscriber.ts <subscription> <hold|ack>
 */
import { Duration, PubSub, type Message } from '@google-cloud/pubsub';

const [name, mode] = process.argv.slice(2);
const pubsub = new PubSub();
// The worker's own settings (src/worker/pull-worker.ts), with its default 5 streams.
const subscription = pubsub.subscription(name!, {
  flowControl: { maxMessages: 5, allowExcessMessages: false },
  maxAckDeadline: Duration.from({ minutes: 10 }),
  maxExtensionTime: Duration.from({ seconds: 60 }),
});
subscription.on('message', (m: Message) => {
  process.stdout.write(`${JSON.stringify({ at: Date.now(), data: m.data.toString('utf8') })}\n`);
  if (mode === 'ack') m.ack();
});
subscription.on('error', (e: Error) => process.stderr.write(`subscriber error: ${e.message}\n`));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
