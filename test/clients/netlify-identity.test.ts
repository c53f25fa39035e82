/**
 * The published @netlify/identity 2.x, unmodified, on its server-side path (as in a Netlify
 * Function) against the Identity-compatible API over real HTTP on a real PostgreSQL database.
 * Only the Functions runtime's globals are emulated, as its documented contract has them:
 * `globalThis.netlifyIdentityContext` ({url, token}) and `globalThis.Netlify.context.cookies`
 * (get / set / delete). The API itself is the real handler.
 *
 * Browser-only, and not tested here: oauthLogin, handleAuthCallback and hydrateSession (null
 * on a server), onAuthChange (a no-op), verifyEmailChange (throws outside a browser).
 * updateUser has no server path of its own: it uses gotrue-js's in-memory current user, which
 * on a server is whoever confirmEmail / recoverPassword / acceptInvite last signed in (never the
 * request's nf_jwt), so it is exercised right after recoverPassword only.
 */
import type { HandlerEvent } from '@netlify/functions';
import * as identity from '@netlify/identity';
import { decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthDeps } from '../../src/auth/deps.js';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { refreshTokenHash } from '../../src/core/refresh-token.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { serveHandler, type HandlerServer } from '../auth/handler-server.js';
import { makeDeps, makeUser, PASSWORD, SECRET, SITE } from '../auth/support.js';
import { uniqueEmail } from '../store/contract.js';
import { openTestStore, type TestStore } from '../support/databases.js';

const NEW_PASSWORD = 'a brand new passphrase';

const ACCOUNTS: AccountSettings = {
  ...DEFAULT_ACCOUNT_SETTINGS,
  registration: 'open',
  requireConfirmation: true,
  newUserRoles: ['member'],
  identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled: true },
};

/** The Functions runtime's cookies object: `get(name)`, `set({name, value, …})` or `set(name, value)`, `delete(name)` or `delete({name})`. */
class CookieJar {
  readonly values = new Map<string, string>();
  readonly set_calls: Record<string, unknown>[] = [];
  get(name: string): string | undefined {
    return this.values.get(name);
  }
  set(input: string | { name: string; value: string }, value?: string): void {
    const cookie = typeof input === 'string' ? { name: input, value: value! } : input;
    this.set_calls.push({ ...cookie });
    this.values.set(cookie.name, cookie.value);
  }
  delete(input: string | { name: string }): void {
    this.values.delete(typeof input === 'string' ? input : input.name);
  }
}

type RuntimeGlobals = { netlifyIdentityContext?: { url?: string; token?: string }; Netlify?: { context?: { cookies?: CookieJar } } };
const runtime = globalThis as unknown as RuntimeGlobals;
const before = { hadContext: 'netlifyIdentityContext' in runtime, context: runtime.netlifyIdentityContext, hadNetlify: 'Netlify' in runtime, netlify: runtime.Netlify };

let db: TestStore;
let deps: AuthDeps;
let current: AuthDeps;
let server: HandlerServer;
const events: HandlerEvent[] = [];

beforeAll(async () => {
  db = await openTestStore();
  deps = { ...makeDeps(db.store), accounts: ACCOUNTS, kickMail: async () => {} };
  current = deps;
  const handler = identityApiHandler(async () => current);
  server = await serveHandler(async (event) => {
    events.push(event);
    return handler(event);
  });
  invocation();
});
afterAll(async () => {
  if (before.hadContext) runtime.netlifyIdentityContext = before.context;
  else delete runtime.netlifyIdentityContext;
  if (before.hadNetlify) runtime.Netlify = before.netlify;
  else delete runtime.Netlify;
  await server?.close();
  await db?.close();
});

const apiUrl = () => `${server.origin}/auth/identity`;

