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
 * @example
 * await kickMailDelivery(config.auth.siteUrl);
 */
export async function kickMailDelivery(siteUrl: URL | string, options: { timeoutMs?: number; fetchImpl?: typeof fetch } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? KICK_TIMEOUT_MS;
  const fetchImpl = options.fetchImpl ?? fetch;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  const kick = (async () => {
    const response = await fetchImpl(new URL(MAIL_FUNCTION_PATH, siteUrl), { method: 'POST', signal: AbortSignal.timeout(timeoutMs) });
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
