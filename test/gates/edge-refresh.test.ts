/**
 * Inline refresh at the edge, end to end: the generated edge function → the Supabase store
 * (postgrest-js over fetch) → the PostgREST stand-in → the real PostgreSQL, with sessions
 * started by the real login use case. Requests are what a browser (or an attacker) sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAccessToken, rolesAtClaimPath } from '../../src/core/access-token.js';
import { readConfig, type Env } from '../../src/core/environment.js';
import { Secret } from '../../src/core/secret.js';
import { login } from '../../src/auth/login.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import type { EdgeHandler } from '../../src/edge/gate.js';
import { gateTableFromConfig } from '../../src/gates/compile.js';
import { openSupabaseStore } from '../../src/store/supabase.js';
import type { SqlStore } from '../../src/store/sql-store.js';
import { asLogin, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startPostgrestStandin, type PostgrestStandin } from '../support/postgrest-standin.js';
import { makeUser, PASSWORD } from '../auth/support.js';
import { SITE_SECRET, mintToken } from './matcher.js';
import { truthTableConfig } from './truth-table.js';
import { askGate, askGateUnderDeno, cookieHeader, denoAvailable, makeEdgeSite, SITE, type EdgeAnswer, type EdgeSite } from './edge-support.js';

const STANDIN_SECRET = 'postgrest-standin-jwt-secret-for-edge-tests';
const REFRESH_COOKIE = '__Host-rolegate_refresh';

let db: TestDatabase;
let standin: PostgrestStandin;
let store: SqlStore;
let site: EdgeSite;

function siteEnv(extra: Env = {}): Env {
  return {
    JWT_SECRET: SITE_SECRET,
    SITE_URL: SITE,
    BCRYPT_COST: '10',
    SUPABASE_URL: standin.url,
    SUPABASE_SERVICE_ROLE_KEY: standin.serviceRoleKey,
    ...extra,
  };
}

function depsFor(env: Env): AuthDeps {
  return { store, config: readConfig(env).auth, gates: gateTableFromConfig(truthTableConfig), now: () => Math.floor(Date.now() / 1000) };
}

/** name → value of the cookies a response sets ('' for a deletion). */
function cookiesSet(answer: Pick<EdgeAnswer, 'setCookies'>): Record<string, string> {
  return Object.fromEntries(answer.setCookies.map((c) => {
    const pair = c.split(';')[0]!;
    const i = pair.indexOf('=');
    return [pair.slice(0, i), decodeURIComponent(pair.slice(i + 1))];
  }));
}

/** A signed-in browser's cookies, from the real login use case; `nf_jwt` replaced by an expired token. */
async function signedIn(roles: string[], env: Env = siteEnv()): Promise<{ cookies: Record<string, string>; email: string }> {
  const user = await makeUser(store, roles);
  const result = await login(depsFor(env), { fields: { email: user.email, password: PASSWORD }, ip: '203.0.113.7' });
  const cookies = cookiesSet({ setCookies: result.cookies });
  return { cookies: { ...cookies, nf_jwt: await mintToken('expired', roles) }, email: user.email };
}

async function rolesOf(token: string): Promise<string[]> {
  const claims = await verifyAccessToken(token, { secrets: [new Secret(SITE_SECRET)], issuer: 'rolegate', now: Math.floor(Date.now() / 1000) });
  return rolesAtClaimPath(claims);
}

beforeAll(async () => {
  db = await createTestDatabase();
  standin = await startPostgrestStandin({ databaseUrl: asLogin(db.url, 'authenticator'), jwtSecret: STANDIN_SECRET });
  store = openSupabaseStore({ url: standin.url, serviceRoleKey: standin.serviceRoleKey });
  site = await makeEdgeSite(truthTableConfig);
}, 120_000);
afterAll(async () => {
  await site?.close();
  await store?.close();
  await standin?.close();
  await db?.drop();
});