/** One function invocation's globals: the Identity context (with an operator token or none) and a fresh cookie jar, or the given one. */
function invocation(options: { token?: string; jar?: CookieJar } = {}): CookieJar {
  const jar = options.jar ?? new CookieJar();
  runtime.netlifyIdentityContext = { url: apiUrl(), ...(options.token ? { token: options.token } : {}) };
  runtime.Netlify = { context: { cookies: jar } };
  return jar;
}

async function failure(promise: Promise<unknown>): Promise<identity.AuthError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(identity.AuthError);
    return error as identity.AuthError;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

async function mailedToken(email: string, template: string, key: string): Promise<string> {
  const { rows } = await db.sql.query<{ template: string; sealed: string | null }>(
    'update rolegate.mail_outbox set sent_at = now() where recipient = $1 and sent_at is null returning template, sealed', [email]);
  expect(rows.map((r) => r.template)).toEqual([template]);
  const link = new URL((JSON.parse(openMailSecret([new Secret(SECRET)], rows[0]!.sealed!)!) as { url: string }).url);
  expect(`${link.origin}${link.pathname}`).toBe(`${SITE}/`);
  return new URLSearchParams(link.hash.slice(1)).get(key)!;
}

async function userRow(email: string) {
  const { rows } = await db.sql.query('select id, roles, email_confirmed_at, user_metadata, password_hash from rolegate.users where email = $1', [email]);
  return rows[0] as { id: string; roles: string[]; email_confirmed_at: Date | null; user_metadata: Record<string, unknown>; password_hash: string | null } | undefined;
}

async function refreshTokenRow(token: string) {
  const { rows } = await db.sql.query<{ session_id: string; used_at: Date | null; revoked_at: Date | null; session_revoked_at: Date | null }>(
    `select t.session_id, t.used_at, t.revoked_at, s.revoked_at as session_revoked_at
     from rolegate.refresh_tokens t join rolegate.sessions s on s.id = t.session_id where t.token_hash = $1`, [refreshTokenHash(token)]);
  return rows[0];
}

/** Signs in as a function would (server-side login), returning the jar with nf_jwt and nf_refresh. */
async function signedIn(email: string, password = PASSWORD): Promise<CookieJar> {
  const jar = invocation();
  await identity.login(email, password);
  expect(jar.get('nf_jwt')).toMatch(/^ey/u);
  return jar;
}

