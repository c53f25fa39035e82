import { AuthError } from '../core/auth-errors.js';
import { normalizeEmail } from '../core/email.js';
import { bcryptHasher, needsRehash, verifyPasswordEvenly } from '../core/password.js';
import { newRefreshToken, refreshTokenHash } from '../core/refresh-token.js';
import type { ThrottleKey } from '../store/store.js';
import type { AuthDeps } from './deps.js';
import { checksIdentity, untilBudget, userMovedFromIdentity } from './identity-migration.js';
import { withIdentityRoles } from './identity-roles.js';
import { issueSession } from './issue.js';

/** A string of 1 to `max` characters, or undefined. Checked by hand: zod is too heavy for a cold start. */
function field(fields: Record<string, unknown>, name: string, max: number): string | undefined {
  const value = fields[name];
  return typeof value === 'string' && value.length >= 1 && value.length <= max ? value : undefined;
}

export interface LoginRequest {
  fields: Record<string, unknown>;
  ip: string;
  userAgent?: string;
}

export interface LoginResult {
  user: { id: string; email: string; roles: string[] };
  expiresAt: number;
  cookies: string[];
  /** The same tokens the cookies carry, for an API that hands them to its client (the Identity API). */
  tokens: { access: string; refresh: string };
}

/** `throttled` when any of `keys` is past its limit now. */
export async function refuseIfThrottled(deps: AuthDeps, keys: ThrottleKey[]): Promise<void> {
  const status = await deps.store.loginThrottleStatus({ keys, windowSeconds: deps.config.loginThrottleWindowSeconds });
  if (status.throttled) throw new AuthError('throttled', { retryAfterSeconds: status.retryAfterSeconds });
}

/**
 * Counts one wrong password against `keys`, and answers `throttled` if that went past a limit.
 * Parallel requests all pass refuseIfThrottled before any failure is counted. The count itself
 * is atomic, so it is asked with each limit one higher whether this failure went past the
 * limit; past it the answer is `throttled`, the same as for the right password, so a burst
 * learns the outcome of no more guesses than the limit allows.
 */
export async function countWrongPassword(deps: AuthDeps, keys: ThrottleKey[], who: { userId?: string; ip: string }): Promise<void> {
  const counted = await deps.store.recordLoginFailure({
    keys: keys.map((k) => ({ ...k, maxFailures: k.maxFailures + 1 })), windowSeconds: deps.config.loginThrottleWindowSeconds, ...who,
  });
  if (counted.throttled) throw new AuthError('throttled', { retryAfterSeconds: counted.retryAfterSeconds });
}

/** The login throttle's keys for `email` from `ip`: every check of a password counts against them. */
export function throttleKeys(deps: AuthDeps, email: string, ip: string): ThrottleKey[] {
  return [
    { key: `account:${email}`, maxFailures: deps.config.loginMaxFailuresPerAccount },
    { key: `ip:${ip}`, maxFailures: deps.config.loginMaxFailuresPerIp },
  ];
}

/**
 * Checks a password and starts a session. Unknown email, wrong password,
 * disabled account and password-less account all end in the same
 * `invalid_credentials`, after the same bcrypt work (verifyPasswordEvenly:
 * 2^BCRYPT_COST rounds, for a hash of a lower cost too). A hash of another
 * cost is replaced by one at BCRYPT_COST once its password is known. A
 * throttled account or address gets `throttled` even with the right password,
 * and an account whose sign-up was never confirmed `email_not_confirmed`.
 * With IDENTITY_URL, an address rolegate does not know is checked against
 * Netlify Identity and moved here on success (identity-migration.ts), and
 * every failure takes IDENTITY_LOGIN_BUDGET_MS: Identity gets its first half,
 * so a hung Identity is no slower than a wrong local password.
 *
 * @example
 * const { user, cookies } = await login(deps, { fields: { email, password }, ip: '203.0.113.7' });
 */
