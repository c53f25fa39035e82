/**
 * Cases the fuzzer found, kept as plain tests so they stay fixed whatever
 * the fuzzer's seed or generators become.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteHandler } from '../../src/auth/account-handlers.js';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import { signAccessTokenWithJose } from '../../src/core/access-token.js';
import type { Store } from '../../src/store/store.js';
import { PASSWORD, body, cookieValues, event, makeDeps, makeUser, setCookies } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { diff, rolegateTables, snapshot } from './tables.js';

describe('regressions found by fuzzing', () => {
  let t: TestStore;
  let store: Store;
  let sql: pg.Pool;
  let login: ReturnType<typeof loginHandler>;
  let refresh: ReturnType<typeof refreshHandler>;
  let logout: ReturnType<typeof logoutHandler>;
  let invite: ReturnType<typeof inviteHandler>;
  let deps: ReturnType<typeof makeDeps>;

  beforeAll(async () => {
    t = await openTestStore({ inspectConnections: 1 });
    ({ store, sql } = t);
    // No grace interval: a rotated-away token is dead at once.
    deps = makeDeps(store, { REFRESH_GRACE_SECONDS: '0' });
    login = loginHandler(async () => deps);
    refresh = refreshHandler(async () => deps);
    logout = logoutHandler(async () => deps);
    invite = inviteHandler(async () => ({ ...deps, kickMail: async () => undefined }));
  });
  afterAll(() => t.close());

  // fast-check seed 20261123, login, 37th case: {"email":"member@fuzz.example\u0000", ...}
  // answered 500 "internal" (PostgreSQL: invalid byte sequence for encoding "UTF8": 0x00).
  it('answers an email with a NUL character, as JSON or as a form, with 400 and writes nothing', async () => {
    const user = await makeUser(store);
    const tables = await rolegateTables(sql);
    const before = await snapshot(sql, tables);
    const answers = [
      await login(event({ json: { email: `${user.email}\u0000`, password: PASSWORD } })),
      await login(event({ json: { email: 'a\u0000b@example.com', password: 'anything at all' } })),
      await login(event({ body: `email=${encodeURIComponent(user.email)}%00&password=${encodeURIComponent(PASSWORD)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } })),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([400, 400, 303]);
    expect(body(answers[0]!)).toEqual({ error: { code: 'bad_request', message: 'Send an email and a password.' } });
    // A form post is answered as a navigation: back to the login page with the code.
    expect(answers[2]!.headers?.Location).toMatch(/^\/login\?error=bad_request&/);
    for (const a of answers) expect(setCookies(a)).toEqual([]);
    expect(diff(before, await snapshot(sql, tables))).toEqual({});
    // The account itself still works.
    expect((await login(event({ json: { email: user.email, password: PASSWORD } }))).statusCode).toBe(200);
  });

  const REFRESH = '__Host-rolegate_refresh';
  const signIn = async (email: string) => cookieValues(await login(event({ json: { email, password: PASSWORD } })));
  /** The successor token when `token` still refreshes, otherwise undefined. */
  const refreshed = async (token: string) => {
    const r = await refresh(event({ cookies: { [REFRESH]: token } }));
    return r.statusCode === 200 ? cookieValues(r)[REFRESH] : undefined;
  };

  // fast-check seed 20261123, logout, case 1091: a refresh cookie of a session
  // that had already ended, with {"scope":"global"}, answered 200 and ended
  // every other session of its owner (and would again after each sign-in).
  it('a dead refresh token cannot sign its owner out everywhere; a live one, or a valid access token, still can', async () => {
    const user = await makeUser(store);
    const old = await signIn(user.email);
    await logout(event({ json: {}, cookies: old })); // that device signed out: its token is dead
    const rotatedAway = await signIn(user.email);
    await refresh(event({ cookies: { [REFRESH]: rotatedAway[REFRESH]! } })); // a copy kept after rotation
    const phone = await signIn(user.email);
    for (const dead of [old[REFRESH]!, rotatedAway[REFRESH]!]) {
      const r = await logout(event({ json: { scope: 'global' }, cookies: { [REFRESH]: dead } }));
      expect(r.statusCode).toBe(401);
      expect(body(r).error.code).toBe('session_expired');
      // The other device is still signed in.
      phone[REFRESH] = (await refreshed(phone[REFRESH]!))!;
      expect(phone[REFRESH]).toBeDefined();
    }
    // The live refresh token alone (access token expired or gone) proves the session.
    const laptop = await signIn(user.email);
    const everywhere = await logout(event({ json: { scope: 'global' }, cookies: { [REFRESH]: laptop[REFRESH]! } }));
    expect(body(everywhere)).toEqual({ ok: true, scope: 'global' });
    expect(await refreshed(phone[REFRESH]!)).toBeUndefined();
    // So does a valid access token.
    const tablet = await signIn(user.email);
    const desk = await signIn(user.email);
    expect((await logout(event({ json: { scope: 'global' }, cookies: { nf_jwt: tablet.nf_jwt! } }))).statusCode).toBe(200);
    expect(await refreshed(desk[REFRESH]!)).toBeUndefined();
  });

  // Found by a review of the invite fuzz: a token signed with the site's own secret whose `sub`
  // is no UUID (rolegate never issues one) reached invite_user's uuid cast and answered 500.
  it('refuses an invitation whose validly signed admin token names no user id (401), writing nothing', async () => {
    const { token } = await signAccessTokenWithJose({
      subject: { id: 'not-a-uuid', email: 'admin@example.com', roles: ['admin'] }, sessionId: 'not-a-uuid-either',
      secret: deps.config.jwtSecret, issuer: deps.config.jwtIssuer, ttlSeconds: 900, now: Math.floor(Date.now() / 1000),
    });
    const tables = await rolegateTables(sql);
    const before = await snapshot(sql, tables);
    const response = await invite(event({ path: '/.netlify/functions/invite', json: { email: 'invitee@fuzz.example' }, cookies: { nf_jwt: token } }));
    expect([response.statusCode, body(response).error?.code]).toEqual([401, 'unauthenticated']);
    expect(diff(before, await snapshot(sql, tables))).toEqual({});
  });
});
