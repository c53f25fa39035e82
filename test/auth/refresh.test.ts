import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store, User } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { PASSWORD, body, cookieValues, event, makeDeps, makeUser, setCookies } from './support.js';

const REFRESH = '__Host-rolegate_refresh';

describe('refresh and logout against real PostgreSQL', () => {
  let db: TestDatabase;
  let store: Store;
  let sql: pg.Pool;
  let login: ReturnType<typeof loginHandler>;
  let refresh: ReturnType<typeof refreshHandler>;
  let logout: ReturnType<typeof logoutHandler>;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = openPostgresStore({ connectionString: db.url, maxConnections: 25 });
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    const deps = makeDeps(store);
    login = loginHandler(async () => deps);
    refresh = refreshHandler(async () => deps);
    logout = logoutHandler(async () => deps);
  });
  afterAll(async () => {
    await store.close();
    await sql.end();
    await db.drop();
  });

  async function signIn(user: User): Promise<Record<string, string>> {
    const r = await login(event({ json: { email: user.email, password: PASSWORD } }));
    expect(r.statusCode).toBe(200);
    return cookieValues(r);
  }

  const postRefresh = (cookies: Record<string, string>, origin?: string | null) =>
    refresh(event({ path: '/.netlify/functions/refresh', cookies, origin }));

  it('rotates the refresh cookie and issues a fresh access token', async () => {
    const user = await makeUser(store, ['member']);
    const first = await signIn(user);
    const r = await postRefresh({ [REFRESH]: first[REFRESH]! });
    expect(r.statusCode).toBe(200);
    expect(body(r).user).toMatchObject({ id: user.id, roles: ['member'] });
    const next = cookieValues(r);
    expect(next[REFRESH]).toMatch(/^[\w-]{43}$/);
    expect(next[REFRESH]).not.toBe(first[REFRESH]);
    expect(next.nf_jwt).toMatch(/^ey/);
  });

  it('lets two tabs refresh with the same token at once: both succeed with the same new cookie', async () => {
    const user = await makeUser(store);
    const first = await signIn(user);
    const answers = await Promise.all(Array.from({ length: 20 }, () => postRefresh({ [REFRESH]: first[REFRESH]! })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => cookieValues(a)[REFRESH])).size).toBe(1);
    const rows = await sql.query(
      `select count(*)::int as n from rolegate.refresh_tokens t join rolegate.sessions s on s.id = t.session_id where s.user_id = $1 and t.parent_id is not null`, [user.id]);
    expect(rows.rows[0].n).toBe(1);
  });

  it('ends the whole session when a rotated token comes back after the grace interval', async () => {
    const user = await makeUser(store);
    const first = await signIn(user);
    const second = cookieValues(await postRefresh({ [REFRESH]: first[REFRESH]! }));
    await sql.query(`update rolegate.refresh_tokens t set used_at = used_at - interval '1 hour'
                     from rolegate.sessions s where s.id = t.session_id and s.user_id = $1 and t.used_at is not null`, [user.id]);
    const stolen = await postRefresh({ [REFRESH]: first[REFRESH]! });
    expect(stolen.statusCode).toBe(401);
    expect(body(stolen).error.code).toBe('refresh_token_reused');
    expect(cookieValues(stolen)).toMatchObject({ nf_jwt: '', rolegate_session: '', [REFRESH]: '' });
    expect(setCookies(stolen).every((c) => /Max-Age=0/.test(c))).toBe(true);
    // The legitimate holder of the successor is out too: the session is gone.
    const legit = await postRefresh({ [REFRESH]: second[REFRESH]! });
    expect(body(legit).error.code).toBe('session_expired');
    const audit = await sql.query(`select count(*)::int as n from rolegate.audit_log where event = 'refresh_token_reused' and user_id = $1`, [user.id]);
    expect(audit.rows[0].n).toBe(1);
  });

  it('picks up a role change at the next refresh, and cuts off a disabled or revoked user', async () => {
    const user = await makeUser(store, ['member']);
    let cookies = await signIn(user);
    await store.setUserRoles(user.id, ['member', 'admin']);
    const promoted = await postRefresh({ [REFRESH]: cookies[REFRESH]! });
    expect(body(promoted).user.roles).toEqual(['member', 'admin']);
    cookies = cookieValues(promoted);
    await store.setUserDisabled(user.id, true);
    expect(body(await postRefresh({ [REFRESH]: cookies[REFRESH]! })).error.code).toBe('session_expired');

    const other = await makeUser(store);
    const otherCookies = await signIn(other);
    await store.revokeUserSessions(other.id);
    expect((await postRefresh({ [REFRESH]: otherCookies[REFRESH]! })).statusCode).toBe(401);
  });

  it('refuses a refresh POST from another origin or none (CSRF)', async () => {
    const user = await makeUser(store);
    const cookies = await signIn(user);
    for (const origin of [null, 'https://evil.example']) {
      const r = await postRefresh({ [REFRESH]: cookies[REFRESH]! }, origin);
      expect(r.statusCode).toBe(403);
      expect(body(r).error.code).toBe('bad_origin');
    }
    // Nothing was rotated by the refused requests.
    expect((await postRefresh({ [REFRESH]: cookies[REFRESH]! })).statusCode).toBe(200);
  });

  it('answers garbage refresh cookies with session_expired and cleared cookies', async () => {
    for (const value of ['', 'x', 'a'.repeat(43), '../../etc/passwd', 'eyJhbGciOiJub25lIn0.e30.']) {
      const r = await postRefresh({ [REFRESH]: value, nf_jwt: 'junk' });
      expect(r.statusCode, value).toBe(401);
      expect(cookieValues(r).nf_jwt).toBe('');
    }
  });

  describe('the gate bounce (GET)', () => {
    const bounce = (path: string, cookies: Record<string, string> = {}, query = '') =>
      refresh(event({ method: 'GET', path, query, cookies, origin: null }));

    it('refreshes and returns to the gated path with the visitor\'s query restored', async () => {
      const user = await makeUser(store, ['admin']);
      const cookies = await signIn(user);
      const r = await bounce('/.netlify/functions/refresh/admin/report', { [REFRESH]: cookies[REFRESH]! }, 'year=2024&tab=2');
      expect(r.statusCode).toBe(303);
      expect(r.headers?.Location).toBe('/admin/report?year=2024&tab=2');
      expect(cookieValues(r).nf_jwt).toMatch(/^ey/);
    });

    it('sends a visitor whose fresh token still lacks the role to the forbidden page, not back into the gate', async () => {
      const user = await makeUser(store, ['member']);
      const cookies = await signIn(user);
      const r = await bounce('/.netlify/functions/refresh/admin/', { [REFRESH]: cookies[REFRESH]! });
      expect(r.headers?.Location).toBe('/403');
      const ok = await bounce('/.netlify/functions/refresh/members/', { [REFRESH]: cookieValues(r)[REFRESH]! });
      expect(ok.headers?.Location).toBe('/members/');
    });

    it('sends a visitor without a session to the login page with next, clearing the cookies', async () => {
      const r = await bounce('/.netlify/functions/refresh/admin/x', { nf_jwt: 'not-a-jwt' }, 'a=1');
      expect(r.statusCode).toBe(303);
      expect(r.headers?.Location).toBe(`/login?next=${encodeURIComponent('/admin/x?a=1')}`);
      expect(cookieValues(r).nf_jwt).toBe('');
    });

    it('never redirects off the site, whatever next it is given', async () => {
      for (const next of ['//evil.example', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)']) {
        const r = await bounce('/.netlify/functions/refresh', {}, `next=${encodeURIComponent(next)}`);
        expect(r.headers?.Location, next).toBe(`/login?next=${encodeURIComponent('/')}`);
      }
      const crafted = await bounce('/.netlify/functions/refresh//evil.example/x');
      expect(crafted.headers?.Location).toBe(`/login?next=${encodeURIComponent('/')}`);
    });
  });

  describe('logout', () => {
    const post = (cookies: Record<string, string>, json: unknown = {}) =>
      logout(event({ path: '/.netlify/functions/logout', cookies, json }));

    it('ends this session only, and clears every cookie', async () => {
      const user = await makeUser(store);
      const laptop = await signIn(user);
      const phone = await signIn(user);
      const r = await post(laptop);
      expect(r.statusCode).toBe(200);
      expect(cookieValues(r)).toMatchObject({ nf_jwt: '', rolegate_session: '', [REFRESH]: '' });
      expect((await postRefresh({ [REFRESH]: laptop[REFRESH]! })).statusCode).toBe(401);
      expect((await postRefresh({ [REFRESH]: phone[REFRESH]! })).statusCode).toBe(200);
    });

    it('signs out everywhere with scope=global', async () => {
      const user = await makeUser(store);
      const laptop = await signIn(user);
      const phone = await signIn(user);
      const r = await post(laptop, { scope: 'global' });
      expect(body(r)).toEqual({ ok: true, scope: 'global' });
      expect((await postRefresh({ [REFRESH]: phone[REFRESH]! })).statusCode).toBe(401);
      const audit = await sql.query(`select count(*)::int as n from rolegate.audit_log where event = 'logout_everywhere' and user_id = $1`, [user.id]);
      expect(audit.rows[0].n).toBe(1);
    });

    it('succeeds without a session and still clears the cookies; a form post goes to next', async () => {
      const r = await post({});
      expect(r.statusCode).toBe(200);
      expect(setCookies(r).length).toBeGreaterThanOrEqual(3);
      const form = await logout(event({ path: '/.netlify/functions/logout', form: { next: '/login' } }));
      expect(form.statusCode).toBe(303);
      expect(form.headers?.Location).toBe('/login');
      const evil = await logout(event({ path: '/.netlify/functions/logout', form: { next: 'https://evil.example' } }));
      expect(evil.headers?.Location).toBe('/');
    });

    it('refuses a cross-site or origin-less logout without touching the cookies or the session', async () => {
      const user = await makeUser(store);
      const cookies = await signIn(user);
      for (const origin of ['https://evil.example', null]) {
        const forged = await logout(event({ path: '/.netlify/functions/logout', cookies, form: { scope: 'global' }, origin }));
        expect(forged.statusCode, String(origin)).toBe(403);
        expect(setCookies(forged), String(origin)).toEqual([]);
      }
      expect((await postRefresh({ [REFRESH]: cookies[REFRESH]! })).statusCode).toBe(200);
    });

    it('refuses a bad scope', async () => {
      expect(body(await post({}, { scope: 'everyone' })).error.code).toBe('bad_request');
    });
  });
});

