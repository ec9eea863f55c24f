/**
 * The loop guard (SPEC §4): a pure function that says whether an inbound mail must never be
 * answered, and every reason why. Auto-replies, bounces, list and bulk mail, spam, mail from
 * ourselves and from system senders are dropped so that two automatic systems can never answer
 * each other. Applied at ingress (`/inbound/mailgun`) and again in the worker, for jobs published
 * directly and before any failure email. Reply caps are separate (`src/ingress/caps.ts`): they need state.
 */
import type { HeaderLookup } from './mail-headers.ts';

/** Stable reason codes (used in the `ignored` answer, logs and the metric label). */
export const LoopReasons = {
  AUTO_SUBMITTED: 'auto-submitted',
  PRECEDENCE: 'precedence',
  LIST_MAIL: 'list-mail',
  AUTO_RESPONSE_SUPPRESS: 'auto-response-suppress',
  AUTOREPLY_HEADER: 'autoreply-header',
  X_LOOP: 'x-loop',
  FEEDBACK_ID: 'feedback-id',
  EMPTY_RETURN_PATH: 'empty-return-path',
  DELIVERY_REPORT: 'delivery-report',
  SYSTEM_SENDER: 'system-sender',
  OWN_ADDRESS: 'own-address',
  OWN_DOMAIN: 'own-domain',
  OUT_OF_OFFICE: 'out-of-office-subject',
  SPAM: 'spam-flagged',
} as const;
export type LoopReason = (typeof LoopReasons)[keyof typeof LoopReasons];

export interface LoopGuardInput {
  headers: HeaderLookup;
  /** The sender's address (from the From header), lower or any case. */
  from: string;
  subject: string;
  /** Our own addresses (MAIL_FROM, the inbound recipients). */
  ownAddresses: readonly string[];
  /** Our own domains (MAILGUN_DOMAIN); subdomains count too. */
  ownDomains: readonly string[];
}

export interface LoopVerdict {
  ignore: boolean;
  reasons: LoopReason[];
}

const PRECEDENCE = /^(bulk|junk|list|auto_reply)$/i;
// Microsoft's X-Auto-Response-Suppress lists what the sender does not want; only these mean "I am automatic".
const SUPPRESS_TOKENS = new Set(['dr', 'autoreply', 'all']);
const SYSTEM_LOCAL_PART = /^(mailer[-_.]?daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:[+\-_.].*)?$/i;

/**
 * Subjects of out-of-office and automatic replies in the common mail systems' languages, anchored
 * at the start (systems prefix them to the original subject), so a human's "Re: out of office
 * policy" is not caught.
 */
const OUT_OF_OFFICE = new RegExp(
  '^\\s*(?:' +
    [
      // English (Exchange/Outlook, Gmail, iCloud, Zimbra, Zoho)
      'out of (?:the )?office', 'automatic reply', 'auto[- ]?reply', 'auto[- ]?response', 'autoresponse', 'away from (?:the |my )?office',
      'vacation (?:reply|response|message|notice)',
      // German
      'abwesenheitsnotiz', 'automatische antwort', 'abwesenheit', 'abwesend', 'au(?:ß|ss)er haus', 'nicht im büro',
      // French
      'réponse automatique', 'reponse automatique', 'absence du bureau', 'absent du bureau', "message d'absence",
      // Spanish, Portuguese, Italian
      'respuesta automática', 'respuesta automatica', 'fuera de la oficina', 'resposta automática', 'resposta automatica', 'ausência temporária', 'fora do escritório',
      'risposta automatica', 'fuori ufficio', 'fuori sede',
      // Dutch, Scandinavian, Polish, Czech
      'automatisch antwoord', 'afwezig', 'niet aanwezig', 'automatiskt svar', 'automatisk svar', 'automatisk besked', 'frånvaro', 'fravær', 'fraværende',
      'odpowiedź automatyczna', 'automatyczna odpowiedź', 'poza biurem', 'automatická odpověď', 'mimo kancelář',
      // Japanese, Chinese, Korean, Russian, Turkish
      '自動応答', '自動返信', '不在', '自动回复', '自動回覆', '休假', '자동 응답', '부재', 'автоответ', 'автоматический ответ', 'нет на месте', 'otomatik yanıt', 'ofis dışında',
    ].join('|') +
    ')',
  'iu',
);

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

function localPartOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at);
}

/** Header value without RFC 5322 comments and parameters: `auto-replied; owner=x (note)` → `auto-replied`. */
function bareValue(value: string | undefined): string {
  return (value ?? '').replace(/\([^)]*\)/g, '').split(';')[0]!.trim().toLowerCase();
}

function present(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}

/** Every rule, in SPEC order; `ignore` is true when any reason was found. */
export function loopGuard(input: LoopGuardInput): LoopVerdict {
  const h = input.headers;
  const reasons: LoopReason[] = [];
  const add = (reason: LoopReason) => {
    if (!reasons.includes(reason)) reasons.push(reason);
  };

  const autoSubmitted = h.get('auto-submitted');
  if (autoSubmitted !== undefined && bareValue(autoSubmitted) !== 'no') add(LoopReasons.AUTO_SUBMITTED);
  if (PRECEDENCE.test(bareValue(h.get('precedence')))) add(LoopReasons.PRECEDENCE);
  if (present(h.get('list-id')) || present(h.get('list-unsubscribe'))) add(LoopReasons.LIST_MAIL);
  const suppress = (h.get('x-auto-response-suppress') ?? '').split(/[\s,;]+/).map((t) => t.toLowerCase());
  if (suppress.some((t) => SUPPRESS_TOKENS.has(t))) add(LoopReasons.AUTO_RESPONSE_SUPPRESS);
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autogenerated', 'x-auto-reply']) {
    const value = h.get(name);
    if (value !== undefined && bareValue(value) !== 'no') add(LoopReasons.AUTOREPLY_HEADER);
  }
  if (h.get('x-loop') !== undefined) add(LoopReasons.X_LOOP);
  if (present(h.get('feedback-id'))) add(LoopReasons.FEEDBACK_ID);
  const returnPath = h.get('return-path');
  if (returnPath !== undefined && /^\s*<?\s*>?\s*$/.test(returnPath)) add(LoopReasons.EMPTY_RETURN_PATH);
  if (bareValue(h.get('content-type')) === 'multipart/report') add(LoopReasons.DELIVERY_REPORT);

  const from = input.from.trim().toLowerCase();
  if (SYSTEM_LOCAL_PART.test(localPartOf(from))) add(LoopReasons.SYSTEM_SENDER);
  if (input.ownAddresses.some((a) => a.trim().toLowerCase() === from)) add(LoopReasons.OWN_ADDRESS);
  const domain = domainOf(from);
  if (domain && input.ownDomains.some((d) => domain === d.toLowerCase() || domain.endsWith(`.${d.toLowerCase()}`))) add(LoopReasons.OWN_DOMAIN);
  if (OUT_OF_OFFICE.test(input.subject)) add(LoopReasons.OUT_OF_OFFICE);
  if (/^\s*yes\b/i.test(h.get('x-mailgun-sflag') ?? '')) add(LoopReasons.SPAM);

  return { ignore: reasons.length > 0, reasons };
}
