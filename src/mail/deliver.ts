import type { Secret } from '../core/secret.js';
import type { OutboxMail, Store } from '../store/store.js';
import { openMailSecret } from './seal.js';
import { renderMail, UnknownMailTemplateError, type MailSecret, type MailTemplateOverrides } from './templates.js';
import { MailSendError, type MailTransport } from './transport.js';

/**
 * Delivers the outbox. Each run claims due mail with a lease (claim_mail: no other deliverer
 * takes a leased row), sends it and records the outcome (finish_mail), so any number of
 * deliverers at once send each mail once. Delivery is at least once, as SMTP is: a mail the
 * server took just before this process died, or before its outcome could be written, goes
 * again when its lease ends (with the same Message-ID, so the receiving side can tell).
 */

export interface DeliverOptions {
  store: Pick<Store, 'claimMail' | 'finishMail'>;
  transport: MailTransport;
  /** verificationSecrets(config.auth): the current JWT_SECRET, then the previous. */
  secrets: readonly Secret[];
  siteUrl: URL | string;
  /** MAIL_FROM. */
  from: string;
  /** Mails claimed per round (default 10). */
  limit?: number;
  /** How long a claimed mail is this deliverer's (default 300 s); no mail is handed to the server after it ends. */
  leaseSeconds?: number;
  overrides?: MailTemplateOverrides;
  /** Where a failure is said, with the mail's id and never its link. */
  log?: (line: string) => void;
  /** Milliseconds since the epoch (a test's clock). */
  nowMs?: () => number;
}

export interface DeliveryCounts {
  sent: number;
  /** Not sent this time; due again after the backoff. */
  retrying: number;
  /** Refused for good, or unrenderable: waits for `rolegate mail retry`. */
  failed: number;
}

const DEFAULT_LIMIT = 10;
const DEFAULT_LEASE_SECONDS = 300;
const FIRST_RETRY_SECONDS = 30;
const MAX_RETRY_SECONDS = 3600;
// Never start a send the lease could end in the middle of: another deliverer may claim the
// mail then. 15 s (or a quarter of a shorter lease) covers finishing a send and recording it.
const LEASE_MARGIN_MS = 15_000;

function leaseMarginMs(leaseSeconds: number): number {
  return Math.min(LEASE_MARGIN_MS, (leaseSeconds * 1000) / 4);
}

/**
 * How long a mail waits after its n-th failed attempt: 30 s, 1 min, 2 min, … up to 1 h.
 *
 * @example
 * retryDelaySeconds(3); // 120
 */
export function retryDelaySeconds(attempts: number): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 20));
  return Math.min(FIRST_RETRY_SECONDS * 2 ** exponent, MAX_RETRY_SECONDS);
}

type Outcome = { kind: 'sent' } | { kind: 'retry'; error: string } | { kind: 'failed'; error: string };

/** A mail that can never be sent as it is; said once in last_error. */
class UndeliverableMail extends Error {}

function openSecret(mail: OutboxMail, secrets: readonly Secret[]): MailSecret | null {
  if (mail.sealed === null) return null;
  const opened = openMailSecret(secrets, mail.sealed);
  if (opened === null) {
    throw new UndeliverableMail('its link is sealed under a key that neither JWT_SECRET nor JWT_SECRET_PREVIOUS opens (JWT_SECRET changed again after the mail was queued, or the row was altered)');
  }
  let secret: Partial<MailSecret> = {};
  try {
    secret = JSON.parse(opened) as Partial<MailSecret>;
  } catch {
    // Reported below with the rest of a malformed seal.
  }
  if (typeof secret?.url !== 'string' || typeof secret.token !== 'string') throw new UndeliverableMail('its sealed part is not {"url", "token"}');
  return { url: secret.url, token: secret.token };
}

function messageId(mail: OutboxMail, siteUrl: URL | string): string {
  return `<rolegate-mail-${mail.id}-${Date.parse(mail.createdAt) || 0}@${new URL(siteUrl).hostname || 'localhost'}>`;
}