describe('cookies for single sign-on across subdomains', () => {
  it('scopes every cookie to COOKIE_DOMAIN, path-limits the refresh cookie, and deletes with the same attributes', async () => {
    const db = await createTestDatabase();
    const store = openPostgresStore({ connectionString: db.url });
    try {
      const deps = makeDeps(store, { SITE_URL: 'https://docs.example.com', COOKIE_DOMAIN: 'example.com' });
      const user = await makeUser(store);
      const r = await loginHandler(async () => deps)(event({ json: { email: user.email, password: PASSWORD }, origin: 'https://docs.example.com' }));
      const cookies = setCookies(r);
      for (const c of cookies) expect(c).toMatch(/; Domain=example\.com/);
      const refreshCookie = cookies.find((c) => c.startsWith('__Secure-rolegate_refresh='))!;
      expect(refreshCookie).toMatch(/; Path=\/\.netlify\/functions/);
      const out = await logoutHandler(async () => deps)(event({ json: {}, origin: 'https://docs.example.com', cookies: cookieValues(r) }));
      const deletions = setCookies(out);
      expect(deletions.find((c) => c.startsWith('nf_jwt='))).toMatch(/Domain=example\.com; Path=\/; Expires=Thu, 01 Jan 1970/);
      expect(deletions.find((c) => c.startsWith('__Secure-rolegate_refresh='))).toMatch(/Domain=example\.com; Path=\/\.netlify\/functions; Expires=Thu, 01 Jan 1970/);
      // Another subdomain listed in ALLOWED_ORIGINS may post; a foreign one may not.
      const app = makeDeps(store, { SITE_URL: 'https://docs.example.com', COOKIE_DOMAIN: 'example.com', ALLOWED_ORIGINS: 'https://app.example.com' });
      const fromApp = await refreshHandler(async () => app)(event({ origin: 'https://app.example.com', cookies: cookieValues(r) }));
      expect(fromApp.statusCode).toBe(401); // reached the refresh: the session was logged out above
      const fromEvil = await refreshHandler(async () => app)(event({ origin: 'https://evil-example.com', cookies: cookieValues(r) }));
      expect(fromEvil.statusCode).toBe(403);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

