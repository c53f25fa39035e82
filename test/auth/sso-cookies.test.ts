import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { PASSWORD, event, makeDeps, makeUser, setCookies } from './support.js';

/** Path → value of each __Secure-rolegate_refresh cookie a response sets. */
function refreshCookiesByPath(setCookie: string[]): Record<string, string> {
  return Object.fromEntries(setCookie.filter((c) => c.startsWith('__Secure-rolegate_refresh=')).map((c) => {
    const value = c.split(';')[0]!.split('=')[1]!;
    return [/; Path=([^;]+)/.exec(c)![1]!, value];
  }));
}

describe('subdomain single sign-on through the friendly /auth/* paths', () => {
  let store: Store;
  const env = { SITE_URL: 'https://www.example.com', COOKIE_DOMAIN: 'example.com' };
  const origin = 'https://www.example.com';

  beforeAll(async () => {
    store = await openEmbeddedStore({ dataDir: 'memory://' });
  });
  afterAll(() => store.close());

  it('sets the refresh cookie for the functions and for each friendly path, rotates all of them, and deletes all of them', async () => {
    const deps = makeDeps(store, env);
    const user = await makeUser(store);
    const login = await loginHandler(async () => deps)(event({ path: '/auth/login', origin, json: { email: user.email, password: PASSWORD } }));
    const set = refreshCookiesByPath(setCookies(login));
    expect(Object.keys(set)).toEqual(['/.netlify/functions', '/auth/login', '/auth/refresh', '/auth/logout']);
    expect(new Set(Object.values(set)).size).toBe(1);

    // The browser posts to /auth/refresh and sends only the cookie whose Path matches it.
    const token = set['/auth/refresh']!;
    const refreshed = await refreshHandler(async () => deps)(event({ path: '/auth/refresh', origin, cookies: { '__Secure-rolegate_refresh': token } }));
    expect(refreshed.statusCode).toBe(200);
    const rotated = refreshCookiesByPath(setCookies(refreshed));
    expect(Object.keys(rotated)).toEqual(Object.keys(set));
    expect(new Set(Object.values(rotated))).toEqual(new Set([Object.values(rotated)[0]]));
    expect(rotated['/auth/refresh']).not.toBe(token);

    const out = await logoutHandler(async () => deps)(event({ path: '/auth/logout', origin, json: {}, cookies: { '__Secure-rolegate_refresh': rotated['/auth/logout']! } }));
    expect(out.statusCode).toBe(200);
    const deleted = setCookies(out).filter((c) => c.startsWith('__Secure-rolegate_refresh='));
    expect(deleted.map((c) => /; Path=([^;]+)/.exec(c)![1])).toEqual(Object.keys(set));
    for (const c of deleted) expect(c).toMatch(/^__Secure-rolegate_refresh=; Max-Age=0; Domain=example\.com;/);
    // And the session really ended.
    const after = await refreshHandler(async () => deps)(event({ path: '/auth/refresh', origin, cookies: { '__Secure-rolegate_refresh': rotated['/auth/refresh']! } }));
    expect(after.statusCode).toBe(401);
  });
});
