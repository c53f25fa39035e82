/**
 * Netlify Identity's API (the dialect gotrue-js speaks) on rolegate's own use cases: the same
 * sign-in, rotation, links and throttles, with answers in the shapes Identity's clients read.
 * The HTTP side (routing, Origin, cookies, error shapes) is identity-api-handler.ts.
 */
import { AuthError } from '../core/auth-errors.js';
import { emailTokenHash, looksLikeEmailToken, type EmailTokenPurpose } from '../core/email-token.js';
import { LONE_SURROGATE } from '../core/next-path.js';
import { bcryptHasher } from '../core/password.js';
import type { User } from '../store/store.js';
import { isUuid } from '../store/sql-store.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import { changePassword, proveOwnership, requestEmailChange } from './account.js';
import type { AuthDeps } from './deps.js';
import { requestedRoles } from './invite.js';
import { login, type LoginResult } from './login.js';
import { chosenPassword, requestedAddress } from './mailed-link.js';
import { rotateSession } from './refresh.js';
import type { AuthenticatedUser } from './require-role.js';
import { signUp } from './signup.js';
import { useMailedLink, type UsableLinkPurpose } from './verify.js';

/** The client a request comes from, for the throttles, the audit log and the grace rule. */
export interface ApiClient {
  ip: string;
  userAgent?: string;
}

/** The token answer of `/token` and `/verify`, as gotrue-js reads it (it takes `expires_at` from the JWT itself). */
export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
}

export function tokenResponse(deps: AuthDeps, issued: Pick<LoginResult, 'tokens' | 'expiresAt'>): TokenResponse {
  return {
    access_token: issued.tokens.access,
    token_type: 'bearer',
    expires_in: deps.config.accessTokenTtlSeconds,
    expires_at: issued.expiresAt,
    refresh_token: issued.tokens.refresh,
  };
}