describe('inline refresh at the edge (Supabase store over PostgREST, real PostgreSQL)', () => {
  let gate: EdgeHandler;
  beforeAll(async () => {
    gate = await site.loadGenerated(siteEnv({ REFRESH_GRACE_SECONDS: '0' }));
  });

  it('serves the page in the same response with a fresh nf_jwt and a rotated refresh token', async () => {
    const { cookies } = await signedIn(['admin']);
    const answer = await askGate(site, gate, '/admin/users.html?tab=2', cookies);
    expect(answer.served).toBe(true);
    expect(answer.location).toBeNull();
    expect(answer.response.headers.get('cache-control')).toBe('private, no-store');
    const set = cookiesSet(answer);
    expect(await rolesOf(set.nf_jwt!)).toEqual(['admin']);
    expect(set[REFRESH_COOKIE]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(set[REFRESH_COOKIE]).not.toBe(cookies[REFRESH_COOKIE]);
    expect(answer.setCookies.find((c) => c.startsWith('nf_jwt='))).toMatch(/HttpOnly/i);

    // What serves the page (a function behind a rewrite, say) sees the new token, not the expired one.
    expect(answer.forwarded?.headers.get('cookie')).toContain(`nf_jwt=${set.nf_jwt}`);
    expect(answer.forwarded?.headers.get('cookie')).not.toContain(cookies.nf_jwt!);

    // The new access token alone now passes; nothing else is needed.
    const next = await askGate(site, gate, '/admin/users.html', { nf_jwt: set.nf_jwt! });
    expect(next.served).toBe(true);
    expect(next.setCookies).toEqual([]);
  });

  it('ends the session when the old refresh token comes back after the grace interval', async () => {
    const { cookies } = await signedIn(['admin']);
    const first = await askGate(site, gate, '/admin/users.html', cookies);
    expect(first.served).toBe(true);
    const stolen = await askGate(site, gate, '/admin/users.html', cookies);
    expect(stolen.status).toBe(302);
    expect(stolen.location).toBe('/login?next=%2Fadmin%2Fusers.html&error=session_expired');
    expect(cookiesSet(stolen).nf_jwt).toBe('');
    // The legitimate holder's rotated token is dead too: the whole session was revoked.
    const rotated = cookiesSet(first)[REFRESH_COOKIE]!;
    const after = await askGate(site, gate, '/admin/users.html', { [REFRESH_COOKIE]: rotated });
    expect(after.location).toBe('/login?next=%2Fadmin%2Fusers.html');
  });

  it('serves two tabs refreshing with the same token at once, with the same new token (no reuse alarm)', async () => {
    const graceful = await site.loadGenerated(siteEnv());
    const { cookies } = await signedIn(['admin']);
    const [a, b] = await Promise.all([
      askGate(site, graceful, '/admin/users.html', cookies),
      askGate(site, graceful, '/admin/reports.html', cookies),
    ]);
    expect(a.served && b.served).toBe(true);
    expect(cookiesSet(a)[REFRESH_COOKIE]).toBe(cookiesSet(b)[REFRESH_COOKIE]);
    // The session is still alive: the shared successor refreshes again.
    const later = await askGate(site, graceful, '/admin/users.html', { [REFRESH_COOKIE]: cookiesSet(a)[REFRESH_COOKIE]! });
    expect(later.served).toBe(true);
  });

  it('within the grace interval hands the successor only to the browser that rotated the token: another User-Agent is reuse and ends the session', async () => {
    const graceful = await site.loadGenerated(siteEnv());
    const owner = { 'user-agent': 'Mozilla/5.0 (owner)' };
    const { cookies } = await signedIn(['admin']);
    const first = await askGate(site, graceful, '/admin/users.html', cookies, owner);
    expect(first.served).toBe(true);
    // The same browser again within the interval (a lost answer, a second tab): the same successor.
    const again = await askGate(site, graceful, '/admin/users.html', cookies, owner);
    expect(again.served).toBe(true);
    expect(cookiesSet(again)[REFRESH_COOKIE]).toBe(cookiesSet(first)[REFRESH_COOKIE]);
    // A copy of the old cookie in another browser, still within the interval.
    const thief = await askGate(site, graceful, '/admin/users.html', cookies, { 'user-agent': 'curl/8.5.0' });
    expect(thief.served).toBe(false);
    expect(thief.location).toMatch(/^\/login\?next=%2Fadmin%2Fusers\.html/);
    expect(cookiesSet(thief).nf_jwt).toBe('');
    const owners = await askGate(site, graceful, '/admin/users.html', { [REFRESH_COOKIE]: cookiesSet(first)[REFRESH_COOKIE]! }, owner);
    expect(owners.served).toBe(false);
  });

  it('sends a signed-in visitor whose fresh token still lacks the role to the forbidden page, with the new cookies', async () => {
    const { cookies } = await signedIn(['member']);
    const answer = await askGate(site, gate, '/admin/users.html', cookies);
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/403');
    expect(await rolesOf(cookiesSet(answer).nf_jwt!)).toEqual(['member']);
  });

  it('picks up a role granted since the last refresh', async () => {
    const { cookies, email } = await signedIn(['member']);
    const user = (await store.findUserByEmail(email))!;
    await store.setUserRoles(user.id, ["member", "admin"]);
    const answer = await askGate(site, gate, '/admin/users.html', cookies);
    expect(answer.served).toBe(true);
    expect(await rolesOf(cookiesSet(answer).nf_jwt!)).toEqual(['member', 'admin']);
  });

  it('sends a visitor with an unknown refresh token to the login page with next, and clears the cookies', async () => {
    const forgedRefresh = 'A'.repeat(43);
    const answer = await askGate(site, gate, '/admin/users.html?tab=2&sort=name', { [REFRESH_COOKIE]: forgedRefresh, nf_jwt: await mintToken('expired', ['admin']) });
    expect(answer.status).toBe(302);
    expect(answer.location).toBe(`/login?next=${encodeURIComponent('/admin/users.html?tab=2&sort=name')}`);
    const set = cookiesSet(answer);
    expect(set.nf_jwt).toBe('');
    expect(set[REFRESH_COOKIE]).toBe('');
  });

  // The gate decides on the page the static server serves, runs of slashes collapsed, and the
  // login page's next names that page.
  it.each([
    ['/admin//evil.example/x', '/admin/evil.example/x'],
    ['/admin/x&next=https://evil.example', '/admin/x&next=https:/evil.example'],
    ['/admin/%2F%2Fevil.example', '/admin/evil.example'],
    ['/admin/x?next=//evil.example', '/admin/x?next=//evil.example'],
  ])('keeps next on this site for %s', async (requested, expectedNext) => {
    const answer = await askGate(site, gate, requested, { [REFRESH_COOKIE]: 'B'.repeat(43) });
    expect(answer.status).toBe(302);
    const login = new URL(answer.location!, SITE);
    expect(login.origin).toBe(SITE);
    expect(login.pathname).toBe('/login');
    expect(login.searchParams.getAll('next')).toHaveLength(1);
    const next = login.searchParams.get('next')!;
    expect(new URL(next, SITE).origin).toBe(SITE);
    expect(decodeURIComponent(next)).toBe(expectedNext);
  });

  it('does not refresh for a disabled account', async () => {
    const { cookies, email } = await signedIn(['admin']);
    const user = (await store.findUserByEmail(email))!;
    await store.setUserDisabled(user.id, true);
    const answer = await askGate(site, gate, '/admin/users.html', cookies);
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/login?next=%2Fadmin%2Fusers.html');
  });
});

describe('when the edge cannot refresh, it bounces exactly as _redirects does', () => {
  it('bounces to the refresh function when the store does not answer', async () => {
    const { cookies } = await signedIn(['admin']);
    const gate = await site.loadGenerated(siteEnv({ SUPABASE_URL: 'http://127.0.0.1:9', DB_TIMEOUT_MS: '500' }));
    const answer = await askGate(site, gate, '/admin/users.html?tab=2', cookies);
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/.netlify/functions/refresh/admin/users.html?tab=2');
    expect(answer.setCookies).toEqual([]);
    // Nothing was rotated: the refresh function can still use the same token.
    const retry = await askGate(site, await site.loadGenerated(siteEnv()), '/admin/users.html', cookies);
    expect(retry.served).toBe(true);
  });

  it('bounces when the users are in a database only the functions can reach (DATABASE_URL)', async () => {
    const { cookies } = await signedIn(['admin']);
    const env = siteEnv({ DATABASE_URL: db.url });
    delete env.SUPABASE_URL;
    delete env.SUPABASE_SERVICE_ROLE_KEY;
    const answer = await askGate(site, await site.loadGenerated(env), '/admin/users.html', cookies);
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/.netlify/functions/refresh/admin/users.html');
  });

  it('fails closed without a usable JWT secret: even a good token is bounced', async () => {
    const gate = await site.loadGenerated({ SITE_URL: SITE, JWT_SECRET: 'too-short' });
    const answer = await askGate(site, gate, '/admin/users.html', { nf_jwt: await mintToken('valid-with-role', ['admin']) });
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/.netlify/functions/refresh/admin/users.html');
  });
});

describe('token fingerprint at the edge (TOKEN_FINGERPRINT=on)', () => {
  const env = () => siteEnv({ TOKEN_FINGERPRINT: 'on' });

  it('serves a token only together with its fingerprint cookie, which _redirects cannot check', async () => {
    const user = await makeUser(store, ['admin']);
    const result = await login(depsFor(env()), { fields: { email: user.email, password: PASSWORD }, ip: '203.0.113.8' });
    const cookies = cookiesSet({ setCookies: result.cookies });
    const gate = await site.loadGenerated(env());
    expect((await askGate(site, gate, '/admin/x', { nf_jwt: cookies.nf_jwt!, '__Host-rolegate_fp': cookies['__Host-rolegate_fp']! })).served).toBe(true);
    // A lifted token without the HttpOnly cookie is refused, and cannot be refreshed either.
    const replayed = await askGate(site, gate, '/admin/x', { nf_jwt: cookies.nf_jwt!, [REFRESH_COOKIE]: cookies[REFRESH_COOKIE]! });
    expect(replayed.status).toBe(302);
    expect(replayed.location).toBe('/login?next=%2Fadmin%2Fx');
  });
});

describe('inline refresh under Deno', () => {
  it('serves the page with the new cookies, talking to PostgREST over fetch from Deno', async () => {
    expect(denoAvailable(), 'node_modules/.bin/deno must run (the "deno" devDependency)').toBe(true);
    const { cookies } = await signedIn(['admin']);
    const host = new URL(standin.url).host;
    const { runtime, answers } = await askGateUnderDeno(site, siteEnv(), [
      { url: `${SITE}/admin/users.html?tab=2`, cookie: cookieHeader(cookies) },
      { url: `${SITE}/admin/users.html`, cookie: cookieHeader({ [REFRESH_COOKIE]: 'C'.repeat(43) }) },
    ], host);
    expect(runtime).toMatch(/^deno 2\./);
    const [refreshed, unknown] = answers;
    expect(refreshed!.served).toBe(true);
    expect(refreshed!.cacheControl).toBe('private, no-store');
    const set = cookiesSet(refreshed!);
    expect(await rolesOf(set.nf_jwt!)).toEqual(['admin']);
    expect(set[REFRESH_COOKIE]).not.toBe(cookies[REFRESH_COOKIE]);
    expect(unknown!.status).toBe(302);
    expect(unknown!.location).toBe('/login?next=%2Fadmin%2Fusers.html');
  });
});
