/**
 * Every Location rolegate answers with must be a header value a server can
 * write: a `next` (or a bounced path or query) with a character above U+00FF
 * made Node refuse the header, so netlify dev answered 500 with a stack trace
 * and a login lost the cookies of the session it had just created.
 */
import { validateHeaderValue } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import type { Store } from '../../src/store/store.js';
import { PASSWORD, cookieValues, event, handlersOnMemoryStore, makeUser } from './support.js';

const REFRESH = '__Host-rolegate_refresh';
/** An ideographic space: fine in a URL once percent-encoded, refused by Node in a raw header. */
const WIDE = '\u3000';

/** The Location as Node would write it: throws for what netlify dev turned into a 500. */
function writableLocation(response: { statusCode?: number; headers?: Record<string, unknown> }): string {
  const location = String(response.headers?.Location ?? '');
  validateHeaderValue('Location', location);
  expect(location).toMatch(/^\/[\u0021-\u007e]*$/u);
  return location;
}

describe('a Location header from a non-Latin-1 next', () => {
  let store: Store;
  let login: ReturnType<typeof loginHandler>;
  let logout: ReturnType<typeof logoutHandler>;
  let refresh: ReturnType<typeof refreshHandler>;

  beforeAll(async () => {
    ({ store, login, logout, refresh } = await handlersOnMemoryStore());
  });
  afterAll(() => store.close());

  it('a form login with next=/<U+3000>x goes there percent-encoded, with its cookies', async () => {
    const user = await makeUser(store);
    const r = await login(event({ body: `email=${encodeURIComponent(user.email)}&password=${encodeURIComponent(PASSWORD)}&next=%2F%E3%80%80x` , headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
    expect(r.statusCode).toBe(303);
    expect(writableLocation(r)).toBe('/%E3%80%80x');
    expect(Object.keys(cookieValues(r)).sort()).toEqual([REFRESH, 'nf_jwt', 'rolegate_session']);
  });

  it('a failed form login keeps that next on the login page, encoded once', async () => {
    const user = await makeUser(store);
    const r = await login(event({ form: { email: user.email, password: 'wrong password!', next: `/${WIDE}x` } }));
    expect(r.statusCode).toBe(303);
    expect(writableLocation(r)).toBe(`/login?error=invalid_credentials&next=${encodeURIComponent('/%E3%80%80x')}`);
  });

  it('a form logout with that next ends the session and goes there', async () => {
    const user = await makeUser(store);
    const token = cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })))[REFRESH]!;
    const r = await logout(event({ form: { next: `/${WIDE}x` }, cookies: { [REFRESH]: token } }));
    expect(r.statusCode).toBe(303);
    expect(writableLocation(r)).toBe('/%E3%80%80x');
    expect(cookieValues(r)[REFRESH]).toBe('');
    expect((await refresh(event({ cookies: { [REFRESH]: token } }))).statusCode).toBe(401);
  });

  it.each([
    ['a raw path', { path: `/.netlify/functions/refresh/members/${WIDE}`, query: '' }],
    ['a raw query', { path: '/.netlify/functions/refresh/members/', query: `q=${WIDE}` }],
    ['a ?next= parameter', { path: '/.netlify/functions/refresh', query: `next=${encodeURIComponent(`/members/${WIDE}`)}` }],
  ])('the bounce with %s answers 303 to a writable Location, signed in or not', async (_label, where) => {
    const user = await makeUser(store, ['member']);
    const token = cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })))[REFRESH]!;
    const base = { method: 'GET', origin: null, ...where } as const;
    const signedIn = await refresh({ ...event({ ...base, cookies: { [REFRESH]: token } }), rawUrl: `https://site.example${where.path}${where.query ? `?${where.query}` : ''}`.replace(/%E3%80%80/g, WIDE) });
    expect(signedIn.statusCode).toBe(303);
    expect(writableLocation(signedIn)).toMatch(/^\/members\/(%E3%80%80)?(\?q=%E3%80%80)?$/u);
    expect(cookieValues(signedIn).nf_jwt).not.toBe('');
    const anonymous = await refresh(event(base));
    expect(anonymous.statusCode).toBe(303);
    expect(writableLocation(anonymous)).toMatch(/^\/login\?next=%2Fmembers%2F/u);
  });
});
