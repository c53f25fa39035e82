/**
 * The Identity-compatible API's own rules, sent as requests: what its clients never exercise
 * (a foreign Origin, the API switched off, a token from another session, an old session
 * changing the password, oversized user data, an admin endpoint for a member) and the
 * answers' shapes. The published clients' own flows are in test/clients/.
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthDeps } from '../../src/auth/deps.js';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { verifyAccessToken } from '../../src/core/access-token.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { uniqueEmail } from '../store/contract.js';
import { PASSWORD, SECRET, SITE, body, event, makeDeps, makeUser, setCookies, type EventOptions } from './support.js';

const NEW_PASSWORD = 'a new passphrase from the API';
const ON: AccountSettings = {
  ...DEFAULT_ACCOUNT_SETTINGS,
  registration: 'open',
  newUserRoles: ['member'],
  identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled: true },
};

let store: Store;
let deps: AuthDeps;
const sql = (text: string, values: unknown[] = []) => (store as unknown as { db: { db: PGlite } }).db.db.query<Record<string, unknown>>(text, values);

beforeAll(async () => {
  store = await openEmbeddedStore({ dataDir: 'memory://' });
  deps = { ...makeDeps(store, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' }), accounts: ON, kickMail: async () => {} };
});
afterAll(() => store.close());

/** A request to `<base>/<endpoint>`; by default as a script on another machine sends it: no Origin. */
function call(endpoint: string, options: EventOptions = {}, withDeps: AuthDeps = deps) {
  return identityApiHandler(async () => withDeps)(event({ origin: null, path: `/auth/identity${endpoint}`, ...options }));
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function tokens(email: string, password = PASSWORD, headers: Record<string, string> = {}) {
  const response = await call('/token', { form: { grant_type: 'password', username: email, password }, headers });
  expect(response.statusCode).toBe(200);
  return body(response) as { access_token: string; refresh_token: string; expires_in: number; token_type: string };
}

async function linkTo(email: string): Promise<URL> {
  const rows = (await sql('update rolegate.mail_outbox set sent_at = now() where recipient = $1 and sent_at is null returning sealed', [email])).rows;
  const sealed = rows.map((r) => r.sealed).filter(Boolean).at(-1);
  return new URL(JSON.parse(openMailSecret([new Secret(SECRET)], String(sealed))!).url);
}

describe('identity API: who may call it', () => {
  it('answers 404 with a hint while the config leaves it off, and changes nothing', async () => {
    const user = await makeUser(store);
    const off = await call('/token', { form: { grant_type: 'password', username: user.email, password: PASSWORD } }, { ...deps, accounts: DEFAULT_ACCOUNT_SETTINGS });
    expect([off.statusCode, body(off).error_code]).toEqual([404, 'not_found']);
    expect(body(off).msg).toMatch(/identityApi\.enabled/);
    expect((await sql('select count(*)::int as n from rolegate.sessions where user_id = $1', [user.id])).rows[0]!.n).toBe(0);
  });

  it('refuses a browser on another site before counting anything, and serves the site itself and scripts without Origin', async () => {
    const user = await makeUser(store);
    const guess = { grant_type: 'password', username: user.email, password: 'a wrong guess here' };
    for (const origin of ['https://evil.test', 'null']) {
      const refused = await call('/token', { form: guess, origin });
      expect([refused.statusCode, body(refused).error_code]).toEqual([403, 'bad_origin']);
    }
    expect((await sql("select count(*)::int as n from rolegate.login_throttle where key = $1", [`account:${user.email}`])).rows[0]!.n).toBe(0);
    const fromSite = await call('/token', { form: { ...guess, password: PASSWORD }, origin: SITE });
    expect(fromSite.statusCode).toBe(200);
    expect(fromSite.headers?.['Access-Control-Allow-Origin']).toBe(SITE);
    expect((await call('/settings', { method: 'GET' })).statusCode).toBe(200);
  });

  it('answers a preflight from the site with the headers its clients send, and none to another site', async () => {
    const ok = await call('/token', { method: 'OPTIONS', origin: SITE });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers?.['Access-Control-Allow-Headers']).toMatch(/X-Use-Cookie/);
    const foreign = await call('/token', { method: 'OPTIONS', origin: 'https://evil.test' });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });

  it('reads the bearer header only: the nf_jwt cookie opens nothing here', async () => {
    const user = await makeUser(store);
    const { access_token } = await tokens(user.email);
    const byCookie = await call('/user', { method: 'GET', cookies: { nf_jwt: access_token } });
    expect([byCookie.statusCode, body(byCookie).error_code]).toEqual([401, 'unauthenticated']);
    const byHeader = await call('/user', { method: 'GET', headers: bearer(access_token) });
    expect(body(byHeader)).toMatchObject({ id: user.id, email: user.email, app_metadata: { roles: ['member'] } });
  });

  it('refuses to run with TOKEN_FINGERPRINT on, whose tokens its clients could not use', async () => {
    const fingerprinted = { ...deps, config: { ...deps.config, tokenFingerprint: true } };
    const refused = await call('/settings', { method: 'GET' }, fingerprinted);
    expect([refused.statusCode, body(refused).error_code]).toEqual([503, 'unavailable']);
    expect(body(refused).msg).toMatch(/TOKEN_FINGERPRINT/);
  });
});

