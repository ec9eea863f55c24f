/**
 * The minimal reference consumer the pipeline benchmark compares the worker against: the same
 * work done by hand — streaming pull, one streamed Gemini request (official SDK) to the stand-in,
 * one Mailgun send (official SDK) to the loopback stand-in, ack — with none of our profiles,
 * deadlines, retries, ledger or logging. Not product code.
 */
import { GoogleGenAI } from '@google/genai';
import Mailgun from 'mailgun.js';
import type { Subscription, Message } from '@google-cloud/pubsub';

export interface ReferenceConsumerOptions {
  subscription: Subscription;
  concurrency: number;
  geminiUrl: string;
  mailgunUrl: string;
  mailgunKey: string;
  domain: string;
  onDone: () => void;
}

export function startReferenceConsumer(o: ReferenceConsumerOptions): { stop(): Promise<void> } {
  const ai = new GoogleGenAI({ apiKey: 'bench-key', httpOptions: { baseUrl: o.geminiUrl } });
  const mg = new Mailgun(FormData).client({ username: 'api', key: o.mailgunKey, url: o.mailgunUrl });
  o.subscription.setOptions({ flowControl: { maxMessages: o.concurrency, allowExcessMessages: false } });
  const onMessage = async (message: Message) => {
    try {
      const job = JSON.parse(message.data.toString('utf8')) as { from: string; subject: string; text: string; messageId: string };
      const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: job.text }] }] });
      let text = '';
      for await (const chunk of stream) text += chunk.text ?? '';
      await mg.messages.create(o.domain, {
        from: `worker@${o.domain}`,
        to: job.from,
        subject: `Re: ${job.subject}`,
        text,
        'h:In-Reply-To': job.messageId,
      });
      message.ack();
      o.onDone();
    } catch {
      message.nack();
    }
  };
  o.subscription.on('message', (m: Message) => void onMessage(m));
  return {
    async stop() {
      o.subscription.removeAllListeners('message');
      await o.subscription.close();
    },
  };
}
