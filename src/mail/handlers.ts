import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { readConfig, verificationSecrets, type Env, type MailConfig } from '../core/environment.js';
import { errorResponse } from '../http/respond.js';
import { openStoreOnFirstUse } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { deliverUntilIdle, type DeliveryCounts } from './deliver.js';
import { isValidKickProof, KICK_PROOF_HEADER } from './kick-proof.js';
import type { MailTemplateOverrides } from './templates.js';
import { smtpTransport, terminalTransport, unconfiguredTransport, type MailTransport } from './transport.js';

/**
 * The `mail-background` function: a Netlify background function (the -background suffix makes
 * Netlify answer 202 at once and run it for up to 15 minutes, re-invoking it after a failure;
 * docs.netlify.com, "Background Functions"), started by kickMailDelivery after a request
 * queued mail. It delivers until nothing is due. Its URL is public, so it runs only for a
 * POST that carries the kick's proof (kick-proof.ts).
 */

/** Netlify stops a background function at 15 minutes; stop starting rounds well before. */
export const MAIL_DELIVERY_BUDGET_MS = 12 * 60 * 1000;

/** How often the scheduled run sends what waits for a retry (a Netlify cron expression). */
export const MAIL_RETRY_SCHEDULE = '*/5 * * * *';
/** A scheduled function has 30 seconds; it stops starting rounds after this. */
export const MAIL_RETRY_BUDGET_MS = 20 * 1000;

/**
 * The transport the environment gives: SMTP_URL; else, for `rolegate dev` only,
 * ROLEGATE_DEV_MAIL=terminal prints each mail; else none, and mail waits in the outbox.
 *
 * @example
 * const transport = mailTransportFor(process.env, readConfig(process.env).mail);
 */
export function mailTransportFor(env: Env, mail: Pick<MailConfig, 'smtpUrl'>, write: (line: string) => void = (line) => console.log(line)): MailTransport {
  if (mail.smtpUrl) return smtpTransport(mail.smtpUrl);
  if (env.ROLEGATE_DEV_MAIL === 'terminal') return terminalTransport(write);
  return unconfiguredTransport;
}

export interface MailDeliveryDeps {
  store: Pick<Store, 'claimMail' | 'finishMail'>;
  transport: MailTransport;
  secrets: ReturnType<typeof verificationSecrets>;
  siteUrl: URL;
  from: string;
  overrides?: MailTemplateOverrides;
  budgetMs: number;
  log: (line: string) => void;
}

/**
 * What a mail-background instance sets up at cold start: the environment, checked now (a bad
 * variable fails the start with a message naming it), and a store opened at first use.
 */
export function mailDeliveryRuntime(env: Env, overrides?: MailTemplateOverrides, budgetMs = MAIL_DELIVERY_BUDGET_MS): MailDeliveryDeps {
  const config = readConfig(env);
  return {
    store: openStoreOnFirstUse(config.database),
    transport: mailTransportFor(env, config.mail),
    secrets: verificationSecrets(config.auth),
    siteUrl: config.auth.siteUrl,
    from: config.mail.from,
    ...(overrides ? { overrides } : {}),
    budgetMs,
    log: (line) => console.error(line),
  };
}

function headerValue(event: HandlerEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/**
 * Delivers until idle on each POST that proves it is rolegate's kick, and answers the counts
 * (Netlify has answered the caller 202 already). Any other POST is answered 403 `forbidden`
 * and claims nothing. A store failure is thrown, so Netlify runs the function again later;
 * each mail's own failure is recorded in the outbox instead.
 *
 * @example
 * export const handler = mailBackgroundHandler(mailDeliveryRuntime(process.env));
 */
export function mailBackgroundHandler(deps: MailDeliveryDeps & { nowMs?: () => number }): (event: HandlerEvent) => Promise<HandlerResponse> {
  const nowMs = deps.nowMs ?? Date.now;
  return async (event): Promise<HandlerResponse> => {
    if (event.httpMethod !== 'POST') return { statusCode: 405, headers: { Allow: 'POST', 'Cache-Control': 'no-store' }, body: '' };
    if (!isValidKickProof({ proof: headerValue(event, KICK_PROOF_HEADER), secrets: deps.secrets, unixSeconds: Math.floor(nowMs() / 1000) })) {
      return errorResponse(new AuthError('forbidden', { message: 'Only the site itself starts mail delivery.' }));
    }
    const counts: DeliveryCounts = await deliverUntilIdle(deps);
    if (counts.sent + counts.retrying + counts.failed > 0) {
      deps.log(`rolegate mail: ${counts.sent} sent, ${counts.retrying} to retry, ${counts.failed} failed`);
    }
    return { statusCode: 200, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, body: JSON.stringify(counts) };
  };
}

/**
 * The `mail-scheduled` function: Netlify runs it every five minutes (a scheduled function, v2
 * form), so mail waiting for a retry after an outage is sent though no new request kicks
 * delivery. It delivers what is due within its budget and answers 204.
 */
export function mailScheduledHandler(deps: MailDeliveryDeps): (request: Request) => Promise<Response> {
  return async () => {
    const counts = await deliverUntilIdle(deps);
    if (counts.sent + counts.retrying + counts.failed > 0) {
      deps.log(`rolegate mail (scheduled): ${counts.sent} sent, ${counts.retrying} to retry, ${counts.failed} failed`);
    }
    return new Response(null, { status: 204, headers: { 'Cache-Control': 'no-store' } });
  };
}
