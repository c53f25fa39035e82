/**
 * Leaving Netlify Identity without a password reset (IDENTITY_URL): the first login of an
 * Identity user moves them here with their password and roles, and every way of failing
 * (wrong password, unknown address, unconfirmed, Identity down, hung or broken) answers like a
 * wrong password, after the same time budget, creating nothing; Identity gets only the first
 * half of that budget, so a hung one is no slower than the rest. A user imported from the
 * mirror gets a password only while they have none. Against a stand-in that follows gotrue's
 * token and user endpoints (test/support/gotrue-token-standin.ts).
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Handler, HandlerResponse } from '@netlify/functions';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginHandler } from '../../src/auth/handlers.js';
import { ConfigError, readConfig } from '../../src/core/environment.js';
import { hashPassword, isBcryptHash } from '../../src/core/password.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { gotruePasswordCheck } from '../../src/sync/gotrue-password.js';
import { startGotrueTokenStandin, type GotrueTokenStandin } from '../support/gotrue-token-standin.js';
import { PASSWORD, SECRET, SITE, body, event, makeDeps, makeUser } from './support.js';

// Long enough that Identity's half (a stand-in doing bcrypt work) fits on a loaded 2-core machine.
const BUDGET_MS = 1200;
// Every failure ends at the budget; what a slow machine adds on top stays well under this.
const MAX_OVER_BUDGET = 1.8;
const IDENTITY_PASSWORD = 'the password kept at Identity';
const RACED_ID = '6f1c2a4e-8d3b-4e5f-9a7c-1b2d3e4f5a60';
const RESET_ID = '7a2d3b5f-9e4c-4f60-8b8d-2c3e4f5a6b71';

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
      { id: RACED_ID, email: 'raced@example.com', password: IDENTITY_PASSWORD, roles: ['member'] },
      { id: RESET_ID, email: 'reset@example.com', password: IDENTITY_PASSWORD, roles: ['member'] },
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
      expect(answer.elapsedMs, answer.case).toBeLessThan(BUDGET_MS * MAX_OVER_BUDGET);
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
    expect(wrong.elapsedMs).toBeLessThan(BUDGET_MS * MAX_OVER_BUDGET);
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

  it('gives a hung Identity only the first half of the budget, so its failure ends at the budget like a local wrong password', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const budgetMs = 1000;
    let identityAbortedMs: number | undefined;
    // Real fetch to the stand-in; notes when rolegate gives up on it.
    const watchedFetch: typeof fetch = (input, init) => {
      init?.signal?.addEventListener('abort', () => (identityAbortedMs ??= performance.now()), { once: true });
      return fetch(input, init);
    };
    const deps = { ...makeDeps(store, { IDENTITY_URL: identity.url, IDENTITY_LOGIN_BUDGET_MS: String(budgetMs) }), identityPasswords: gotruePasswordCheck(identity.url, watchedFetch) };
    const tight: Handler = loginHandler(async () => deps);
    const send = async (email: string, password: string, ip: string) => {
      const started = performance.now();
      const response = (await tight(event({ json: { email, password }, headers: { 'x-nf-client-connection-ip': ip } }), {} as never)) as HandlerResponse;
      return { started, response, elapsedMs: performance.now() - started };
    };
    const local = await makeUser(store, ['member'], 'local-tight@example.com');

    identity.mode = 'hang';
    const hung = await send('hung-then@example.com', IDENTITY_PASSWORD, '203.0.113.90');
    expect(identity.requests).toEqual(['POST /token']);
    expect(identityAbortedMs! - hung.started).toBeGreaterThanOrEqual(budgetMs / 2 - 5);
    expect(identityAbortedMs! - hung.started).toBeLessThan(budgetMs * 0.75);
    const wrong = await send(local.email, 'not it', '203.0.113.91');

    for (const [name, answer] of [['Identity hangs', hung], ['local wrong password', wrong]] as const) {
      expect(answer.response.statusCode, name).toBe(401);
      expect(body(answer.response).error.code, name).toBe('invalid_credentials');
      expect(answer.elapsedMs, name).toBeGreaterThanOrEqual(budgetMs - 5);
      expect(answer.elapsedMs, name).toBeLessThan(budgetMs * MAX_OVER_BUDGET);
    }
    expect(await store.findUserByEmail('hung-then@example.com')).toBeNull();
  });

  describe('a user imported from the mirror, who has no password here yet', () => {
    const db = () => (store as unknown as { db: { db: PGlite } }).db.db;
    const importFromMirror = async (id: string, email: string) => {
      const imported = await store.importUsers([{ id, email, passwordHash: null, roles: ['member'], appMetadata: { moved_from_identity: id } }]);
      expect(imported.created).toBe(1);
    };
    const auditCount = async (event: string, userId: string) =>
      (await db().query<{ n: number }>('select count(*)::int as n from rolegate.audit_log where event = $1 and user_id = $2', [event, userId])).rows[0]!.n;
    /** A login handler whose Identity answers `/user` only once `beforeUser` has run. */
    const loginWith = (beforeUser: () => Promise<void>): Handler => {
      const slowedFetch: typeof fetch = async (input, init) => {
        if (String(input).endsWith('/user')) await beforeUser();
        return fetch(input, init);
      };
      const deps = { ...makeDeps(store, { IDENTITY_URL: identity.url, IDENTITY_LOGIN_BUDGET_MS: String(BUDGET_MS) }), identityPasswords: gotruePasswordCheck(identity.url, slowedFetch) };
      return loginHandler(async () => deps);
    };
    const send = async (handler: Handler, email: string, password: string, ip: string) =>
      (await handler(event({ json: { email, password }, headers: { 'x-nf-client-connection-ip': ip } }), {} as never)) as HandlerResponse;

    it('keeps a password set while their first login was at Identity: the Identity password does not overwrite it', async () => {
      await importFromMirror(RESET_ID, 'reset@example.com');
      const adminPassword = 'the password an admin set meanwhile';
      const adminHash = await hashPassword(adminPassword, 10);
      const handler = loginWith(async () => {
        await db().query('update rolegate.users set password_hash = $1 where id = $2', [adminHash, RESET_ID]);
      });

      const first = await send(handler, 'reset@example.com', IDENTITY_PASSWORD, '203.0.113.95');
      expect(first.statusCode).toBe(401);
      expect(body(first).error.code).toBe('invalid_credentials');
      expect((await store.findUserForLogin('reset@example.com'))!.passwordHash).toBe(adminHash);
      expect(await auditCount('user_moved_from_identity', RESET_ID)).toBe(0);
      expect((await signIn('reset@example.com', adminPassword, '203.0.113.96')).response.statusCode).toBe(200);
    });

    it('sets the password once when two first logins reach Identity at the same time; both sign in', async () => {
      await importFromMirror(RACED_ID, 'raced@example.com');
      // Both logins are let through to /user together, so both hash and write.
      let arrived = 0;
      let releaseAll!: () => void;
      const bothThere = new Promise<void>((resolve) => (releaseAll = resolve));
      const handler = loginWith(async () => {
        arrived += 1;
        if (arrived === 2) releaseAll();
        await bothThere;
      });

      const answers = await Promise.all([
        send(handler, 'raced@example.com', IDENTITY_PASSWORD, '203.0.113.97'),
        send(handler, 'raced@example.com', IDENTITY_PASSWORD, '203.0.113.98'),
      ]);
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
      expect(isBcryptHash((await store.findUserForLogin('raced@example.com'))!.passwordHash!)).toBe(true);
      expect(await auditCount('password_changed', RACED_ID)).toBe(1);
      expect(await auditCount('user_moved_from_identity', RACED_ID)).toBe(1);
    });
  });

  it('is off without IDENTITY_URL, which must be an https URL', () => {
    expect(readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x' }).auth.identityUrl).toBeUndefined();
    expect(readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x', IDENTITY_URL: 'https://site.example/.netlify/identity/' }).auth.identityUrl).toBe('https://site.example/.netlify/identity');
    expect(() => readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x', IDENTITY_URL: 'site.example' })).toThrow(ConfigError);
    expect(() => readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x', IDENTITY_URL: 'http://site.example/.netlify/identity' })).toThrow(/IDENTITY_URL must be an absolute https URL/);
    expect(() => readConfig({ JWT_SECRET: SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'x', IDENTITY_LOGIN_BUDGET_MS: '5' })).toThrow(/IDENTITY_LOGIN_BUDGET_MS must be at least 100/);
  });
});
