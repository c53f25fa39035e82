/**
 * The package handlers the generated functions call (rolegate/functions/*,
 * src/functions/), set up as a generated file does: configuration read from
 * process.env at module load, the compiled table of the starter's config,
 * the store opened on the first request, then called with Lambda-style
 * events. One real PostgreSQL database is shared by the three functions, as
 * on a site.
 */
import type { Handler, HandlerResponse } from '@netlify/functions';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../../src/site-config/compile.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { freePort } from '../support/postgres-cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { PASSWORD, SECRET, SITE, body, cookieValues, event, makeUser, setCookies } from '../auth/support.js';

const REFRESH = '__Host-rolegate_refresh';
type FunctionName = 'login' | 'refresh' | 'logout' | 'recover' | 'verify';

async function loadFunction(name: FunctionName, env: Record<string, string>): Promise<Handler> {
  vi.resetModules();
  for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
  const module = (await import(`../../src/functions/${name}.ts`)) as { handlerFor(compiled: unknown): Handler };
  return module.handlerFor(compileSiteConfig(gateConfig));
}

async function call(handler: Handler, e: ReturnType<typeof event>): Promise<HandlerResponse> {
  return (await handler(e, {} as never)) as HandlerResponse;
}

afterEach(() => vi.unstubAllEnvs());

describe('the deployed functions against one PostgreSQL database', () => {
  let db: TestDatabase;
  let store: Store;
  const fns = {} as Record<FunctionName, Handler>;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = openPostgresStore({ connectionString: db.url });
    const env = { JWT_SECRET: SECRET, SITE_URL: SITE, DATABASE_URL: db.url, BCRYPT_COST: '10', ROLEGATE_DATA_DIR: '', SUPABASE_URL: '', NETLIFY_DB_URL: '' };
    for (const name of ['login', 'refresh', 'logout', 'recover', 'verify'] as const) fns[name] = await loadFunction(name, env);
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('recovers a password through recover and verify: the mailed link, the new password, the old session ended', async () => {
    const user = await makeUser(store, ['member']);
    const before = cookieValues(await call(fns.login, event({ path: '/.netlify/functions/login', json: { email: user.email, password: PASSWORD } })));
    const asked = await call(fns.recover, event({ path: '/auth/recover', form: { email: user.email } }));
    expect([asked.statusCode, asked.headers?.Location]).toEqual([303, '/check-email?sent=recovery']);
    const [mail] = (await store.claimMail({ limit: 100, leaseSeconds: 5 })).filter((m) => m.recipient === user.email);
    const link = new URL(JSON.parse(openMailSecret([new Secret(SECRET)], mail!.sealed!)!).url);
    const opened = await call(fns.verify, event({ method: 'GET', path: link.pathname, query: link.search.slice(1), origin: null }));
    expect([opened.statusCode, opened.headers?.Location]).toEqual([303, '/choose-password']);
    const chosen = await call(fns.verify, event({ path: '/auth/verify', form: { password: 'the new passphrase' }, cookies: { rolegate_link: cookieValues(opened).rolegate_link! } }));
    expect([chosen.statusCode, chosen.headers?.Location]).toEqual([303, '/']);
    expect(cookieValues(chosen).nf_jwt).toBeTruthy();
    const old = await call(fns.refresh, event({ path: '/.netlify/functions/refresh', cookies: { [REFRESH]: before[REFRESH]! } }));
    expect(old.statusCode).toBe(401);
    const relogin = await call(fns.login, event({ path: '/.netlify/functions/login', json: { email: user.email, password: 'the new passphrase' } }));
    expect(relogin.statusCode).toBe(200);
  });

  it('signs in, refreshes, and signs out through the three entry points', async () => {
    const user = await makeUser(store, ['admin']);
    const login = await call(fns.login, event({ path: '/.netlify/functions/login', json: { email: user.email, password: PASSWORD } }));
    expect(login.statusCode).toBe(200);
    expect(login.headers?.['Cache-Control']).toBe('no-store');
    expect(setCookies(login)).toHaveLength(3);
    const signedIn = cookieValues(login);

    const bounced = await call(fns.refresh, event({ method: 'GET', path: '/.netlify/functions/refresh/admin/', cookies: signedIn, origin: null }));
    expect(bounced.statusCode).toBe(303);
    expect(bounced.headers?.Location).toBe('/admin/');
    const refreshed = cookieValues(bounced);
    expect(refreshed[REFRESH]).not.toBe(signedIn[REFRESH]);

    const out = await call(fns.logout, event({ path: '/.netlify/functions/logout', cookies: refreshed, form: { next: '/login' } }));
    expect(out.statusCode).toBe(303);
    expect(out.headers?.Location).toBe('/login');
    expect(cookieValues(out)).toMatchObject({ nf_jwt: '', [REFRESH]: '', rolegate_session: '' });

    const after = await call(fns.refresh, event({ path: '/.netlify/functions/refresh', cookies: refreshed }));
    expect(after.statusCode).toBe(401);
    expect(body(after).error.code).toBe('session_expired');
  });

  it('answers every method and every error with Cache-Control: no-store', async () => {
    const answers = await Promise.all([
      call(fns.login, event({ method: 'GET' })),
      call(fns.login, event({ method: 'DELETE' })),
      call(fns.refresh, event({ method: 'PUT' })),
      call(fns.logout, event({ method: 'GET' })),
      call(fns.login, event({ json: { email: 'nobody@example.com', password: 'wrong password' } })),
      call(fns.refresh, event({ origin: 'https://evil.example' })),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([405, 405, 405, 405, 401, 403]);
    for (const a of answers) expect(a.headers?.['Cache-Control']).toBe('no-store');
    expect(answers[0]!.headers?.Allow).toBe('POST');
  });
});

describe('cold start', () => {
  it('fails loudly, naming the variable and never its value, when the environment is wrong', async () => {
    await expect(loadFunction('login', { JWT_SECRET: 'too-short-secret-value', SITE_URL: SITE, ROLEGATE_DATA_DIR: 'memory://' }))
      .rejects.toThrow(/JWT_SECRET must be at least 32 bytes/);
    await expect(loadFunction('refresh', { JWT_SECRET: 'too-short-secret-value', SITE_URL: SITE, ROLEGATE_DATA_DIR: 'memory://' }))
      .rejects.not.toThrow(/too-short-secret-value/);
  });

  it('loads without touching the database, and answers 503 unavailable while it is down', async () => {
    const port = await freePort();
    const env = { JWT_SECRET: SECRET, SITE_URL: SITE, DATABASE_URL: `postgres://nobody@127.0.0.1:${port}/none`, DB_TIMEOUT_MS: '500', ROLEGATE_DATA_DIR: '', NETLIFY_DB_URL: '' };
    const cookies = { [REFRESH]: 'a'.repeat(43) };
    // Each instance is loaded and called before the next is loaded: a fresh module
    // registry per function, as each Netlify function is its own bundle.
    const refresh = await loadFunction('refresh', env);
    const refreshed = await call(refresh, event({ path: '/.netlify/functions/refresh', cookies }));
    const logout = await loadFunction('logout', env);
    const loggedOut = await call(logout, event({ path: '/.netlify/functions/logout', cookies, json: {} }));
    for (const r of [refreshed, loggedOut]) {
      expect(r.statusCode).toBe(503);
      expect(body(r).error.code).toBe('unavailable');
      expect(r.headers?.['Cache-Control']).toBe('no-store');
      // Nothing new is set; at most the old cookies are deleted.
      for (const c of setCookies(r)) expect(c).toMatch(/Max-Age=0/);
    }
  });
});
