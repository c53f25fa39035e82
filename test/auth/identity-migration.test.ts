/**
 * Leaving Netlify Identity without a password reset (IDENTITY_URL): the first login of an
 * Identity user moves them here with their password and roles, and every way of failing
 * (wrong password, unknown address, unconfirmed, Identity down, hung or broken) answers like a
 * wrong password, after the same time budget, creating nothing. Against a stand-in that
 * follows gotrue's token and user endpoints (test/support/gotrue-token-standin.ts).
 */
import type { Handler, HandlerResponse } from '@netlify/functions';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginHandler } from '../../src/auth/handlers.js';
import { ConfigError, readConfig } from '../../src/core/environment.js';
import { isBcryptHash } from '../../src/core/password.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { gotruePasswordCheck } from '../../src/sync/gotrue-password.js';
import { startGotrueTokenStandin, type GotrueTokenStandin } from '../support/gotrue-token-standin.js';
import { PASSWORD, SECRET, SITE, body, event, makeDeps, makeUser } from './support.js';

const BUDGET_MS = 400;
const IDENTITY_PASSWORD = 'the password kept at Identity';

describe('moving users off Netlify Identity at their first login', () => {
  let store: Store;
  let identity: GotrueTokenStandin;
  let login: Handler;

  beforeAll(async () => {
    store = await openEmbeddedStore({ dataDir: 'memory://' });
    identity = await startGotrueTokenStandin([
      { email: 'Editor@Example.com', password: IDENTITY_PASSWORD, roles: ['editor', 'admin', 'not a gate role'] },
      { email: 'pending@example.com', password: IDENTITY_PASSWORD, confirmed: false },
      { email: 'twice@example.com', password: IDENTITY_PASSWORD, roles: ['member'] },
      { email: 'local@example.com', password: 'another password at Identity' },
      { email: 'alias@example.com', password: IDENTITY_PASSWORD, userEmail: 'victim@example.com', roles: ['admin'] },
    ]);
    const deps = { ...makeDeps(store, { IDENTITY_URL: identity.url, IDENTITY_LOGIN_BUDGET_MS: String(BUDGET_MS) }), identityPasswords: gotruePasswordCheck(identity.url) };
    login = loginHandler(async () => deps);
  });

  afterAll(async () => {
    await identity.close();
    await store.close();
  });

  afterEach(() => {
    identity.mode = 'up';
    identity.requests.length = 0;
    vi.restoreAllMocks();
  });

  const signIn = async (email: string, password: string, ip = '203.0.113.50') => {
    const started = performance.now();
    const response = (await login(event({ json: { email, password }, headers: { 'x-nf-client-connection-ip': ip } }), {} as never)) as HandlerResponse;
    return { response, elapsedMs: performance.now() - started };
  };

  it('creates the user here with a bcrypt hash of that password and the roles a gate can require; the next login is local', async () => {
    const first = await signIn('editor@example.com', IDENTITY_PASSWORD);
    expect(first.response.statusCode, first.response.body).toBe(200);
    expect(body(first.response).user).toMatchObject({ email: 'editor@example.com', roles: ['editor', 'admin'] });
    expect((await store.findUserByEmail('editor@example.com'))!.appMetadata).toEqual({ moved_from_identity: expect.any(String) });
    expect(identity.requests).toEqual(['POST /token', 'GET /user']);
    const local = await store.findUserForLogin('editor@example.com');
    expect(isBcryptHash(local!.passwordHash!)).toBe(true);
    expect(local!.passwordHash).not.toContain(IDENTITY_PASSWORD);

    identity.requests.length = 0;
    identity.mode = 'error';
    const second = await signIn('editor@example.com', IDENTITY_PASSWORD);
    expect(second.response.statusCode).toBe(200);
    expect(identity.requests).toEqual([]);
  });

  it('answers a wrong password, an unknown address, an unconfirmed one and a broken, hung or down Identity exactly like a wrong password, after the budget, creating nothing', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const answers: { case: string; status: number; body: unknown; elapsedMs: number }[] = [];
    const attempt = async (name: string, email: string, password: string, ip: string) => {
      const { response, elapsedMs } = await signIn(email, password, ip);
      answers.push({ case: name, status: response.statusCode, body: body(response), elapsedMs });
    };
    await attempt('wrong password at Identity', 'twice@example.com', 'not it', '203.0.113.61');
    await attempt('unknown everywhere', 'nobody@example.com', IDENTITY_PASSWORD, '203.0.113.62');
    await attempt('unconfirmed at Identity', 'pending@example.com', IDENTITY_PASSWORD, '203.0.113.63');
    identity.mode = 'error';
    await attempt('Identity answers 500', 'twice@example.com', IDENTITY_PASSWORD, '203.0.113.64');
    identity.mode = 'hang';
    await attempt('Identity hangs', 'twice@example.com', IDENTITY_PASSWORD, '203.0.113.65');
    identity.mode = 'up';
    // Nothing listening at IDENTITY_URL at all.
    const down: Handler = loginHandler(async () => ({ ...makeDeps(store, { IDENTITY_LOGIN_BUDGET_MS: String(BUDGET_MS) }), identityPasswords: gotruePasswordCheck('http://127.0.0.1:1') }));
    const started = performance.now();
    const refused = (await down(event({ json: { email: 'twice@example.com', password: IDENTITY_PASSWORD }, headers: { 'x-nf-client-connection-ip': '203.0.113.67' } }), {} as never)) as HandlerResponse;
    answers.push({ case: 'Identity down', status: refused.statusCode, body: body(refused), elapsedMs: performance.now() - started });
    const reference = answers[0]!;
    expect(reference).toMatchObject({ status: 401, body: { error: { code: 'invalid_credentials' } } });
    for (const answer of answers) {
      expect({ case: answer.case, status: answer.status, body: answer.body }).toEqual({ case: answer.case, status: reference.status, body: reference.body });
      expect(answer.elapsedMs, answer.case).toBeGreaterThanOrEqual(BUDGET_MS - 5);
    }
    for (const email of ['twice@example.com', 'nobody@example.com', 'pending@example.com']) expect(await store.findUserByEmail(email), email).toBeNull();

    // Identity back: the same person moves over.
    identity.mode = 'up';
    expect((await signIn('twice@example.com', IDENTITY_PASSWORD, '203.0.113.66')).response.statusCode).toBe(200);
  });

  it('never asks Identity about a local user, and pads a local wrong password to the same budget', async () => {
    const user = await makeUser(store, ['member'], 'local@example.com');
    const wrong = await signIn(user.email, 'another password at Identity', '203.0.113.70');
    expect(wrong.response.statusCode).toBe(401);
    expect(body(wrong.response).error.code).toBe('invalid_credentials');
    expect(wrong.elapsedMs).toBeGreaterThanOrEqual(BUDGET_MS - 5);
    expect((await signIn(user.email, PASSWORD, '203.0.113.71')).response.statusCode).toBe(200);
    expect(identity.requests).toEqual([]);
  });

  it('creates nothing when Identity\'s user is another address than the one signed in with', async () => {
    const victim = await makeUser(store, ['member'], 'victim@example.com');
    const { response } = await signIn('alias@example.com', IDENTITY_PASSWORD, '203.0.113.80');
    expect(response.statusCode).toBe(401);
    expect(body(response).error.code).toBe('invalid_credentials');
    expect(await store.findUserByEmail('alias@example.com')).toBeNull();
    expect((await store.findUserByEmail('victim@example.com'))!.roles).toEqual(victim.roles);
  });

  it('is off without IDENTITY_URL, which must be an http(s) URL', () => {
    expect(readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x' }).auth.identityUrl).toBeUndefined();
    expect(readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x', IDENTITY_URL: 'https://site.example/.netlify/identity/' }).auth.identityUrl).toBe('https://site.example/.netlify/identity');
    expect(() => readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x', IDENTITY_URL: 'site.example' })).toThrow(ConfigError);
    expect(() => readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x', IDENTITY_LOGIN_BUDGET_MS: '5' })).toThrow(/IDENTITY_LOGIN_BUDGET_MS must be at least 100/);
  });
});
