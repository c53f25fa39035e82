// rolegate browser helper: no dependencies, an ES module.
//
//   import { session, authFetch, refresh, logout, onChange } from '/rolegate.js';
//
// The access token itself is in an HttpOnly cookie (`nf_jwt`) that scripts
// cannot read; this helper reads only the signature-free `rolegate_session`
// cookie ({email, roles, exp}) that the functions set beside it, and talks to
// the refresh and logout functions. Every tab shares one refresh: a Web Lock
// (navigator.locks) serialises them, and a tab that gets the lock after another
// tab already refreshed sees the new expiry and does not refresh again.

const SESSION_COOKIE = 'rolegate_session';
const LOCK_NAME = 'rolegate-refresh';
const CHANNEL_NAME = 'rolegate';
// When the last successful refresh of any tab finished (ms). Expiry times have
// one-second resolution, too coarse to tell whether another tab refreshed.
const REFRESHED_AT_KEY = 'rolegate:refreshed-at';
// Refresh this long before expiry, so a request never leaves with a token about to lapse.
const EARLY_SECONDS = 60;

const defaults = {
  refreshUrl: '/.netlify/functions/refresh',
  logoutUrl: '/.netlify/functions/logout',
};
let options = { ...defaults };
let inFlight = null;
let timer = null;
const listeners = new Set();
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null;

/** Overrides the function paths (e.g. the friendly /auth/refresh). */
export function configure(overrides) {
  options = { ...options, ...overrides };
}

/** Who is signed in, from the readable session cookie: {email, roles, exp} or null. */
export function session() {
  const pair = document.cookie.split('; ').find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!pair) return null;
  try {
    const value = JSON.parse(decodeURIComponent(pair.slice(SESSION_COOKIE.length + 1)));
    if (typeof value !== 'object' || value === null || typeof value.exp !== 'number') return null;
    return { email: String(value.email ?? ''), roles: Array.isArray(value.roles) ? value.roles.map(String) : [], exp: value.exp };
  } catch {
    return null;
  }
}

function secondsLeft(current = session()) {
  return current ? current.exp - Date.now() / 1000 : -Infinity;
}

function notify(reason) {
  const current = session();
  for (const listener of listeners) {
    try { listener(current, reason); } catch (error) { console.error(error); }
  }
  // After a failed refresh nothing is scheduled: a loop of doomed refreshes helps nobody.
  if (reason === 'signed-out') clearTimeout(timer);
  else schedule();
}

/** Calls `listener(session, reason)` whenever this or another tab signs in, refreshes or signs out. Returns an unsubscribe function. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function lastRefreshAt() {
  try { return Number(localStorage.getItem(REFRESHED_AT_KEY)) || 0; } catch { return 0; }
}

async function refreshNow(since) {
  // Some tab refreshed after the failed request left (perhaps while this one
  // waited for the lock): its cookies are already in place, nothing to do.
  if (lastRefreshAt() >= since && secondsLeft() > EARLY_SECONDS) return true;
  const response = await fetch(options.refreshUrl, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (response.ok) {
    try { localStorage.setItem(REFRESHED_AT_KEY, String(Date.now())); } catch { /* storage off: tabs may refresh twice */ }
    channel?.postMessage({ type: 'refreshed' });
    notify('refreshed');
    return true;
  }
  channel?.postMessage({ type: 'signed-out' });
  notify('signed-out');
  return false;
}

/**
 * Refreshes the session once, however many callers and tabs ask at the same
 * moment. `since` (ms): the time the request that failed was sent; a refresh
 * by any tab after that moment is enough. Resolves true when a fresh access
 * token is in place.
 */
export function refresh(since = Date.now()) {
  if (inFlight) return inFlight;
  const run = () => refreshNow(since);
  inFlight = (navigator.locks ? navigator.locks.request(LOCK_NAME, run) : run()).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/** `fetch`, but a 401 triggers one shared refresh and one retry. */
export async function authFetch(input, init) {
  const retryable = !(init && init.body instanceof ReadableStream);
  const sentAt = Date.now();
  const first = await fetch(input, { credentials: 'same-origin', ...init });
  if (first.status !== 401 || !retryable) return first;
  if (!(await refresh(sentAt))) return first;
  return fetch(input, { credentials: 'same-origin', ...init });
}

/** Signs out this session, or every session of the user with `{everywhere: true}`; every open tab is told. */
export async function logout({ everywhere = false } = {}) {
  const response = await fetch(options.logoutUrl, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ scope: everywhere ? 'global' : 'local' }),
  });
  channel?.postMessage({ type: 'signed-out' });
  notify('signed-out');
  return response.ok;
}

/** Keeps the session fresh in the background while the page is open. */
function schedule() {
  clearTimeout(timer);
  const current = session();
  if (!current) return;
  const delay = Math.max(0, (secondsLeft(current) - EARLY_SECONDS) * 1000);
  // Browsers clamp long timeouts; re-check at least every ten minutes.
  timer = setTimeout(() => {
    if (document.visibilityState === 'hidden') return schedule();
    refresh();
  }, Math.min(delay, 600_000));
}

channel?.addEventListener('message', (event) => {
  const type = event.data && event.data.type;
  if (type === 'signed-out' || type === 'refreshed') notify(type);
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') schedule();
});
schedule();
