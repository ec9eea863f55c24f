/**
 * The minimal reference consumer the pipeline benchmark compares the worker against: the same
 * work done by hand, with the same SDKs — streaming pull (@google-cloud/pubsub, same flow control),
 * one streamed Gemini request (@google/genai) to the stand-in, one Mailgun send (mailgun.js) of a
 * threaded reply (In-Reply-To, References, own Message-Id) to the stand-in, then ack. None of the
 * product's job validation, ledger, profiles, deadlines, timers, retries, HTML body, metrics or
 * logging. A failure is nacked. Not product code.
 */
import { randomUUID } from 'node:crypto';
import { GoogleGenAI } from '@google/genai';
import Mailgun from 'mailgun.js';
import FormData from 'form-data';
import type { Message, Subscription } from '@google-cloud/pubsub';

export interface ReferenceConsumerOptions {
  /** A subscription from the consumer's own PubSub client. */
  subscription: Subscription;
  /** Messages in flight at once (flow control `maxMessages`, no excess). */
  concurrency: number;
  geminiUrl: string;
  /** Model name in the request path (the worker's default). @defaultValue 'gemini-2.5-flash' */
  model?: string;
  mailgunUrl: string;
  mailgunKey: string;
  domain: string;
  /** Called after each ack. @defaultValue none */
  onDone?: () => void;
}

export interface ReferenceConsumer {
  /** Jobs acknowledged so far. */
  readonly done: number;
  /** Jobs nacked so far (any failure). */
  readonly failed: number;
  stop(): Promise<void>;
}

export function startReferenceConsumer(o: ReferenceConsumerOptions): ReferenceConsumer {
  const ai = new GoogleGenAI({ apiKey: 'bench-key', httpOptions: { baseUrl: o.geminiUrl } });
  // The same FormData implementation the worker's transport gives mailgun.js.
  const mg = new Mailgun(FormData).client({ username: 'api', key: o.mailgunKey, url: o.mailgunUrl });
  const model = o.model ?? 'gemini-2.5-flash';
  let done = 0;
  let failed = 0;
  o.subscription.setOptions({ flowControl: { maxMessages: o.concurrency, allowExcessMessages: false } });
  const onMessage = async (message: Message) => {
    try {
      const job = JSON.parse(message.data.toString('utf8')) as { from: string; subject: string; text: string; messageId: string };
      const stream = await ai.models.generateContentStream({ model, contents: [{ role: 'user', parts: [{ text: `${job.subject}\n${job.text}` }] }] });
      let text = '';
      for await (const chunk of stream) text += chunk.text ?? '';
      await mg.messages.create(o.domain, {
        from: `worker@${o.domain}`,
        to: job.from,
        subject: `Re: ${job.subject}`,
        text,
        'h:Message-Id': `<${randomUUID()}@${o.domain}>`,
        'h:In-Reply-To': job.messageId,
        'h:References': job.messageId,
      });
      message.ack();
      done++;
      o.onDone?.();
    } catch {
      failed++;
      message.nack();
    }
  };
  const listener = (m: Message) => void onMessage(m);
  o.subscription.on('message', listener);
  return {
    get done() {
      return done;
    },
    get failed() {
      return failed;
    },
    async stop() {
      o.subscription.removeListener('message', listener);
      await o.subscription.close();
    },
  };
}
