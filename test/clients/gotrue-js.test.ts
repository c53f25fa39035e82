/**
 * The published gotrue-js client, unmodified, against the Identity-compatible API over real
 * HTTP (serveHandler) on a real PostgreSQL database: sign-up and confirmation by the mailed
 * token, password change, recovery, invitations, the admin calls, error shapes, refresh-token
 * reuse and the X-Use-Cookie header, each checked in what came back and in the database.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import GoTrue, { JSONHTTPError, type User } from 'gotrue-js';
import { decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthDeps } from '../../src/auth/deps.js';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { serveHandler, type HandlerServer } from '../auth/handler-server.js';
import { makeDeps, makeUser, PASSWORD, SECRET, SITE } from '../auth/support.js';
import { uniqueEmail } from '../store/contract.js';
import { openTestStore, type TestStore } from '../support/databases.js';

const NEW_PASSWORD = 'a brand new passphrase';
const THIRD_PASSWORD = 'yet another long passphrase';
const GRACE_SECONDS = 1;

const ACCOUNTS: AccountSettings = {
  ...DEFAULT_ACCOUNT_SETTINGS,
  registration: 'open',
  requireConfirmation: true,
  newUserRoles: ['member'],
  identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled: true },
};

let db: TestStore;
let deps: AuthDeps;
let current: AuthDeps;
let server: HandlerServer;
/** Every request the handler answered, with its answer, to see the headers and cookies gotrue-js never shows. */
const exchanges: { event: HandlerEvent; response: HandlerResponse }[] = [];

beforeAll(async () => {
  db = await openTestStore();
  deps = { ...makeDeps(db.store, { REFRESH_GRACE_SECONDS: String(GRACE_SECONDS) }), accounts: ACCOUNTS, kickMail: async () => {} };
  current = deps;
  const handler = identityApiHandler(async () => current);
  server = await serveHandler(async (event) => {
    const response = await handler(event);
    exchanges.push({ event, response });
    return response;
  });
});
afterAll(async () => {
  await server?.close();
  await db?.close();
});

const apiUrl = () => `${server.origin}/auth/identity`;

/** A gotrue-js client on the test server (its warning about plain HTTP on 127.0.0.1 silenced). */
function gotrue(options: { setCookie?: boolean } = {}): GoTrue {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    return new GoTrue({ APIUrl: apiUrl(), ...options });
  } finally {
    warn.mockRestore();
  }
}

/** What a promise rejected with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<JSONHTTPError> {
  try {
    await promise;
  } catch (error) {
    return error as JSONHTTPError;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

/** The unsent mails to `email`, in order, marked sent, with the link opened from the sealed column. */
async function mailsTo(email: string): Promise<{ template: string; link: URL | null }[]> {
  const { rows } = await db.sql.query<{ id: string; template: string; sealed: string | null }>(
    'update rolegate.mail_outbox set sent_at = now() where recipient = $1 and sent_at is null returning id, template, sealed', [email]);
  return rows.sort((a, b) => Number(a.id) - Number(b.id)).map((m) => ({
    template: m.template,
    link: m.sealed ? new URL((JSON.parse(openMailSecret([new Secret(SECRET)], m.sealed)!) as { url: string }).url) : null,
  }));
}

/** The one mail just sent to `email`: its template, and the token in Identity's `<site>/#<key>=<token>` link. */
async function mailedToken(email: string, template: string, key: string): Promise<string> {
  const mails = await mailsTo(email);
  expect(mails.map((m) => m.template)).toEqual([template]);
  const link = mails[0]!.link!;
  expect(`${link.origin}${link.pathname}${link.search}`).toBe(`${SITE}/`);
  const fragment = new URLSearchParams(link.hash.slice(1));
  expect([...fragment.keys()]).toEqual([key]);
  return fragment.get(key)!;
}

