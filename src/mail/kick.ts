import type { Secret } from '../core/secret.js';
import { KICK_PROOF_HEADER, kickProof } from './kick-proof.js';

/** Where the site's own mail-background function answers (src/functions/mail-background.ts). */
export const MAIL_FUNCTION_PATH = '/.netlify/functions/mail-background';

/** Long enough for Netlify to accept a background invocation (it answers 202 at once), short enough to add little to a request. */
export const KICK_TIMEOUT_MS = 1500;

/**
 * Starts delivery of what was just queued by calling the site's mail-background function,
 * and settles within `timeoutMs` whatever happens: it never throws and never waits longer.
 * A failed kick loses nothing (the mail stays due in the outbox for the next run). Call it
 * the same way after every request of a kind, whether or not it queued mail, so the time a
 * request takes tells nothing; await it, since a function instance may be frozen as soon as
 * it answers.
 *
 * The function starts only for a kick that proves itself (kick-proof.ts): pass `secret`, the
 * current JWT_SECRET. A kick without it is refused by the function and delivers nothing; the
 * mail then waits for the scheduled run.
 *
 * @example
 * await kickMailDelivery(config.auth.siteUrl, { secret: config.auth.jwtSecret });
 */
export async function kickMailDelivery(
  siteUrl: URL | string,
  options: { secret?: Secret; timeoutMs?: number; fetchImpl?: typeof fetch; nowMs?: () => number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? KICK_TIMEOUT_MS;
  const fetchImpl = options.fetchImpl ?? fetch;
  const nowMs = options.nowMs ?? Date.now;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  const kick = (async () => {
    const headers: Record<string, string> = options.secret ? { [KICK_PROOF_HEADER]: kickProof({ secret: options.secret, unixSeconds: Math.floor(nowMs() / 1000) }) } : {};
    const response = await fetchImpl(new URL(MAIL_FUNCTION_PATH, siteUrl), { method: 'POST', headers, signal: AbortSignal.timeout(timeoutMs) });
    // Only the status matters; letting the body go frees the connection.
    await response.body?.cancel();
  })().catch(() => undefined);
  try {
    // The race holds the promise to its deadline even if fetch ignored the abort.
    await Promise.race([kick, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