async function attempt(mail: OutboxMail, options: DeliverOptions, signal: AbortSignal): Promise<Outcome> {
  let rendered;
  try {
    const secret = openSecret(mail, options.secrets);
    rendered = renderMail({ template: mail.template, recipient: mail.recipient, siteUrl: options.siteUrl, secret, variables: mail.variables, overrides: options.overrides });
  } catch (error) {
    if (error instanceof UndeliverableMail || error instanceof UnknownMailTemplateError) return { kind: 'failed', error: `not sent: ${error.message}` };
    throw error;
  }
  try {
    await options.transport.send({ from: options.from, to: mail.recipient, ...rendered, messageId: messageId(mail, options.siteUrl) }, { signal });
    return { kind: 'sent' };
  } catch (error) {
    if (error instanceof MailSendError) return error.permanent ? { kind: 'failed', error: error.message } : { kind: 'retry', error: error.message };
    return { kind: 'retry', error: `sending failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * Claims up to `limit` due mails and delivers each: opens its seal, renders it, sends it, and
 * records the outcome (sent; retry after 30 s × 2^(attempts−1), at most 1 h; or failed for
 * good on a 5xx reply or a seal no secret opens). One mail's failure never stops the others.
 *
 * @example
 * const counts = await deliverDueMail({ store, transport: smtpTransport(url), secrets, siteUrl, from });
 * counts; // { sent: 3, retrying: 0, failed: 0 }
 */
export async function deliverDueMail(options: DeliverOptions): Promise<DeliveryCounts> {
  const nowMs = options.nowMs ?? Date.now;
  const leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  const log = options.log ?? ((line: string) => console.error(line));
  const sendUntilMs = nowMs() + leaseSeconds * 1000 - leaseMarginMs(leaseSeconds);
  const mails = await options.store.claimMail({ limit: options.limit ?? DEFAULT_LIMIT, leaseSeconds });
  const counts: DeliveryCounts = { sent: 0, retrying: 0, failed: 0 };
  for (const mail of mails) {
    const sendableMs = sendUntilMs - nowMs();
    // The rest stay claimed until their lease ends, then any deliverer takes them.
    if (sendableMs <= 0) break;
    let outcome: Outcome;
    try {
      outcome = await attempt(mail, options, AbortSignal.timeout(sendableMs));
    } catch (error) {
      outcome = { kind: 'retry', error: `not sent: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (outcome.kind !== 'sent') log(`rolegate mail: mail ${mail.id} (${mail.template}) ${outcome.kind === 'failed' ? 'failed for good' : 'will be retried'}: ${outcome.error}`);
    try {
      await options.store.finishMail(
        outcome.kind === 'sent'
          ? { id: mail.id, sent: true }
          : { id: mail.id, sent: false, error: outcome.error, retrySeconds: retryDelaySeconds(mail.attempts), permanent: outcome.kind === 'failed' },
      );
    } catch (error) {
      // The outcome is lost, not the mail: its lease ends and it is tried again.
      log(`rolegate mail: the outcome of mail ${mail.id} could not be recorded: ${error instanceof Error ? error.message : String(error)}`);
    }
    counts[outcome.kind === 'sent' ? 'sent' : outcome.kind === 'failed' ? 'failed' : 'retrying'] += 1;
  }
  return counts;
}

/**
 * Delivers round after round until nothing is due or `budgetMs` is spent (the background
 * function's 15 minutes, less a margin). A round starts only while the budget has time for it.
 *
 * @example
 * await deliverUntilIdle({ ...options, budgetMs: 12 * 60_000 });
 */
export async function deliverUntilIdle(options: DeliverOptions & { budgetMs: number }): Promise<DeliveryCounts> {
  const nowMs = options.nowMs ?? Date.now;
  const endsMs = nowMs() + options.budgetMs;
  const total: DeliveryCounts = { sent: 0, retrying: 0, failed: 0 };
  while (nowMs() < endsMs) {
    // A round's lease ends with the budget at the latest, so no send outlives the run.
    const leaseSeconds = Math.max(1, Math.min(options.leaseSeconds ?? DEFAULT_LEASE_SECONDS, Math.floor((endsMs - nowMs()) / 1000)));
    const round = await deliverDueMail({ ...options, leaseSeconds });
    total.sent += round.sent;
    total.retrying += round.retrying;
    total.failed += round.failed;
    if (round.sent + round.retrying + round.failed === 0) break;
  }
  return total;
}