async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(`${apiUrl()}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const tokenRequest = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
  raw('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });

const refreshRaw = (refreshToken: string) => tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });

const bearerGet = (path: string, accessToken: string) => raw(path, { headers: { authorization: `Bearer ${accessToken}` } });

async function userRow(email: string) {
  const { rows } = await db.sql.query('select id, email, roles, email_confirmed_at, user_metadata, password_hash from rolegate.users where email = $1', [email]);
  return rows[0] as { id: string; email: string; roles: string[]; email_confirmed_at: Date | null; user_metadata: Record<string, unknown>; password_hash: string | null } | undefined;
}

async function sessionRevokedAt(accessToken: string): Promise<Date | null | undefined> {
  const { sid } = decodeJwt(accessToken) as { sid: string };
  const { rows } = await db.sql.query<{ revoked_at: Date | null }>('select revoked_at from rolegate.sessions where id = $1', [sid]);
  return rows[0]?.revoked_at;
}

const claimsOf = (user: User) => decodeJwt(user.tokenDetails()!.access_token) as { sub: string; app_metadata: { roles: string[]; authorization: { roles: string[] } } };

describe('gotrue-js: sign-up, confirmation, password change, recovery, logout', () => {
  it('signs up, confirms by the mailed token, changes the password in the young session, recovers it and logs out for real', async () => {
    const email = uniqueEmail('signup');
    const auth = gotrue();
    const settings = await auth.settings();
    expect([settings.disable_signup, settings.autoconfirm]).toEqual([false, false]);

    // (The sign-up's `data` is dropped when a confirmation is asked: test/clients/gotrue-js-signup-data.pending.ts.)
    const signedUp = await auth.signup(email, PASSWORD);
    expect(signedUp).toMatchObject({ email, confirmed_at: null, app_metadata: { roles: ['member'] } });
    const row = await userRow(email);
    expect(row).toMatchObject({ roles: ['member'], email_confirmed_at: null });
    // Until confirmed, the answer names no account (the same answer as for a known address), so its id is not the row's.
    expect(signedUp.id).toMatch(/^[0-9a-f-]{36}$/u);
    expect(signedUp.id).not.toBe(row!.id);

    const early = await rejection(gotrue().login(email, PASSWORD));
    expect(early).toBeInstanceOf(JSONHTTPError);
    expect([early.status, early.json.error, early.message]).toEqual([403, 'invalid_grant', 'Confirm your address first: open the link we mailed you.']);

    const confirmationToken = await mailedToken(email, 'signup', 'confirmation_token');
    const user = await auth.confirm(confirmationToken);
    expect(user.id).toBe(row!.id);
    expect(user.email).toBe(email);
    expect(user.app_metadata.roles).toEqual(ACCOUNTS.newUserRoles);
    expect(Number.isNaN(Date.parse(user.confirmed_at!))).toBe(false);
    expect((await userRow(email))!.email_confirmed_at).toBeInstanceOf(Date);
    expect(claimsOf(user)).toMatchObject({ sub: row!.id, app_metadata: { roles: ['member'], authorization: { roles: ['member'] } } });
    // getUserData reads GET /user afresh.
    const reread = await user.getUserData();
    expect([reread.email, reread.confirmed_at, reread.app_metadata.roles]).toEqual([email, user.confirmed_at, ['member']]);
    // The mailed token works once.
    const reused = await rejection(gotrue().confirm(confirmationToken));
    expect([reused.status, reused.message.length > 0, reused.message.includes('undefined')]).toEqual([410, true, false]);

    // A session that has just started may set a new password without the current one.
    const hashBefore = (await userRow(email))!.password_hash;
    const updated = await user.update({ password: NEW_PASSWORD });
    expect(updated.email).toBe(email);
    expect((await userRow(email))!.password_hash).not.toBe(hashBefore);
    const oldPassword = await rejection(gotrue().login(email, PASSWORD));
    expect([oldPassword.status, oldPassword.json.error]).toEqual([401, 'invalid_grant']);
    const withNew = await gotrue().login(email, NEW_PASSWORD);
    expect(withNew.id).toBe(user.id);

    // Recovery: the mailed token signs in, then the new password is set in that young session.
    await expect(auth.requestPasswordRecovery(email)).resolves.toEqual({});
    const recoveryToken = await mailedToken(email, 'recovery', 'recovery_token');
    const recovered = await auth.recover(recoveryToken);
    expect([recovered.id, recovered.email]).toEqual([user.id, email]);
    await recovered.update({ password: THIRD_PASSWORD });
    expect((await rejection(gotrue().login(email, NEW_PASSWORD))).status).toBe(401);
    // Setting the password ended the user's other sessions and kept this one.
    const withNewRefresh = withNew.tokenDetails()!.refresh_token;
    expect((await refreshRaw(withNewRefresh)).status).toBe(401);
    await expect(recovered.jwt(true)).resolves.toMatch(/^ey/u);

    const last = await gotrue().login(email, THIRD_PASSWORD);
    const { access_token: access, refresh_token: refresh } = last.tokenDetails()!;
    expect(await sessionRevokedAt(access)).toBeNull();
    await last.logout();
    expect(last.tokenDetails()).toBeNull();
    // The server ended the session: its refresh token no longer refreshes, its access token reads nothing.
    expect(await sessionRevokedAt(access)).toBeInstanceOf(Date);
    const refused = await refreshRaw(refresh);
    expect([refused.status, refused.body.error]).toEqual([401, 'invalid_grant']);
    const afterLogout = await bearerGet('/user', access);
    expect([afterLogout.status, afterLogout.body.error_code]).toEqual([401, 'session_expired']);
    // Only this session: the recovery session goes on.
    await expect(recovered.jwt(true)).resolves.toMatch(/^ey/u);
  });

  it('changes the address: update({email}) mails the new one a token, update({email_change_token}) moves the account', async () => {
    const account = await makeUser(db.store);
    const user = await gotrue().login(account.email, PASSWORD);
    const newEmail = uniqueEmail('moved');
    const asked = await user.update({ email: newEmail });
    // The address is still the old one until the link is used; the one asked for is new_email.
    expect([asked.email, asked.new_email]).toEqual([account.email, newEmail]);
    expect((await mailsTo(account.email)).map((m) => [m.template, m.link])).toEqual([['email_change_notice', null]]);
    const token = await mailedToken(newEmail, 'email_change', 'email_change_token');
    expect((await userRow(account.email))?.id).toBe(account.id);

    const moved = await user.update({ email_change_token: token });
    expect([moved.id, moved.email]).toEqual([account.id, newEmail]);
    // It moved inside this session: no second session was started for nobody to hold.
    const live = await db.sql.query('select id from rolegate.sessions where user_id = $1 and revoked_at is null', [account.id]);
    expect(live.rows.map((r) => r.id)).toEqual([decodeJwt(user.tokenDetails()!.access_token).sid]);
    expect(await userRow(account.email)).toBeUndefined();
    expect((await userRow(newEmail))?.id).toBe(account.id);
    expect((await gotrue().login(newEmail, PASSWORD)).id).toBe(account.id);
    expect((await rejection(gotrue().login(account.email, PASSWORD))).status).toBe(401);
    expect((await rejection(user.update({ email_change_token: token }))).status).toBe(410);
    // The session that moved it goes on, and its next token carries the new address.
    await user.jwt(true);
    expect(decodeJwt(user.tokenDetails()!.access_token).email).toBe(newEmail);
  });

  it('keeps the data sent with a sign-up as user_metadata, through the confirmation', async () => {
    const email = uniqueEmail('signup-data');
    const auth = gotrue();
    const signedUp = await auth.signup(email, PASSWORD, { full_name: 'Ada Lovelace' });
    expect(signedUp.user_metadata).toEqual({ full_name: 'Ada Lovelace' });
    expect((await userRow(email))?.user_metadata).toEqual({ full_name: 'Ada Lovelace' });
    const user = await auth.confirm(await mailedToken(email, 'signup', 'confirmation_token'));
    expect(user.user_metadata).toEqual({ full_name: 'Ada Lovelace' });
    // A sign-up for a known address answers the same and leaves its data alone.
    const known = await makeUser(db.store);
    expect((await auth.signup(known.email, PASSWORD, { full_name: 'Mallory' })).user_metadata).toEqual({ full_name: 'Mallory' });
    expect((await userRow(known.email))?.user_metadata).toEqual({});
  });

  it('keeps user data from update({data}) in the user and in the next access token; a key sent as null goes', async () => {
    const account = await makeUser(db.store);
    const user = await gotrue().login(account.email, PASSWORD);
    const updated = await user.update({ data: { full_name: 'Grace Hopper', team: 'navy' } });
    expect(updated.user_metadata).toEqual({ full_name: 'Grace Hopper', team: 'navy' });
    expect((await userRow(account.email))!.user_metadata).toEqual({ full_name: 'Grace Hopper', team: 'navy' });
    await user.jwt(true);
    expect(decodeJwt(user.tokenDetails()!.access_token).user_metadata).toEqual({ full_name: 'Grace Hopper', team: 'navy' });
    expect((await user.update({ data: { team: null } })).user_metadata).toEqual({ full_name: 'Grace Hopper' });
    const tooBig = await rejection(user.update({ data: { blob: 'x'.repeat(3000) } }));
    expect([tooBig.status, tooBig.message]).toEqual([400, 'Keep user data under 1024 bytes: it travels in every access token.']);
  });

  it('refuses a password or address change from a session older than ten minutes unless it sends the current password', async () => {
    const account = await makeUser(db.store);
    const user = await gotrue().login(account.email, PASSWORD);
    const { sid } = decodeJwt(user.tokenDetails()!.access_token) as { sid: string };
    await db.sql.query("update rolegate.sessions set created_at = now() - interval '11 minutes' where id = $1", [sid]);
    const hashBefore = (await userRow(account.email))!.password_hash;

    const refused = await rejection(user.update({ password: NEW_PASSWORD }));
    expect([refused.status, refused.json]).toEqual([403, expect.objectContaining({ error_code: 'reauthentication_required', msg: expect.stringMatching(/^Sign in again first/u) })]);
    const newEmail = uniqueEmail('stolen');
    expect((await rejection(user.update({ email: newEmail }))).status).toBe(403);
    expect((await userRow(account.email))!.password_hash).toBe(hashBefore);
    expect(await mailsTo(newEmail)).toEqual([]);
    // Its data is no such change.
    expect((await user.update({ data: { note: 'still fine' } })).user_metadata).toEqual({ note: 'still fine' });

    const wrongCurrent = await rejection(user.update({ password: NEW_PASSWORD, current_password: 'not the password at all' }));
    expect([wrongCurrent.status, wrongCurrent.json.error_code]).toEqual([403, 'wrong_password']);
    await user.update({ password: NEW_PASSWORD, current_password: PASSWORD });
    expect((await gotrue().login(account.email, NEW_PASSWORD)).id).toBe(account.id);
  });

  it('answers a recovery request for an unknown address the same way, and mails nobody', async () => {
    const email = uniqueEmail('nobody');
    await expect(gotrue().requestPasswordRecovery(email)).resolves.toEqual({});
    expect(await mailsTo(email)).toEqual([]);
  });
});

describe('gotrue-js: error shapes', () => {
  it('rejects a wrong password with a readable 401 JSONHTTPError', async () => {
    const user = await makeUser(db.store);
    const wrong = await rejection(gotrue().login(user.email, 'not the password at all'));
    expect(wrong).toBeInstanceOf(JSONHTTPError);
    expect(wrong.status).toBe(401);
    expect(wrong.message).toBe('The email or password is not right.');
    expect(wrong.json).toMatchObject({ error: 'invalid_grant', error_description: 'The email or password is not right.', msg: 'The email or password is not right.' });
    // An unknown address gets the very same answer.
    const unknown = await rejection(gotrue().login(uniqueEmail('unknown'), 'not the password at all'));
    expect([unknown.status, unknown.json]).toEqual([wrong.status, wrong.json]);
  });

  it('rejects a sign-up with 403 when registration is closed, and settings says so', async () => {
    current = { ...deps, accounts: { ...ACCOUNTS, registration: 'closed' } };
    try {
      const auth = gotrue();
      expect((await auth.settings()).disable_signup).toBe(true);
      const email = uniqueEmail('closed');
      const refused = await rejection(auth.signup(email, PASSWORD));
      expect(refused).toBeInstanceOf(JSONHTTPError);
      expect([refused.status, refused.message]).toEqual([403, 'This site does not take sign-ups. Ask its owner for an invitation.']);
      expect(await userRow(email)).toBeUndefined();
      expect(await mailsTo(email)).toEqual([]);
    } finally {
      current = deps;
    }
  });
});

describe('gotrue-js: invitations', () => {
  it('an admin invites (POST /invite with its bearer token) and acceptInvite sets the password and signs in', async () => {
    const adminUser = await makeUser(db.store, ['admin']);
    const admin = await gotrue().login(adminUser.email, PASSWORD);
    const email = uniqueEmail('invited');
    const invited = await raw('/invite', {
      method: 'POST',
      headers: { authorization: `Bearer ${await admin.jwt()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, app_metadata: { roles: ['editor'] } }),
    });
    expect(invited.status).toBe(200);
    expect(invited.body).toMatchObject({ email, confirmed_at: null, app_metadata: { roles: ['editor'] } });
    expect(await userRow(email)).toMatchObject({ roles: ['editor'], password_hash: null });

    const token = await mailedToken(email, 'invite', 'invite_token');
    const accepted = await gotrue().acceptInvite(token, NEW_PASSWORD);
    expect([accepted.id, accepted.email, accepted.app_metadata.roles]).toEqual([invited.body.id, email, ['editor']]);
    expect(accepted.confirmed_at).toBeTruthy();
    expect(claimsOf(accepted).app_metadata.authorization.roles).toEqual(['editor']);
    expect((await gotrue().login(email, NEW_PASSWORD)).id).toBe(accepted.id);
    expect((await rejection(gotrue().acceptInvite(token, THIRD_PASSWORD))).status).toBe(410);
    expect((await rejection(gotrue().login(email, THIRD_PASSWORD))).status).toBe(401);
  });

  it('an invitation accepted without a password signs in, and the password follows by PUT /user', async () => {
    const adminUser = await makeUser(db.store, ['admin']);
    const admin = await gotrue().login(adminUser.email, PASSWORD);
    const email = uniqueEmail('invited-later');
    const invited = await raw('/invite', {
      method: 'POST',
      headers: { authorization: `Bearer ${await admin.jwt()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    expect([invited.status, invited.body.app_metadata.roles]).toEqual([200, ['member']]);
    const token = await mailedToken(email, 'invite', 'invite_token');
    const signedIn = await gotrue().verify('invite', token);
    expect(signedIn.email).toBe(email);
    await signedIn.update({ password: NEW_PASSWORD });
    expect((await gotrue().login(email, NEW_PASSWORD)).id).toBe(signedIn.id);
  });

  it('a member cannot invite', async () => {
    const memberUser = await makeUser(db.store, ['member']);
    const member = await gotrue().login(memberUser.email, PASSWORD);
    const email = uniqueEmail('not-invited');
    const refused = await raw('/invite', {
      method: 'POST',
      headers: { authorization: `Bearer ${await member.jwt()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    expect([refused.status, refused.body.error_code, typeof refused.body.msg]).toEqual([403, 'forbidden', 'string']);
    expect(await userRow(email)).toBeUndefined();
  });
});

describe('gotrue-js: admin', () => {
  it('lists, reads, creates, updates and deletes users as an admin; a member gets a readable 403', async () => {
    const adminUser = await makeUser(db.store, ['admin']);
    const memberUser = await makeUser(db.store, ['member']);
    const admin = await gotrue().login(adminUser.email, PASSWORD);
    const member = await gotrue().login(memberUser.email, PASSWORD);

    const listed = (await admin.admin.listUsers('')) as unknown as { users: { id: string; email: string; app_metadata: { roles: string[] } }[] };
    expect(listed.users.find((u) => u.id === memberUser.id)).toMatchObject({ email: memberUser.email, app_metadata: { roles: ['member'] } });
    expect(listed.users.find((u) => u.id === adminUser.id)?.app_metadata.roles).toEqual(['admin']);

    const forbidden = await rejection(member.admin.listUsers(''));
    expect(forbidden).toBeInstanceOf(JSONHTTPError);
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).toBe(forbidden.json.msg);
    expect(forbidden.message.length).toBeGreaterThan(5);
    expect(forbidden.message).not.toContain('undefined');

    const read = await admin.admin.getUser({ id: memberUser.id } as never);
    expect([read.id, read.email, read.app_metadata.roles]).toEqual([memberUser.id, memberUser.email, ['member']]);
    expect((await rejection(member.admin.getUser({ id: adminUser.id } as never))).status).toBe(403);

    // The role an admin sets is in the user's next refresh and next login.
    const updated = await admin.admin.updateUser({ id: memberUser.id } as never, { app_metadata: { roles: ['editor'] } });
    expect(updated.app_metadata.roles).toEqual(['editor']);
    expect((await userRow(memberUser.email))!.roles).toEqual(['editor']);
    expect(claimsOf(member).app_metadata.roles).toEqual(['member']);
    await member.jwt(true);
    expect(claimsOf(member).app_metadata).toMatchObject({ roles: ['editor'], authorization: { roles: ['editor'] } });
    expect((await member.getUserData()).app_metadata.roles).toEqual(['editor']);
    expect(claimsOf(await gotrue().login(memberUser.email, PASSWORD)).app_metadata.roles).toEqual(['editor']);

    // createUser: a confirmed user with a password and the roles given.
    const createdEmail = uniqueEmail('created');
    const created = await admin.admin.createUser(createdEmail, NEW_PASSWORD, { app_metadata: { roles: ['member'] } });
    expect(created).toMatchObject({ email: createdEmail, app_metadata: { roles: ['member'] } });
    expect(created.confirmed_at).toBeTruthy();
    expect((await gotrue().login(createdEmail, NEW_PASSWORD)).id).toBe(created.id);
    const duplicate = await rejection(admin.admin.createUser(createdEmail, NEW_PASSWORD));
    expect([duplicate.status, duplicate.message]).toEqual([409, 'That address already has an account.']);

    // deleteUser: the row goes, with its sessions.
    const refreshBefore = member.tokenDetails()!.refresh_token;
    const accessBefore = member.tokenDetails()!.access_token;
    await expect(admin.admin.deleteUser({ id: memberUser.id } as never)).resolves.toEqual({});
    expect(await userRow(memberUser.email)).toBeUndefined();
    const gone = await rejection(admin.admin.getUser({ id: memberUser.id } as never));
    expect([gone.status, gone.message]).toEqual([404, 'There is no such user.']);
    expect((await refreshRaw(refreshBefore)).status).toBe(401);
    expect((await bearerGet('/user', accessBefore)).status).toBe(401);
    const after = (await admin.admin.listUsers('')) as unknown as { users: { id: string }[] };
    expect(after.users.some((u) => u.id === memberUser.id)).toBe(false);
    expect((await rejection(admin.admin.deleteUser({ id: memberUser.id } as never))).status).toBe(404);
  });
});

describe('gotrue-js: refresh-token reuse', () => {
  it('refuses a rotated refresh token sent again after the grace interval, and then its successor too', async () => {
    const account = await makeUser(db.store);
    const user = await gotrue().login(account.email, PASSWORD);
    const first = user.tokenDetails()!.refresh_token;
    await user.jwt(true);
    const second = user.tokenDetails()!.refresh_token;
    expect(second).not.toBe(first);
    await new Promise((resolve) => setTimeout(resolve, GRACE_SECONDS * 1000 + 500));

    const reused = await refreshRaw(first);
    expect([reused.status, reused.body.error, reused.body.error_code]).toEqual([401, 'invalid_grant', 'refresh_token_reused']);
    // The whole family is revoked: the successor, which gotrue-js holds, no longer refreshes.
    const successor = await refreshRaw(second);
    expect([successor.status, successor.body.error]).toEqual([401, 'invalid_grant']);
    expect(await sessionRevokedAt(user.tokenDetails()!.access_token)).toBeInstanceOf(Date);
    const failed = await rejection(user.jwt(true));
    expect(failed.status).toBe(401);
    expect(user.tokenDetails()).toBeNull();
  });
});

describe('gotrue-js: X-Use-Cookie', () => {
  const lastExchange = (endpoint: string) => exchanges.filter((e) => e.event.path.endsWith(endpoint)).at(-1)!;
  const setCookies = (response: HandlerResponse) => (response.multiValueHeaders?.['Set-Cookie'] as string[] | undefined) ?? [];

  it('a client made with setCookie sends the header, and the answer sets nf_jwt (a session cookie, or a lasting one when remembered)', async () => {
    const account = await makeUser(db.store);
    const auth = gotrue({ setCookie: true });
    const user = await auth.login(account.email, PASSWORD);
    const sessionLogin = lastExchange('/token');
    expect(sessionLogin.event.headers['x-use-cookie']).toBe('session');
    const jwtCookie = setCookies(sessionLogin.response).find((c) => c.startsWith('nf_jwt='))!;
    expect(jwtCookie).toContain(`nf_jwt=${user.tokenDetails()!.access_token};`);
    expect(jwtCookie).toMatch(/; HttpOnly/iu);
    expect(jwtCookie).not.toMatch(/Max-Age|Expires/iu);

    await auth.login(account.email, PASSWORD, true);
    const remembered = lastExchange('/token');
    expect(remembered.event.headers['x-use-cookie']).toBe('1');
    expect(setCookies(remembered.response).find((c) => c.startsWith('nf_jwt='))).toMatch(/Max-Age=900/u);

    // Its logout sends the header too, and the answer deletes the cookie.
    await user.logout();
    const loggedOut = lastExchange('/logout');
    expect([loggedOut.response.statusCode, loggedOut.event.headers['x-use-cookie']]).toEqual([204, '1']);
    expect(setCookies(loggedOut.response).find((c) => c.startsWith('nf_jwt='))).toMatch(/^nf_jwt=;.*Max-Age=0/u);

    // A client made without setCookie sends no such header and gets no cookie.
    await gotrue().login(account.email, PASSWORD);
    const plain = lastExchange('/token');
    expect(plain.event.headers['x-use-cookie']).toBeUndefined();
    expect(setCookies(plain.response)).toEqual([]);
  });

  it('over raw HTTP: nf_jwt is HttpOnly and Secure, equals the access token, and verifies with the site secret carrying both role claims', async () => {
    const account = await makeUser(db.store, ['member', 'editor']);
    const answer = await tokenRequest({ grant_type: 'password', username: account.email, password: PASSWORD }, { 'x-use-cookie': '1' });
    expect(answer.status).toBe(200);
    const cookie = answer.headers.getSetCookie().find((c) => c.startsWith('nf_jwt='))!;
    const attributes = cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
    expect(attributes).toEqual(expect.arrayContaining(['httponly', 'secure', 'path=/', 'samesite=lax', 'max-age=900']));
    const value = cookie.split(';')[0]!.slice('nf_jwt='.length);
    expect(value).toBe(answer.body.access_token);
    const { payload, protectedHeader } = await jwtVerify(value, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: account.id, email: account.email, app_metadata: { roles: ['member', 'editor'], authorization: { roles: ['member', 'editor'] } } });
    await expect(jwtVerify(value, new TextEncoder().encode(`${SECRET}-not`), { algorithms: ['HS256'] })).rejects.toThrow();

    const withoutHeader = await tokenRequest({ grant_type: 'password', username: account.email, password: PASSWORD });
    expect([withoutHeader.status, withoutHeader.headers.getSetCookie()]).toEqual([200, []]);
  });
});