export async function login(deps: AuthDeps, request: LoginRequest): Promise<LoginResult> {
  const rawEmail = field(request.fields, 'email', 320);
  // Long enough for any passphrase; bcrypt itself only reads 72 bytes and
  // verifyPasswordEvenly refuses longer ones outright.
  const password = field(request.fields, 'password', 1024);
  // PostgreSQL text cannot hold U+0000, so the lookup of such an email failed
  // with a 500; no stored address contains one, so it is a malformed request.
  if (rawEmail === undefined || password === undefined || rawEmail.includes('\u0000')) {
    throw new AuthError('bad_request', { message: 'Send an email and a password.' });
  }
  const startedMs = Date.now();
  const email = normalizeEmail(rawEmail);
  const keys = throttleKeys(deps, email, request.ip);
  const throttle = { keys, windowSeconds: deps.config.loginThrottleWindowSeconds };
  // Round trip one: the throttle, then the account. A throttled sign-in checks no password.
  const pendingLookup = deps.store.beginLogin({ email, ...throttle });
  // The session's refresh token is made while that call is out (setImmediate runs once it is
  // sent), not after the hash: the first crypto call after a bcrypt compare is slow (cold
  // caches, about 0.1–0.4 ms here), and a failed sign-in only wastes a random value. The
  // global setImmediate: importing node:timers/promises would cost every cold start.
  const pendingToken = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    const token = newRefreshToken();
    return { token, hash: refreshTokenHash(token) };
  });
  const lookup = await pendingLookup;
  if (lookup.throttled) throw new AuthError('throttled', { retryAfterSeconds: lookup.retryAfterSeconds });

  const found = lookup.user;
  const user = checksIdentity(deps, found) ? await userMovedFromIdentity(deps, email, password, startedMs, found) : found;
  const hasher = deps.passwords ?? bcryptHasher;
  const workCost = deps.config.bcryptCost;
  const passwordMatches = await verifyPasswordEvenly({ password, hash: user?.passwordHash ?? null, workCost, hasher });
  if (!user || !user.passwordHash || user.disabledAt || !passwordMatches) {
    await countWrongPassword(deps, keys, { userId: user?.id, ip: request.ip });
    // With Identity asked about unknown addresses, every failure ends at the same budget (Identity had its first half).
    if (deps.identityPasswords) await untilBudget(startedMs, deps.config.identityLoginBudgetMs);
    throw new AuthError('invalid_credentials');
  }
  // Told only to someone who knows the password, and not while parallel failures reached
  // the limit meanwhile: the account waits for its confirmation link.
  if (user.emailConfirmedAt === null) {
    await refuseIfThrottled(deps, keys);
    throw new AuthError('email_not_confirmed');
  }

  // Round trip two: the right password is refused too if parallel failures reached the
  // limit meanwhile, in the same call that starts the session.
  const refresh = await pendingToken;
  const refreshToken = refresh.token;
  const session = await deps.store.createSession({
    userId: user.id,
    refreshTokenHash: refresh.hash,
    refreshTtlSeconds: deps.config.refreshTokenTtlSeconds,
    userAgent: request.userAgent,
    ip: request.ip,
    clearThrottleKeys: [keys[0]!.key],
    refuseIfThrottled: throttle,
  });
  if (session.status === 'throttled') throw new AuthError('throttled', { retryAfterSeconds: session.retryAfterSeconds });
  // Disabled between the lookup and now: the same answer as a wrong password.
  if (session.status !== 'created') {
    if (deps.identityPasswords) await untilBudget(startedMs, deps.config.identityLoginBudgetMs);
    throw new AuthError('invalid_credentials');
  }
  if (needsRehash(user.passwordHash, workCost)) await rehash(deps, user.id, user.passwordHash, password);
  const signedIn = await withIdentityRoles(deps, session.user);
  const issued = await issueSession(deps, signedIn, session.sessionId, refreshToken);
  return {
    user: { id: signedIn.id, email: signedIn.email, roles: signedIn.roles },
    expiresAt: issued.expiresAt,
    cookies: issued.cookies,
    tokens: { access: issued.accessToken, refresh: refreshToken },
  };
}

/**
 * Replaces a hash of another cost after a successful login. The session is
 * already made, so a failure here is logged and the login goes on; the next
 * login tries again.
 */
async function rehash(deps: AuthDeps, userId: string, from: string, password: string): Promise<void> {
  try {
    const to = await (deps.passwords ?? bcryptHasher).hash(password, deps.config.bcryptCost);
    await deps.store.upgradePasswordHash({ userId, from, to });
  } catch (error) {
    console.error(`rolegate: password rehash failed: ${error instanceof Error ? error.name : typeof error}`);
  }
}