/** A user as Identity's clients read one: roles at `app_metadata.roles`, the address's confirmation as `confirmed_at`. */
export function identityUserJson(user: User): Record<string, unknown> {
  return {
    id: user.id,
    aud: '',
    role: '',
    email: user.email,
    confirmed_at: user.emailConfirmedAt ?? null,
    app_metadata: { provider: 'email', ...user.appMetadata, roles: user.roles },
    user_metadata: user.userMetadata,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}

/** Where a mailed link puts its token for Identity's clients: the widget reads these from the page's fragment. */
const FRAGMENT_KEYS: Partial<Record<EmailTokenPurpose, string>> = {
  signup: 'confirmation_token',
  invite: 'invite_token',
  recovery: 'recovery_token',
  email_change: 'email_change_token',
};

/** deps whose mailed links have Identity's form (`<linkPage>#confirmation_token=…`) rather than the verify path's. */
export function withIdentityLinks(deps: AuthDeps): AuthDeps {
  const { linkPage } = (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).identityApi;
  return {
    ...deps,
    linkUrl: (token, purpose) => {
      const key = FRAGMENT_KEYS[purpose];
      if (!key) return undefined;
      const page = new URL(linkPage, deps.config.siteUrl);
      page.hash = `${key}=${token}`;
      return page.href;
    },
  };
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** `POST /token` with `grant_type=password` (`username`, `password`): a login, throttled and answered like one. */
export function passwordGrant(deps: AuthDeps, fields: Record<string, unknown>, client: ApiClient): Promise<LoginResult> {
  return login(deps, { fields: { email: fields.username, password: fields.password }, ip: client.ip, userAgent: client.userAgent });
}

/** `POST /token` with `grant_type=refresh_token`: the token rotates in its family, with reuse detection, as the cookie does. */
export async function refreshGrant(deps: AuthDeps, fields: Record<string, unknown>, client: ApiClient): Promise<LoginResult> {
  const result = await rotateSession(deps, fields.refresh_token, undefined, { userAgent: client.userAgent });
  return { user: { id: result.user.id, email: result.user.email, roles: result.user.roles }, expiresAt: result.expiresAt, cookies: [], tokens: result.tokens };
}

/** The user of a live session (a signed-out session's unexpired token reads nothing), or `session_expired`. */
export async function liveUser(deps: AuthDeps, session: Pick<AuthenticatedUser, 'id' | 'sessionId'>): Promise<User> {
  if (!isUuid(session.id) || !isUuid(session.sessionId)) throw new AuthError('unauthenticated');
  if (!(await deps.store.sessionIsLive({ userId: session.id, sessionId: session.sessionId }))) throw new AuthError('session_expired');
  const user = await deps.store.findUserById(session.id);
  if (!user) throw new AuthError('session_expired');
  return user;
}

/** user_metadata is signed into every access token, which must stay under its 4 KiB cap with the roles (twice) beside it. */
const MAX_USER_METADATA_BYTES = 1024;

/** A `data` / `user_metadata` patch: a JSON object of bounded size, or undefined when absent. */
export function metadataPatch(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new AuthError('bad_request', { message: 'Send data as a JSON object.' });
  // PostgreSQL's jsonb holds neither U+0000 nor a lone surrogate, in a key or a value.
  const text = JSON.stringify(value, (key, entry: unknown) => {
    if (key.includes('\u0000') || LONE_SURROGATE.test(key) || (typeof entry === 'string' && (entry.includes('\u0000') || LONE_SURROGATE.test(entry)))) {
      throw new AuthError('bad_request', { message: 'User data cannot hold U+0000 or a lone surrogate.' });
    }
    return entry;
  });
  if (Buffer.byteLength(text) > MAX_USER_METADATA_BYTES) {
    throw new AuthError('bad_request', { message: `Keep user data under ${MAX_USER_METADATA_BYTES} bytes: it travels in every access token.` });
  }
  return value as Record<string, unknown>;
}

/** Why an address change link cannot be used, as the link codes the account flows answer with. */
const CHANGE_REFUSALS = { used: 'link_used', expired: 'link_expired', wrong_purpose: 'link_invalid', not_found: 'link_invalid' } as const;

/** The user after `PUT /user`, and the address a change was asked for, until its link is used (Identity's `new_email`). */
export interface UpdatedUser {
  user: User;
  newEmail?: string;
}

/**
 * `PUT /user`: the signed-in user changes their own data, password or address, or uses an
 * address-change token (`email_change_token`) inside this session. A password or address
 * change needs the current password (`current_password`) or, as Identity's clients never send
 * one, a session started in the last ten minutes (`reauthentication_required` otherwise): a
 * stolen token that is older changes neither. Every field is checked, and the proof asked, before anything changes.
 */
export async function updateCurrentUser(deps: AuthDeps, session: Pick<AuthenticatedUser, 'id' | 'sessionId'>, fields: Record<string, unknown>, client: ApiClient): Promise<UpdatedUser> {
  const patch = metadataPatch(fields.data);
  if (fields.password !== undefined) chosenPassword(fields);
  const newEmail = fields.email === undefined ? undefined : requestedAddress(fields);
  const changeToken = fields.email_change_token;
  if (changeToken !== undefined && !looksLikeEmailToken(changeToken)) throw new AuthError('link_invalid');
  const user = await liveUser(deps, session);
  const asksChange = newEmail !== undefined && newEmail !== user.email;
  // The proof is asked once, before anything is written, so a refused one has changed nothing.
  const proof = typeof fields.current_password === 'string' ? 'current_password' : 'recent_session';
  const request = { session, fields, ip: client.ip, proof: 'proven' } as const;
  if (fields.password !== undefined || asksChange) await proveOwnership(deps, { ...request, proof });
  if (changeToken !== undefined) {
    const changed = await deps.store.changeEmailInSession({ userId: user.id, sessionId: session.sessionId, tokenHash: emailTokenHash(changeToken as string), ip: client.ip });
    if (changed.status === 'not_live') throw new AuthError('session_expired');
    if (changed.status === 'email_taken') throw new AuthError('link_invalid', { message: 'That address belongs to another account now, so nothing was changed.' });
    if (changed.status !== 'changed') throw new AuthError(CHANGE_REFUSALS[changed.status]);
  }
  if (patch) {
    const updated = await deps.store.updateUserMetadata({ userId: user.id, sessionId: session.sessionId, patch });
    if (updated.status !== 'updated') throw new AuthError('session_expired');
  }
  if (fields.password !== undefined) await changePassword(deps, request);
  if (asksChange) await requestEmailChange(deps, request);
  const after = (await deps.store.findUserById(user.id)) ?? user;
  return asksChange ? { user: after, newEmail } : { user: after };
}

/** What each `type` of `POST /verify` may use: gotrue-js sends `signup` for an invitation too. */
const VERIFY_TYPES: Record<string, readonly UsableLinkPurpose[]> = {
  signup: ['signup', 'invite'],
  invite: ['invite'],
  recovery: ['recovery'],
  email_change: ['email_change'],
};

/**
 * `POST /verify {token, type, password?}`: a mailed link's token used through the API. A
 * recovery or invitation link without a password signs in, and the client sends the new
 * password next (`PUT /user`, within the young-session window), as Identity's clients do.
 */
export function verifyToken(deps: AuthDeps, fields: Record<string, unknown>, client: ApiClient): Promise<LoginResult> {
  const type = text(fields.type);
  const purposes = type !== undefined && Object.hasOwn(VERIFY_TYPES, type) ? VERIFY_TYPES[type] : undefined;
  if (!purposes) throw new AuthError('bad_request', { message: 'Send type "signup", "recovery", "invite" or "email_change".' });
  const linkFields = fields.password === undefined ? {} : { password: fields.password };
  return useMailedLink(deps, { token: fields.token, fields: linkFields, ip: client.ip, userAgent: client.userAgent }, { purposes, passwordLater: true });
}

/**
 * `POST /signup {email, password, data}`: rolegate's sign-up (the same answer for a known and a
 * new address). Identity answers with the user; until the address is confirmed the account is
 * not told apart from a known one, so the answer carries a fresh id, no account's.
 */
export async function signUpUser(deps: AuthDeps, fields: Record<string, unknown>, client: ApiClient): Promise<Record<string, unknown>> {
  const patch = metadataPatch(fields.data);
  const outcome = await signUp(deps, { fields: { email: fields.email, password: fields.password }, ip: client.ip, userAgent: client.userAgent }, {
    session: false, ...(patch ? { userMetadata: patch } : {}),
  });
  if (outcome.status === 'created') return identityUserJson(outcome.user);
  const now = new Date(deps.now() * 1000).toISOString();
  const email = requestedAddress(fields);
  const roles = (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).newUserRoles;
  return {
    id: crypto.randomUUID(), aud: '', role: '', email, confirmed_at: null, confirmation_sent_at: now,
    app_metadata: { provider: 'email', roles }, user_metadata: patch ?? {}, created_at: now, updated_at: now,
  };
}

/** `POST /admin/users`: an admin makes a user with a password (or none: they use recovery) and roles; the address counts as confirmed. */
export async function adminCreateUser(deps: AuthDeps, fields: Record<string, unknown>): Promise<User> {
  const email = requestedAddress(fields);
  const password = fields.password === undefined ? undefined : chosenPassword(fields);
  const appMetadata = fields.app_metadata as { roles?: unknown } | undefined;
  const roles = requestedRoles(appMetadata && typeof appMetadata === 'object' ? appMetadata.roles : undefined, (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).newUserRoles);
  const userMetadata = metadataPatch(fields.user_metadata ?? fields.data) ?? {};
  const passwordHash = password === undefined ? null : await (deps.passwords ?? bcryptHasher).hash(password, deps.config.bcryptCost);
  const created = await deps.store.createUser({ email, passwordHash, roles, userMetadata });
  if (created.status !== 'created') throw new AuthError('user_exists');
  return created.user;
}

/**
 * `PUT /admin/users/{id}`: an admin sets roles (`app_metadata.roles`) and user data. Another
 * user's address or password is not set here: they change it themselves, or get a recovery link.
 */
export async function adminUpdateUser(deps: AuthDeps, userId: string, fields: Record<string, unknown>): Promise<User> {
  if (fields.email !== undefined || fields.password !== undefined) {
    throw new AuthError('bad_request', { message: 'An admin does not set another user\'s address or password; send them a recovery link (POST /recover).' });
  }
  const appMetadata = fields.app_metadata;
  if (appMetadata !== undefined && (appMetadata === null || typeof appMetadata !== 'object' || Array.isArray(appMetadata))) {
    throw new AuthError('bad_request', { message: 'Send app_metadata as a JSON object.' });
  }
  const roles = appMetadata && 'roles' in appMetadata ? requestedRoles((appMetadata as { roles?: unknown }).roles, []) : undefined;
  const patch = metadataPatch(fields.user_metadata);
  let user = await deps.store.findUserById(userId);
  if (!user) throw new AuthError('not_found', { message: 'There is no such user.' });
  if (roles) {
    const updated = await deps.store.setUserRoles(userId, roles);
    if (updated.status !== 'updated') throw new AuthError('not_found', { message: 'There is no such user.' });
    user = updated.user;
  }
  if (patch) {
    const updated = await deps.store.updateUserMetadata({ userId, patch });
    if (updated.status !== 'updated') throw new AuthError('not_found', { message: 'There is no such user.' });
    user = updated.user;
  }
  return user;
}

/** `GET /admin/users?page=&per_page=`: pages of users (page from 1, at most 100 a page). */
export function adminListUsers(deps: AuthDeps, query: Record<string, string | undefined>): Promise<User[]> {
  const number = (value: string | undefined, fallback: number, max: number) => {
    if (value === undefined || value === '') return fallback;
    if (!/^\d{1,6}$/u.test(value) || Number(value) < 1) throw new AuthError('bad_request', { message: 'Send page and per_page as whole numbers from 1.' });
    return Math.min(Number(value), max);
  };
  const perPage = number(query.per_page, 50, 100);
  const page = number(query.page, 1, 100_000);
  return deps.store.listUsers({ limit: perPage, offset: (page - 1) * perPage });
}