describe('identity API: tokens', () => {
  it('answers the token shape, roles at app_metadata.roles, and Identity\'s error shapes for a wrong password or grant', async () => {
    const user = await makeUser(store, ['editor']);
    const issued = await tokens(user.email);
    expect(issued).toMatchObject({ token_type: 'bearer', expires_in: deps.config.accessTokenTtlSeconds, refresh_token: expect.any(String) });
    const claims = await verifyAccessToken(issued.access_token, { secrets: [deps.config.jwtSecret], issuer: deps.config.jwtIssuer, now: deps.now() });
    expect(claims.app_metadata).toEqual({ authorization: { roles: ['editor'] }, roles: ['editor'] });
    const wrong = await call('/token', { form: { grant_type: 'password', username: user.email, password: 'not the password' } });
    expect([wrong.statusCode, body(wrong)]).toEqual([401, { code: 401, msg: expect.any(String), error_code: 'invalid_credentials', error: 'invalid_grant', error_description: expect.any(String) }]);
    const grant = await call('/token', { form: { grant_type: 'client_credentials' } });
    expect([grant.statusCode, body(grant).error]).toEqual([400, 'invalid_request']);
  });

  it('sets nf_jwt and the session hint only when X-Use-Cookie asks, for the browser session with "session"', async () => {
    const user = await makeUser(store);
    const plain = await call('/token', { form: { grant_type: 'password', username: user.email, password: PASSWORD } });
    expect(setCookies(plain)).toEqual([]);
    const remembered = await call('/token', { form: { grant_type: 'password', username: user.email, password: PASSWORD }, headers: { 'x-use-cookie': '1' } });
    const [access, hint] = setCookies(remembered);
    expect(access).toMatch(/^nf_jwt=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(hint).toMatch(/^rolegate_session=/);
    expect(setCookies(remembered).join('\n')).not.toMatch(/rolegate_refresh/);
    const forSession = await call('/token', { form: { grant_type: 'password', username: user.email, password: PASSWORD }, headers: { 'x-use-cookie': 'session' } });
    expect(setCookies(forSession)[0]).not.toMatch(/Max-Age/);
  });

  it('rotates a refresh token in its family: the old one again after the grace interval ends the session', async () => {
    const user = await makeUser(store);
    const first = await tokens(user.email);
    const second = body(await call('/token', { form: { grant_type: 'refresh_token', refresh_token: first.refresh_token } }));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    await sql("update rolegate.refresh_tokens set used_at = used_at - interval '1 hour' where used_at is not null");
    const replay = await call('/token', { form: { grant_type: 'refresh_token', refresh_token: first.refresh_token } });
    expect([replay.statusCode, body(replay).error_code, body(replay).error]).toEqual([401, 'refresh_token_reused', 'invalid_grant']);
    const successor = await call('/token', { form: { grant_type: 'refresh_token', refresh_token: second.refresh_token } });
    expect(successor.statusCode).toBe(401);
  });
});

describe('identity API: the signed-in user', () => {
  it('logs out this session only, after which its unexpired token reads nothing', async () => {
    const user = await makeUser(store);
    const here = await tokens(user.email);
    const other = await tokens(user.email);
    expect(body(await call('/logout', {})).error_code).toBe('unauthenticated');
    const out = await call('/logout', { headers: bearer(here.access_token) });
    expect([out.statusCode, out.body]).toEqual([204, '']);
    expect(body(await call('/user', { method: 'GET', headers: bearer(here.access_token) })).error_code).toBe('session_expired');
    expect((await call('/user', { method: 'GET', headers: bearer(other.access_token) })).statusCode).toBe(200);
  });

  it('changes the password without the current one only in a young session; an older one needs current_password', async () => {
    const user = await makeUser(store);
    const { access_token } = await tokens(user.email);
    await sql("update rolegate.sessions set created_at = now() - interval '11 minutes' where user_id = $1", [user.id]);
    const old = await call('/user', { method: 'PUT', json: { password: NEW_PASSWORD }, headers: bearer(access_token) });
    expect([old.statusCode, body(old).error_code]).toEqual([403, 'reauthentication_required']);
    const wrong = await call('/user', { method: 'PUT', json: { password: NEW_PASSWORD, current_password: 'not it at all' }, headers: bearer(access_token) });
    expect(body(wrong).error_code).toBe('wrong_password');
    await tokens(user.email);
    const withCurrent = await call('/user', { method: 'PUT', json: { password: NEW_PASSWORD, current_password: PASSWORD }, headers: bearer(access_token) });
    expect(withCurrent.statusCode).toBe(200);
    expect((await call('/token', { form: { grant_type: 'password', username: user.email, password: PASSWORD } })).statusCode).toBe(401);
    await tokens(user.email, NEW_PASSWORD);
  });

  it('keeps user data within a bound, merging it, and refuses a weak password before changing anything', async () => {
    const user = await makeUser(store);
    const { access_token } = await tokens(user.email);
    const merged = await call('/user', { method: 'PUT', json: { data: { full_name: 'Ada Lovelace' } }, headers: bearer(access_token) });
    expect(body(merged).user_metadata).toEqual({ full_name: 'Ada Lovelace' });
    const huge = await call('/user', { method: 'PUT', json: { data: { bio: 'x'.repeat(3000) } }, headers: bearer(access_token) });
    expect([huge.statusCode, body(huge).error_code]).toEqual([400, 'bad_request']);
    const weak = await call('/user', { method: 'PUT', json: { data: { full_name: 'Eve' }, password: 'short' }, headers: bearer(access_token) });
    expect(body(weak).error_code).toBe('weak_password');
    expect((await store.findUserById(user.id))?.userMetadata).toEqual({ full_name: 'Ada Lovelace' });
  });

  it('mails a new address an email_change_token link, which PUT /user uses to move the address', async () => {
    const user = await makeUser(store);
    const { access_token } = await tokens(user.email);
    const newEmail = uniqueEmail('moved');
    expect((await call('/user', { method: 'PUT', json: { email: newEmail }, headers: bearer(access_token) })).statusCode).toBe(200);
    const link = await linkTo(newEmail);
    expect(`${link.origin}${link.pathname}`).toBe(`${SITE}/`);
    const token = new URLSearchParams(link.hash.slice(1)).get('email_change_token');
    const moved = await call('/user', { method: 'PUT', json: { email_change_token: token }, headers: bearer(access_token) });
    expect(body(moved).email).toBe(newEmail);
  });
});

describe('identity API: sign-up, links and admins', () => {
  it('answers a sign-up for a known address exactly like one for a new address', async () => {
    const known = await makeUser(store);
    const fresh = uniqueEmail('fresh');
    const shape = (response: Awaited<ReturnType<typeof call>>) => {
      const { id, created_at, updated_at, confirmation_sent_at, email, ...rest } = body(response);
      return { status: response.statusCode, id: typeof id, times: [created_at, updated_at, confirmation_sent_at].map((t) => typeof t), rest };
    };
    const a = await call('/signup', { json: { email: known.email, password: NEW_PASSWORD } });
    const b = await call('/signup', { json: { email: fresh, password: NEW_PASSWORD } });
    expect(shape(a)).toEqual(shape(b));
    expect(body(a).id).not.toBe(known.id);
    const link = await linkTo(fresh);
    expect(link.hash).toMatch(/^#confirmation_token=[A-Za-z0-9_-]{43}$/);
    const closed = await call('/signup', { json: { email: uniqueEmail(), password: NEW_PASSWORD } }, { ...deps, accounts: { ...ON, registration: 'closed' } });
    expect([closed.statusCode, body(closed).error_code]).toEqual([403, 'signup_disabled']);
  });

  it('uses a recovery link to sign in, then lets that young session choose the password', async () => {
    const user = await makeUser(store);
    expect(body(await call('/recover', { json: { email: user.email } }))).toEqual({});
    const token = new URLSearchParams((await linkTo(user.email)).hash.slice(1)).get('recovery_token')!;
    const asSignup = await call('/verify', { json: { token, type: 'signup' } });
    expect(body(asSignup).error_code).toBe('link_invalid');
    const signedIn = body(await call('/verify', { json: { token, type: 'recovery' } }));
    const set = await call('/user', { method: 'PUT', json: { password: NEW_PASSWORD }, headers: bearer(signedIn.access_token) });
    expect(set.statusCode).toBe(200);
    await tokens(user.email, NEW_PASSWORD);
    expect(body(await call('/verify', { json: { token, type: 'recovery' } })).error_code).toBe('link_used');
  });

  it('keeps the admin endpoints to admins of a live session, with 404 for nobody', async () => {
    const member = await makeUser(store);
    const admin = await makeUser(store, ['admin']);
    const memberToken = (await tokens(member.email)).access_token;
    const adminTokens = await tokens(admin.email);
    const forMember = await call('/admin/users', { method: 'GET', headers: bearer(memberToken) });
    expect([forMember.statusCode, body(forMember).error_code]).toEqual([403, 'forbidden']);
    const deleteByMember = await call(`/admin/users/${admin.id}`, { method: 'DELETE', headers: bearer(memberToken) });
    expect(deleteByMember.statusCode).toBe(403);
    expect(await store.findUserById(admin.id)).not.toBeNull();
    expect((await call('/admin/users/not-a-uuid', { method: 'GET', headers: bearer(adminTokens.access_token) })).statusCode).toBe(404);
    expect((await call('/admin/users/00000000-0000-4000-8000-000000000000', { method: 'DELETE', headers: bearer(adminTokens.access_token) })).statusCode).toBe(404);
    const listed = body(await call('/admin/users', { method: 'GET', query: 'per_page=100', headers: bearer(adminTokens.access_token) }));
    expect(listed.aud).toBe('');
    expect(listed.users.map((u: { email: string }) => u.email)).toContain(member.email);
    const roles = await call(`/admin/users/${member.id}`, { method: 'PUT', json: { app_metadata: { roles: ['editor'] } }, headers: bearer(adminTokens.access_token) });
    expect(body(roles).app_metadata.roles).toEqual(['editor']);
    const password = await call(`/admin/users/${member.id}`, { method: 'PUT', json: { password: NEW_PASSWORD }, headers: bearer(adminTokens.access_token) });
    expect(body(password).error_code).toBe('bad_request');
    await call('/logout', { headers: bearer(adminTokens.access_token) });
    const afterLogout = await call(`/admin/users/${member.id}`, { method: 'DELETE', headers: bearer(adminTokens.access_token) });
    expect([afterLogout.statusCode, body(afterLogout).error_code]).toEqual([401, 'session_expired']);
    expect(await store.findUserById(member.id)).not.toBeNull();
  });

  it('answers an unknown endpoint 404 and a wrong method 405 with Allow, in Identity\'s shape', async () => {
    const missing = await call('/nothing-here', { method: 'GET' });
    expect([missing.statusCode, body(missing)]).toEqual([404, { code: 404, msg: expect.any(String), error_code: 'not_found' }]);
    const method = await call('/settings', { method: 'POST', json: {} });
    expect([method.statusCode, method.headers?.Allow]).toEqual([405, 'GET']);
    const viaFunction = await identityApiHandler(async () => deps)(event({ origin: null, method: 'GET', path: '/.netlify/functions/identity-api/settings' }));
    expect(body(viaFunction)).toMatchObject({ disable_signup: false, autoconfirm: false, external: { email: true, github: false } });
  });
});
