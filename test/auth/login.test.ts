import { decodeProtectedHeader, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler } from '../../src/auth/handlers.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { freePort } from '../support/postgres-cluster.js';
import { uniqueEmail } from '../store/contract.js';
import { PASSWORD, SITE, body, cookieValues, event, makeDeps, makeUser, setCookies } from './support.js';

describe('login', () => {
  let store: Store;
  let handler: ReturnType<typeof loginHandler>;

  beforeAll(async () => {
    store = await openEmbeddedStore({ dataDir: 'memory://' });
    const deps = makeDeps(store, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '8' });
    handler = loginHandler(async () => deps);
  });
  afterAll(() => store.close());

  const post = (fields: Record<string, unknown>, extra: Parameters<typeof event>[0] = {}) =>
    handler(event({ json: fields, ...extra }));

  it('signs in with JSON and sets the three cookies with their hardened attributes', async () => {
    const user = await makeUser(store, ['admin']);
    const response = await post({ email: ` ${user.email.toUpperCase()} `, password: PASSWORD });
    expect(response.statusCode).toBe(200);
    expect(response.headers?.['Cache-Control']).toBe('no-store');
    expect(body(response)).toMatchObject({ user: { id: user.id, email: user.email, roles: ['admin'] } });
    const cookies = setCookies(response);
    const access = cookies.find((c) => c.startsWith('nf_jwt='))!;
    const refresh = cookies.find((c) => c.startsWith('__Host-rolegate_refresh='))!;
    const session = cookies.find((c) => c.startsWith('rolegate_session='))!;
    for (const c of [access, refresh]) expect(c).toMatch(/; HttpOnly/);
    for (const c of [access, refresh, session]) {
      expect(c).toMatch(/; Secure/);
      expect(c).toMatch(/; SameSite=Lax/);
      expect(c).toMatch(/; Path=\//);
      expect(c).not.toMatch(/Domain=/);
    }
    expect(session).not.toMatch(/HttpOnly/);
    const token = cookieValues(response).nf_jwt!;
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: user.id, email: user.email, iss: 'rolegate', app_metadata: { authorization: { roles: ['admin'] } } });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(JSON.parse(cookieValues(response).rolegate_session!)).toEqual({ email: user.email, roles: ['admin'], exp: claims.exp });
  });

  it('signs in from a plain HTML form and goes to next, or to / when next points elsewhere', async () => {
    const user = await makeUser(store);
    const ok = await handler(event({ form: { email: user.email, password: PASSWORD, next: '/members/page?x=1' } }));
    expect(ok.statusCode).toBe(303);
    expect(ok.headers?.Location).toBe('/members/page?x=1');
    expect(setCookies(ok)).toHaveLength(3);
    for (const evil of ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/%2F%2Fevil.example', ' /x']) {
      const r = await handler(event({ form: { email: user.email, password: PASSWORD, next: evil } }));
      expect(r.headers?.Location, evil).toBe('/');
    }
  });

  it('takes next from the login page the form came from when scripts are off', async () => {
    const user = await makeUser(store);
    const r = await handler(event({ form: { email: user.email, password: PASSWORD, next: '' }, headers: { referer: `${SITE}/login?next=%2Fadmin%2Freport` } }));
    expect(r.headers?.Location).toBe('/admin/report');
    const foreign = await handler(event({ form: { email: user.email, password: PASSWORD, next: '' }, headers: { referer: 'https://evil.example/login?next=%2Fadmin%2F' } }));
    expect(foreign.headers?.Location).toBe('/');
  });

  it('answers an unknown email, a wrong password and a disabled account identically, with no cookie', async () => {
    const user = await makeUser(store);
    const disabled = await makeUser(store);
    await store.setUserDisabled(disabled.id, true);
    const answers = await Promise.all([
      post({ email: uniqueEmail('nobody'), password: PASSWORD }),
      post({ email: user.email, password: 'wrong password here' }),
      post({ email: disabled.email, password: PASSWORD }),
    ]);
    for (const a of answers) {
      expect(a.statusCode).toBe(401);
      expect(setCookies(a)).toEqual([]);
      expect(a.body).toBe(answers[0]!.body);
    }
    expect(body(answers[0]!)).toEqual({ error: { code: 'invalid_credentials', message: expect.any(String) } });
    const form = await handler(event({ form: { email: user.email, password: 'nope nope', next: '/admin/' } }));
    expect(form.statusCode).toBe(303);
    expect(form.headers?.Location).toBe('/login?error=invalid_credentials&next=%2Fadmin%2F');
  });

  it('throttles an account after its failures, even for the right password, with Retry-After', async () => {
    const user = await makeUser(store);
    for (let i = 0; i < 3; i++) expect((await post({ email: user.email, password: 'wrong wrong' }, { headers: { 'x-nf-client-connection-ip': `198.51.100.${i}` } })).statusCode).toBe(401);
    const blocked = await post({ email: user.email, password: PASSWORD }, { headers: { 'x-nf-client-connection-ip': '198.51.100.99' } });
    expect(blocked.statusCode).toBe(429);
    expect(body(blocked).error.code).toBe('throttled');
    expect(Number(blocked.headers?.['Retry-After'])).toBeGreaterThan(0);
    expect(setCookies(blocked)).toEqual([]);
  });

  it('throttles a client address that tries many accounts', async () => {
    const ip = { 'x-nf-client-connection-ip': '192.0.2.77' };
    for (let i = 0; i < 8; i++) await post({ email: uniqueEmail('spray'), password: 'guess guess' }, { headers: ip });
    const user = await makeUser(store);
    const blocked = await post({ email: user.email, password: PASSWORD }, { headers: ip });
    expect(blocked.statusCode).toBe(429);
    expect((await post({ email: user.email, password: PASSWORD })).statusCode).toBe(200);
  });

  it('refuses a cross-site or origin-less post (login CSRF)', async () => {
    const user = await makeUser(store);
    for (const origin of [null, 'https://evil.example', 'null', `${SITE}.evil.example`]) {
      const r = await post({ email: user.email, password: PASSWORD }, { origin });
      expect(r.statusCode, String(origin)).toBe(403);
      expect(body(r).error.code).toBe('bad_origin');
      expect(setCookies(r)).toEqual([]);
    }
  });

  it('answers every malformed request with a 4xx JSON error, never a 500 or a stack', async () => {
    const cases: [Parameters<typeof event>[0], number, string][] = [
      [{ body: '{"email":', headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
      [{ body: '[1,2]', headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
      [{ json: { email: 'a@example.com' } }, 400, 'bad_request'],
      [{ json: { email: 42, password: ['x'] } }, 400, 'bad_request'],
      [{ body: 'email=a', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
      [{ json: { email: 'a@example.com', password: 'x'.repeat(20_000) } }, 413, 'payload_too_large'],
      [{ body: '!!!not base64!!!', base64: false, headers: { 'content-type': 'application/json' } }, 400, 'bad_request'],
      [{ method: 'GET' }, 405, 'method_not_allowed'],
      [{}, 400, 'bad_request'],
    ];
    for (const [options, status, code] of cases) {
      const r = await handler(event(options));
      expect(r.statusCode, JSON.stringify(options).slice(0, 80)).toBe(status);
      expect(body(r).error.code).toBe(code);
      expect(r.body).not.toMatch(/at .*\.ts:\d+/);
    }
    const lying = { ...event({ json: { email: 'a@example.com', password: 'x' } }), isBase64Encoded: true };
    expect((await handler(lying)).statusCode).toBe(400);
  });

  it('reads a base64-encoded body as Netlify may deliver it', async () => {
    const user = await makeUser(store);
    const r = await handler(event({ json: { email: user.email, password: PASSWORD }, base64: true }));
    expect(r.statusCode).toBe(200);
  });
});

describe('login when the database is down', () => {
  it('answers 503 unavailable in bounded time and sets nothing', async () => {
    const port = await freePort();
    const store = openPostgresStore({ connectionString: `postgres://nobody@127.0.0.1:${port}/none`, timeoutMs: 500 });
    const handler = loginHandler(async () => makeDeps(store));
    const r = await handler(event({ json: { email: 'a@example.com', password: PASSWORD } }));
    expect(r.statusCode).toBe(503);
    expect(body(r).error.code).toBe('unavailable');
    expect(setCookies(r)).toEqual([]);
    await store.close();
  });
});
