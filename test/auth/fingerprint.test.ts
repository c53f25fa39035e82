import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler, refreshHandler } from '../../src/auth/handlers.js';
import { requireRole } from '../../src/auth/require-role.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { PASSWORD, authConfig, body, cookieValues, event, makeDeps, makeUser } from './support.js';

const FP = '__Host-rolegate_fp';
const REFRESH = '__Host-rolegate_refresh';
const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');

describe('token fingerprint (TOKEN_FINGERPRINT=on)', () => {
  let store: Store;
  let login: ReturnType<typeof loginHandler>;
  let refresh: ReturnType<typeof refreshHandler>;
  const config = authConfig({ TOKEN_FINGERPRINT: 'on' });

  beforeAll(async () => {
    store = await openEmbeddedStore({ dataDir: 'memory://' });
    const deps = makeDeps(store, { TOKEN_FINGERPRINT: 'on' });
    login = loginHandler(async () => deps);
    refresh = refreshHandler(async () => deps);
  });
  afterAll(() => store.close());

  async function signIn() {
    const user = await makeUser(store, ['member']);
    const r = await login(event({ json: { email: user.email, password: PASSWORD } }));
    return cookieValues(r);
  }

  it('binds the access token to an HttpOnly fingerprint cookie by its SHA-256', async () => {
    const cookies = await signIn();
    expect(cookies[FP]).toMatch(/^[\w-]{43}$/);
    expect(decodeJwt(cookies.nf_jwt!).fph).toBe(sha256(cookies[FP]!));
  });

  it('refuses a stolen access token presented without its fingerprint cookie, or with another one', async () => {
    const cookies = await signIn();
    const check = (c: Record<string, string>) => requireRole(event({ method: 'GET', cookies: c }), { roles: ['member'], config });
    expect((await check({ nf_jwt: cookies.nf_jwt!, [FP]: cookies[FP]! })).ok).toBe(true);
    const bare = await check({ nf_jwt: cookies.nf_jwt! });
    expect(!bare.ok && bare.response.statusCode).toBe(401);
    const other = await check({ nf_jwt: cookies.nf_jwt!, [FP]: 'x'.repeat(43) });
    expect(other.ok).toBe(false);
    const viaHeader = await requireRole(event({ method: 'GET', headers: { authorization: `Bearer ${cookies.nf_jwt}` } }), { roles: ['member'], config });
    expect(viaHeader.ok).toBe(false);
  });

  it('refuses a refresh without the fingerprint cookie or with a mismatched one, changing nothing', async () => {
    const cookies = await signIn();
    const post = (c: Record<string, string>) => refresh(event({ cookies: c }));
    expect(body(await post({ [REFRESH]: cookies[REFRESH]! })).error.code).toBe('session_expired');
    expect((await post({ [REFRESH]: cookies[REFRESH]!, nf_jwt: cookies.nf_jwt!, [FP]: 'y'.repeat(43) })).statusCode).toBe(401);
    // The refused attempts rotated nothing: the rightful browser still refreshes, keeping its fingerprint.
    const ok = await post({ [REFRESH]: cookies[REFRESH]!, nf_jwt: cookies.nf_jwt!, [FP]: cookies[FP]! });
    expect(ok.statusCode).toBe(200);
    const next = cookieValues(ok);
    expect(next[FP]).toBe(cookies[FP]);
    expect(decodeJwt(next.nf_jwt!).fph).toBe(sha256(cookies[FP]!));
  });

  it('is off by default: tokens carry no fingerprint and need no cookie', async () => {
    const plain = makeDeps(store);
    const user = await makeUser(store);
    const r = await loginHandler(async () => plain)(event({ json: { email: user.email, password: PASSWORD } }));
    const cookies = cookieValues(r);
    expect(cookies[FP]).toBeUndefined();
    expect(decodeJwt(cookies.nf_jwt!).fph).toBeUndefined();
    expect((await requireRole(event({ method: 'GET', cookies: { nf_jwt: cookies.nf_jwt! } }), { config: plain.config })).ok).toBe(true);
  });
});