describe('@netlify/identity, server-side: settings, sign-up, confirmation, login, getUser, logout', () => {
  it('reads the settings', async () => {
    invocation();
    // gotrue-js, which it makes on first use, warns about the test server's plain HTTP.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const settings = await identity.getSettings().finally(() => warn.mockRestore());
    expect(settings).toEqual({
      autoconfirm: false, disableSignup: false,
      providers: { google: false, github: false, gitlab: false, bitbucket: false, facebook: false, email: true },
    });
  });

  it('signs up, confirms by the mailed token, logs in with nf_jwt and nf_refresh set, reads the user and logs out for real', async () => {
    const email = uniqueEmail('nid-signup');
    let jar = invocation();
    const signedUp = await identity.signup(email, PASSWORD);
    expect(signedUp).toMatchObject({ email, roles: ['member'], confirmedAt: undefined });
    expect(jar.values.size).toBe(0);
    expect(await userRow(email)).toMatchObject({ roles: ['member'], email_confirmed_at: null });

    const early = await failure(identity.login(email, PASSWORD));
    expect([early.status, early.message]).toEqual([403, 'Confirm your address first: open the link we mailed you.']);
    expect(jar.values.size).toBe(0);

    const confirmed = await identity.confirmEmail(await mailedToken(email, 'signup', 'confirmation_token'));
    expect(confirmed).toMatchObject({ email, roles: ['member'] });
    expect(Number.isNaN(Date.parse(confirmed.confirmedAt!))).toBe(false);
    const row = await userRow(email);
    expect([confirmed.id, row!.email_confirmed_at instanceof Date]).toEqual([row!.id, true]);

    jar = invocation();
    const user = await identity.login(email, PASSWORD);
    expect(user).toMatchObject({ id: row!.id, email, roles: ['member'], provider: 'email' });
    expect(jar.set_calls.map((c) => c.name)).toEqual(['nf_jwt', 'nf_refresh']);
    const jwt = jar.get('nf_jwt')!;
    const refresh = jar.get('nf_refresh')!;
    const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] });
    expect(payload).toMatchObject({ sub: row!.id, email, app_metadata: { roles: ['member'], authorization: { roles: ['member'] } } });
    // nf_refresh is this session's live refresh token.
    const refreshRow = await refreshTokenRow(refresh);
    expect(refreshRow).toMatchObject({ session_id: payload.sid, used_at: null, revoked_at: null, session_revoked_at: null });

    // getUser reads GET /user with the request's nf_jwt (the full user: createdAt comes from there only).
    const read = await identity.getUser();
    expect(read).toMatchObject({ id: row!.id, email, roles: ['member'] });
    expect(read!.createdAt).toBeTruthy();
    expect(await identity.isAuthenticated()).toBe(true);

    await identity.logout();
    const logoutCall = events.at(-1)!;
    expect([logoutCall.path, logoutCall.httpMethod, logoutCall.headers.authorization]).toEqual(['/auth/identity/logout', 'POST', `Bearer ${jwt}`]);
    expect([...jar.values.keys()]).toEqual([]);
    expect(await identity.getUser()).toBeNull();
    expect((await refreshTokenRow(refresh))!.session_revoked_at).toBeInstanceOf(Date);
    // A request still carrying the ended session's cookies is nobody's.
    invocation({ jar: Object.assign(new CookieJar(), { values: new Map([['nf_jwt', jwt], ['nf_refresh', refresh]]) }) });
    expect(await identity.getUser()).toBeNull();
    const again = await fetch(`${apiUrl()}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh }) });
    expect(again.status).toBe(401);
  });

  it('rejects a wrong password with a readable 401, the same for an unknown address, and sets no cookie', async () => {
    const account = await makeUser(db.store);
    const jar = invocation();
    const wrong = await failure(identity.login(account.email, 'not the password at all'));
    expect([wrong.status, wrong.message]).toEqual([401, 'The email or password is not right.']);
    const unknown = await failure(identity.login(uniqueEmail('nid-unknown'), 'not the password at all'));
    expect([unknown.status, unknown.message]).toEqual([wrong.status, wrong.message]);
    expect(jar.values.size).toBe(0);
  });

  it('rejects a sign-up with 403 when registration is closed', async () => {
    current = { ...deps, accounts: { ...ACCOUNTS, registration: 'closed' } };
    try {
      invocation();
      expect((await identity.getSettings()).disableSignup).toBe(true);
      const email = uniqueEmail('nid-closed');
      const refused = await failure(identity.signup(email, PASSWORD));
      expect([refused.status, refused.message]).toEqual([403, 'This site does not take sign-ups. Ask its owner for an invitation.']);
      expect(await userRow(email)).toBeUndefined();
    } finally {
      current = deps;
    }
  });
});

describe('@netlify/identity, server-side: recovery and invitations', () => {
  it('requestPasswordRecovery mails a token, recoverPassword sets the new password, and updateUser then changes the user data', async () => {
    const account = await makeUser(db.store);
    const other = await signedIn(account.email);
    invocation();
    await identity.requestPasswordRecovery(account.email);
    const token = await mailedToken(account.email, 'recovery', 'recovery_token');
    const recovered = await identity.recoverPassword(token, NEW_PASSWORD);
    expect([recovered.id, recovered.email]).toEqual([account.id, account.email]);
    expect((await failure(identity.login(account.email, PASSWORD))).status).toBe(401);
    await signedIn(account.email, NEW_PASSWORD);
    // The new password ended the session signed in before.
    expect((await refreshTokenRow(other.get('nf_refresh')!))!.session_revoked_at).toBeInstanceOf(Date);
    // The token works once. (Calls that go through gotrue-js keep the HTTP status on the cause only.)
    const reused = await failure(identity.recoverPassword(token, 'another long passphrase'));
    expect([(reused.cause as { status?: number }).status, reused.message]).toEqual([410, expect.stringMatching(/^[A-Z].{10,}/u)]);
    expect(reused.message).not.toContain('undefined');

    const updated = await identity.updateUser({ data: { full_name: 'Grace Hopper' } });
    expect([updated.id, updated.name, updated.userMetadata]).toEqual([account.id, 'Grace Hopper', { full_name: 'Grace Hopper' }]);
    expect((await userRow(account.email))!.user_metadata).toEqual({ full_name: 'Grace Hopper' });
  });

  it('acceptInvite takes an invitation an admin sent (POST /invite) and signs in with the password chosen', async () => {
    const admin = await makeUser(db.store, ['admin']);
    const adminJwt = (await signedIn(admin.email)).get('nf_jwt')!;
    const email = uniqueEmail('nid-invited');
    const invited = await fetch(`${apiUrl()}/invite`, {
      method: 'POST', headers: { authorization: `Bearer ${adminJwt}`, 'content-type': 'application/json' }, body: JSON.stringify({ email, roles: ['editor'] }),
    });
    expect(invited.status).toBe(200);
    invocation();
    const accepted = await identity.acceptInvite(await mailedToken(email, 'invite', 'invite_token'), NEW_PASSWORD);
    expect(accepted).toMatchObject({ email, roles: ['editor'] });
    expect(accepted.confirmedAt).toBeTruthy();
    const jar = await signedIn(email, NEW_PASSWORD);
    expect((decodeJwt(jar.get('nf_jwt')!) as { app_metadata: { roles: string[] } }).app_metadata.roles).toEqual(['editor']);
  });
});

describe('@netlify/identity, server-side: refreshSession', () => {
  it('leaves a token far from expiry alone, renews one about to expire, and clears the cookies of an ended session', async () => {
    const account = await makeUser(db.store);
    let jar = await signedIn(account.email);
    const requests = events.length;
    expect(await identity.refreshSession()).toBeNull();
    expect(events.length).toBe(requests);

    // Access tokens of 30 seconds are always within its 60-second margin.
    current = { ...deps, config: { ...deps.config, accessTokenTtlSeconds: 30 } };
    try {
      jar = await signedIn(account.email);
      const [jwt, refresh] = [jar.get('nf_jwt')!, jar.get('nf_refresh')!];
      const renewed = await identity.refreshSession();
      expect([events.at(-1)!.path, events.at(-1)!.body]).toEqual(['/auth/identity/token', new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh }).toString()]);
      expect(renewed).toMatch(/^ey/u);
      expect(decodeJwt(renewed!)).toMatchObject({ sub: account.id, sid: decodeJwt(jwt).sid });
      expect(jar.get('nf_jwt')).toBe(renewed);
      expect(jar.get('nf_refresh')).not.toBe(refresh);
      expect((await refreshTokenRow(refresh))!.used_at).toBeInstanceOf(Date);
      expect(await refreshTokenRow(jar.get('nf_refresh')!)).toMatchObject({ session_id: decodeJwt(renewed!).sid, used_at: null, session_revoked_at: null });

      // Signed out elsewhere: the refresh is refused (401), which it reads as signed out.
      const ended = await fetch(`${apiUrl()}/logout`, { method: 'POST', headers: { authorization: `Bearer ${renewed}` } });
      expect(ended.status).toBe(204);
      expect(await identity.refreshSession()).toBeNull();
      expect([...jar.values.keys()]).toEqual([]);
    } finally {
      current = deps;
    }
  });
});

describe('@netlify/identity, server-side: admin', () => {
  it('lists, reads, creates, updates and deletes users with an admin\'s token; a member\'s token gets a readable 403', async () => {
    const admin = await makeUser(db.store, ['admin']);
    const member = await makeUser(db.store, ['member']);
    const adminJwt = (await signedIn(admin.email)).get('nf_jwt')!;
    const memberJar = await signedIn(member.email);
    invocation({ token: adminJwt });

    const listed = await identity.admin.listUsers();
    expect(listed.find((u) => u.id === member.id)).toMatchObject({ email: member.email, roles: ['member'] });
    expect(listed.find((u) => u.id === admin.id)?.roles).toEqual(['admin']);
    const [first] = await identity.admin.listUsers({ page: 1, perPage: 1 });
    const second = await identity.admin.listUsers({ page: 2, perPage: 1 });
    expect(second).toHaveLength(1);
    expect(second[0]!.id).not.toBe(first!.id);
    expect(listed.length).toBeGreaterThan(2);

    const read = await identity.admin.getUser(member.id);
    expect([read.id, read.email, read.roles]).toEqual([member.id, member.email, ['member']]);
    const missing = await failure(identity.admin.getUser(crypto.randomUUID()));
    expect([missing.status, missing.message]).toEqual([404, 'There is no such user.']);

    // createUser (it sends confirm: true): a confirmed user with the password, roles and data given.
    const createdEmail = uniqueEmail('nid-created');
    const created = await identity.admin.createUser({
      email: createdEmail, password: NEW_PASSWORD, data: { app_metadata: { roles: ['editor'] }, user_metadata: { full_name: 'Ada Lovelace' } },
    });
    expect(created).toMatchObject({ email: createdEmail, roles: ['editor'], name: 'Ada Lovelace' });
    expect(created.confirmedAt).toBeTruthy();
    expect(await userRow(createdEmail)).toMatchObject({ id: created.id, roles: ['editor'], user_metadata: { full_name: 'Ada Lovelace' } });
    await signedIn(createdEmail, NEW_PASSWORD);
    invocation({ token: adminJwt });
    const duplicate = await failure(identity.admin.createUser({ email: createdEmail, password: NEW_PASSWORD }));
    expect([duplicate.status, duplicate.message]).toEqual([409, 'That address already has an account.']);

    // updateUser: roles and user data; the member's next refresh carries the roles.
    const updated = await identity.admin.updateUser(member.id, { app_metadata: { roles: ['member', 'editor'] }, user_metadata: { team: 'docs' } });
    expect([updated.roles, updated.userMetadata]).toEqual([['member', 'editor'], { team: 'docs' }]);
    expect(await userRow(member.email)).toMatchObject({ roles: ['member', 'editor'], user_metadata: { team: 'docs' } });
    const refreshed = await fetch(`${apiUrl()}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: memberJar.get('nf_refresh')! }),
    });
    expect(decodeJwt(((await refreshed.json()) as { access_token: string }).access_token)).toMatchObject({ app_metadata: { roles: ['member', 'editor'] }, user_metadata: { team: 'docs' } });
    // Another user's password or address is not an admin's to set here (Identity's admin API allows it).
    const hashBefore = (await userRow(member.email))!.password_hash;
    const noPassword = await failure(identity.admin.updateUser(member.id, { password: 'an admin chose this one' }));
    expect([noPassword.status, noPassword.message]).toEqual([400, 'An admin does not set another user\'s address or password; send them a recovery link (POST /recover).']);
    expect((await userRow(member.email))!.password_hash).toBe(hashBefore);

    // A member's token opens none of it.
    invocation({ token: memberJar.get('nf_jwt')! });
    const forbidden = await failure(identity.admin.listUsers());
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).not.toMatch(/Admin request failed|undefined/u);
    expect((await failure(identity.admin.deleteUser(admin.id))).status).toBe(403);
    expect(await userRow(admin.email)).toBeDefined();

    invocation({ token: adminJwt });
    await identity.admin.deleteUser(member.id);
    expect(await userRow(member.email)).toBeUndefined();
    expect((await failure(identity.admin.getUser(member.id))).status).toBe(404);
    expect((await identity.admin.listUsers()).some((u) => u.id === member.id)).toBe(false);
  });
});
