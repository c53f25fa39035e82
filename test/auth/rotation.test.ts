/**
 * Refresh-token rotation seen from outside, on both stores rolegate ships:
 * the embedded PGlite database (the default) and real PostgreSQL (where
 * concurrent requests really contend for row locks).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store, User } from '../../src/store/store.js';
import { createTestDatabase } from '../support/databases.js';
import { PASSWORD, body, cookieValues, event, makeDeps, makeUser, setCookies } from './support.js';

const REFRESH = '__Host-rolegate_refresh';

interface Harness {
  store: Store;
  close(): Promise<void>;
}

const stores: [string, () => Promise<Harness>][] = [
  ['embedded PGlite', async () => {
    const store = await openEmbeddedStore({ dataDir: 'memory://' });
    return { store, close: () => store.close() };
  }],
  ['real PostgreSQL', async () => {
    const db = await createTestDatabase();
    const store = openPostgresStore({ connectionString: db.url, maxConnections: 25 });
    return { store, close: async () => { await store.close(); await db.drop(); } };
  }],
];

describe.each(stores)('refresh-token rotation on %s', (_name, open) => {
  let harness: Harness;
  let store: Store;
  // Two deployments over one database: the default grace interval, and none at all.
  let graceful: ReturnType<typeof handlersFor>;
  let strict: ReturnType<typeof handlersFor>;

  function handlersFor(env: Record<string, string>) {
    const deps = makeDeps(store, env);
    return { login: loginHandler(async () => deps), refresh: refreshHandler(async () => deps), logout: logoutHandler(async () => deps) };
  }

  beforeAll(async () => {
    harness = await open();
    store = harness.store;
    graceful = handlersFor({});
    strict = handlersFor({ REFRESH_GRACE_SECONDS: '0' });
  });
  afterAll(() => harness.close());

  async function signIn(user: User): Promise<string> {
    const r = await graceful.login(event({ json: { email: user.email, password: PASSWORD } }));
    expect(r.statusCode).toBe(200);
    return cookieValues(r)[REFRESH]!;
  }
  const refreshWith = (handlers: typeof graceful, token: string) =>
    handlers.refresh(event({ path: '/.netlify/functions/refresh', cookies: { [REFRESH]: token } }));

  it('gives every refresh a new refresh cookie, access token and session cookie', async () => {
    const user = await makeUser(store, ['member']);
    let token = await signIn(user);
    const seen = new Set([token]);
    for (let i = 0; i < 3; i++) {
      const r = await refreshWith(graceful, token);
      expect(r.statusCode).toBe(200);
      const cookies = cookieValues(r);
      expect(Object.keys(cookies).sort()).toEqual([REFRESH, 'nf_jwt', 'rolegate_session']);
      expect(JSON.parse(cookies.rolegate_session!)).toMatchObject({ email: user.email, roles: ['member'], exp: body(r).expires_at });
      token = cookies[REFRESH]!;
      expect(seen.has(token)).toBe(false);
      seen.add(token);
    }
  });

  it('lets two tabs refresh at once and a third a moment later: all get the same new cookie', async () => {
    const user = await makeUser(store);
    const token = await signIn(user);
    const [a, b] = await Promise.all([refreshWith(graceful, token), refreshWith(graceful, token)]);
    const late = await refreshWith(graceful, token);
    for (const r of [a, b, late]) expect(r.statusCode).toBe(200);
    const successors = new Set([a, b, late].map((r) => cookieValues(r)[REFRESH]));
    expect(successors.size).toBe(1);
    // And the session goes on from that one successor.
    expect((await refreshWith(graceful, [...successors][0]!)).statusCode).toBe(200);
  });

  it('lets 20 requests refresh with one token at once, all successfully, with one successor', async () => {
    const user = await makeUser(store);
    const token = await signIn(user);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refreshWith(graceful, token)));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((r) => cookieValues(r)[REFRESH])).size).toBe(1);
  });

  const refreshAs = (userAgent: string, token: string, extra: Record<string, string> = {}) =>
    graceful.refresh(event({ path: '/.netlify/functions/refresh', cookies: { [REFRESH]: token, ...extra }, headers: { 'user-agent': userAgent } }));
  const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0';

  it('a kept copy of a rotated token cannot walk the chain within the grace interval: reuse ends the session', async () => {
    const user = await makeUser(store);
    const r0 = await signIn(user);
    // The owner refreshes twice within the grace interval: R0 → R1 → R2.
    const r1 = cookieValues(await refreshAs(BROWSER, r0))[REFRESH]!;
    const r2 = cookieValues(await refreshAs(BROWSER, r1))[REFRESH]!;
    // R0 comes back, even from the same kind of browser: its successor was rotated already.
    const walk = await refreshAs(BROWSER, r0);
    expect(walk.statusCode).toBe(401);
    expect(body(walk).error.code).toBe('refresh_token_reused');
    expect(cookieValues(walk).nf_jwt).toBe('');
    // The live token is dead too: the session ended.
    expect(body(await refreshAs(BROWSER, r2)).error.code).toBe('session_expired');
    expect(body(await refreshAs(BROWSER, r1)).error.code).toBe('session_expired');
  });

  it('within the grace interval only the client that rotated the token gets its successor; another is reuse', async () => {
    const user = await makeUser(store);
    const r0 = await signIn(user);
    const owner = await refreshAs(BROWSER, r0);
    const r1 = cookieValues(owner)[REFRESH]!;
    const thief = await refreshAs('curl/8.11.0', r0);
    expect(thief.statusCode).toBe(401);
    expect(body(thief).error.code).toBe('refresh_token_reused');
    expect(body(await refreshAs(BROWSER, r1)).error.code).toBe('session_expired');
  });

  it('two tabs of one browser refreshing with the same token at once both go on, and the session with them', async () => {
    const user = await makeUser(store);
    const r0 = await signIn(user);
    const [a, b] = await Promise.all([refreshAs(BROWSER, r0), refreshAs(BROWSER, r0)]);
    const late = await refreshAs(BROWSER, r0);
    expect([a, b, late].map((r) => r.statusCode)).toEqual([200, 200, 200]);
    const r1 = cookieValues(a)[REFRESH]!;
    expect(new Set([a, b, late].map((r) => cookieValues(r)[REFRESH]))).toEqual(new Set([r1]));
    expect((await refreshAs(BROWSER, r1)).statusCode).toBe(200);
  });

  it('with fingerprints on, the same client is the browser holding the fingerprint cookie', async () => {
    const deps = makeDeps(store, { TOKEN_FINGERPRINT: 'on' });
    const login = loginHandler(async () => deps);
    const refresh = refreshHandler(async () => deps);
    const user = await makeUser(store);
    const signedIn = cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })));
    const fp = '__Host-rolegate_fp';
    const post = (cookies: Record<string, string>, userAgent = BROWSER) =>
      refresh(event({ path: '/.netlify/functions/refresh', cookies, headers: { 'user-agent': userAgent } }));
    const mine = { [REFRESH]: signedIn[REFRESH]!, [fp]: signedIn[fp]! };
    const [a, b] = await Promise.all([post(mine), post(mine, 'another user agent, same browser cookies')]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    // A copy of the refresh cookie with a fingerprint cookie of its own is another client.
    const other = await post({ [REFRESH]: signedIn[REFRESH]!, [fp]: Buffer.alloc(32, 9).toString('base64url') });
    expect(body(other).error.code).toBe('refresh_token_reused');
  });

  it('with no grace interval, a token presented twice ends the session for everyone holding it', async () => {
    const user = await makeUser(store);
    const token = await signIn(user);
    const first = await refreshWith(strict, token);
    expect(first.statusCode).toBe(200);
    const successor = cookieValues(first)[REFRESH]!;
    const replay = await refreshWith(strict, token);
    expect(replay.statusCode).toBe(401);
    expect(body(replay)).toEqual({ error: { code: 'refresh_token_reused', message: expect.any(String) } });
    expect(cookieValues(replay)).toMatchObject({ nf_jwt: '', rolegate_session: '', [REFRESH]: '' });
    expect(setCookies(replay).every((c) => /Max-Age=0/.test(c))).toBe(true);
    const legit = await refreshWith(strict, successor);
    expect(body(legit).error.code).toBe('session_expired');
    // The bounce sends the reused session to the login page, saying why.
    const bounce = await strict.refresh(event({ method: 'GET', path: '/.netlify/functions/refresh/members/', cookies: { [REFRESH]: token }, origin: null }));
    expect(bounce.statusCode).toBe(303);
    expect(bounce.headers?.Location).toMatch(/^\/login\?next=%2Fmembers%2F/);
  });

  it('only the server can mint a successor: a guessed or forged cookie finds no session', async () => {
    const user = await makeUser(store);
    await signIn(user);
    const forged = Buffer.alloc(32, 7).toString('base64url');
    const r = await refreshWith(graceful, forged);
    expect(r.statusCode).toBe(401);
    expect(body(r).error.code).toBe('session_expired');
  });

  it('cuts off a disabled user at the bounce and sends a promoted one through', async () => {
    const user = await makeUser(store, ['member']);
    const token = await signIn(user);
    await store.setUserRoles(user.id, ['member', 'admin']);
    const promoted = await graceful.refresh(event({ method: 'GET', path: '/.netlify/functions/refresh/admin/', cookies: { [REFRESH]: token }, origin: null }));
    expect(promoted.headers?.Location).toBe('/admin/');
    await store.setUserDisabled(user.id, true);
    const disabled = await graceful.refresh(event({ method: 'GET', path: '/.netlify/functions/refresh/admin/', cookies: { [REFRESH]: cookieValues(promoted)[REFRESH]! }, origin: null }));
    expect(disabled.headers?.Location).toBe(`/login?next=${encodeURIComponent('/admin/')}`);
    expect(cookieValues(disabled).nf_jwt).toBe('');
  });

  it('a cross-site logout post changes nothing: no cookie deleted, the session goes on', async () => {
    const user = await makeUser(store);
    const token = await signIn(user);
    for (const origin of ['https://evil.example', null]) {
      const r = await graceful.logout(event({ form: { scope: 'global' }, origin, cookies: { [REFRESH]: token } }));
      expect(r.statusCode).toBe(403);
      expect(body(r).error.code).toBe('bad_origin');
      expect(setCookies(r)).toEqual([]);
    }
    expect((await refreshWith(graceful, token)).statusCode).toBe(200);
  });

  it('ends the session on logout even when only a valid access token is left', async () => {
    const user = await makeUser(store);
    const r = await graceful.login(event({ json: { email: user.email, password: PASSWORD } }));
    const { nf_jwt: accessToken, [REFRESH]: token } = cookieValues(r);
    const out = await graceful.logout(event({ json: {}, cookies: { nf_jwt: accessToken! } }));
    expect(out.statusCode).toBe(200);
    expect((await refreshWith(graceful, token!)).statusCode).toBe(401);
  });
});

describe('audit trail (real PostgreSQL)', () => {
  it('records login success and failure, reuse, logout and logout everywhere', async () => {
    const db = await createTestDatabase();
    const store = openPostgresStore({ connectionString: db.url });
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const deps = makeDeps(store, { REFRESH_GRACE_SECONDS: '0' });
      const login = loginHandler(async () => deps);
      const refresh = refreshHandler(async () => deps);
      const logout = logoutHandler(async () => deps);
      const user = await makeUser(store);
      await login(event({ json: { email: user.email, password: 'wrong password!' } }));
      await login(event({ json: { email: 'nobody@example.com', password: 'wrong password!' } }));
      const a = cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })));
      await refresh(event({ cookies: { [REFRESH]: a[REFRESH]! } }));
      await refresh(event({ cookies: { [REFRESH]: a[REFRESH]! } }));
      const b = cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })));
      await logout(event({ json: {}, cookies: b }));
      const c = cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })));
      await logout(event({ json: { scope: 'global' }, cookies: c }));
      const { rows } = await sql.query(`select event, count(*)::int as n from rolegate.audit_log
        where user_id = $1 or (user_id is null and event = 'login_failed') group by event order by event`, [user.id]);
      const counts = Object.fromEntries(rows.map((row: { event: string; n: number }) => [row.event, row.n]));
      expect(counts).toMatchObject({ login_failed: 2, login_succeeded: 3, refresh_token_reused: 1, logout: 1, logout_everywhere: 1 });
      // No secret ever lands in the log table.
      const dump = JSON.stringify((await sql.query('select * from rolegate.audit_log')).rows);
      for (const value of [a[REFRESH], b[REFRESH], c.nf_jwt, PASSWORD]) expect(dump).not.toContain(value);
    } finally {
      await sql.end();
      await store.close();
      await db.drop();
    }
  });
});
