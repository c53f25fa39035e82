/**
 * `rolegate users import --identity-mirror`, then the first logins of those users with
 * IDENTITY_URL: each sets their password here by signing in with their Identity password,
 * keeping their Identity id and the imported roles; a wrong password or another Identity
 * account of the same address changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Handler, HandlerResponse } from '@netlify/functions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginHandler } from '../../src/auth/handlers.js';
import type { IdentityUser } from '../../src/core/identity-user.js';
import { isBcryptHash } from '../../src/core/password.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { gotruePasswordCheck } from '../../src/sync/gotrue-password.js';
import { body, event, makeDeps } from '../auth/support.js';
import { startGotrueTokenStandin, type GotrueTokenStandin } from '../support/gotrue-token-standin.js';
import { rolegate } from './fake-io.js';

const IDENTITY_PASSWORD = 'the password kept at Identity';

function mirrored(email: string, roles: string[], id = randomUUID()): IdentityUser {
  return {
    id, email, roles, appMetadata: { provider: 'email', roles }, userMetadata: { full_name: email.split('@')[0] },
    createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z', confirmedAt: '2026-01-01T00:00:00.000Z',
    lastLoginAt: null, instanceId: 'instance-1', observedAt: '2026-01-02T00:00:00.000Z',
  };
}

describe('importing the Identity mirror, then moving each user at their first login', () => {
  let site: string;
  let env: Record<string, string>;
  let identity: GotrueTokenStandin;
  const editor = mirrored('editor@example.com', ['editor', 'Site Admin']);
  const other = mirrored('other@example.com', ['member']);

  beforeAll(async () => {
    site = await mkdtemp(join(tmpdir(), 'rolegate-identity-mirror-'));
    env = { ROLEGATE_DATA_DIR: join(site, 'data'), BCRYPT_COST: '10' };
    const store = await openEmbeddedStore({ dataDir: env.ROLEGATE_DATA_DIR! });
    await store.upsertIdentityUsers([editor, other]);
    await store.close();
    // Identity itself: the editor as mirrored; "other" is another Identity account of the same address.
    identity = await startGotrueTokenStandin([
      { id: editor.id, email: 'editor@example.com', password: IDENTITY_PASSWORD, roles: ['editor'] },
      { email: 'other@example.com', password: IDENTITY_PASSWORD, roles: ['admin'] },
    ]);
  }, 60_000);

  afterAll(async () => {
    await identity?.close();
    await rm(site, { recursive: true, force: true });
  });

  it('imports everyone the sync copied, without a password and with the roles a gate can require; a second run skips them', async () => {
    const first = await rolegate(['users', 'import', '--identity-mirror'], { env, cwd: site });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('imported 2 Identity users: 2 created, 0 skipped');
    expect(first.stderr).toContain('1 role left out');
    const again = await rolegate(['users', 'import', '--identity-mirror'], { env, cwd: site });
    expect(again.stdout).toContain('0 created, 2 skipped');
    const store = await openEmbeddedStore({ dataDir: env.ROLEGATE_DATA_DIR! });
    try {
      const user = await store.findUserForLogin('editor@example.com');
      expect(user).toMatchObject({ id: editor.id, roles: ['editor'], passwordHash: null, appMetadata: { moved_from_identity: editor.id } });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('sets the password at the first login with the Identity password, only for the Identity account that was imported', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const store = await openEmbeddedStore({ dataDir: env.ROLEGATE_DATA_DIR! });
    try {
      // A budget a loaded machine's round trip to the stand-in fits in (Identity gets half of it); its timing is the business of test/auth tests, not this one.
      const login: Handler = loginHandler(async () => ({ ...makeDeps(store, { IDENTITY_LOGIN_BUDGET_MS: '3000' }), identityPasswords: gotruePasswordCheck(identity.url) }));
      const signIn = async (email: string, password: string) =>
        (await login(event({ json: { email, password }, headers: { 'x-nf-client-connection-ip': '203.0.113.90' } }), {} as never)) as HandlerResponse;

      expect((await signIn('editor@example.com', 'not the password')).statusCode).toBe(401);
      expect((await store.findUserForLogin('editor@example.com'))!.passwordHash).toBeNull();

      const moved = await signIn('editor@example.com', IDENTITY_PASSWORD);
      expect(moved.statusCode, moved.body).toBe(200);
      expect(body(moved).user).toMatchObject({ id: editor.id, email: 'editor@example.com', roles: ['editor'] });
      expect(isBcryptHash((await store.findUserForLogin('editor@example.com'))!.passwordHash!)).toBe(true);
      identity.mode = 'error';
      expect((await signIn('editor@example.com', IDENTITY_PASSWORD)).statusCode).toBe(200);
      identity.mode = 'up';

      // Identity's account for other@example.com is not the one the mirror held.
      const refused = await signIn('other@example.com', IDENTITY_PASSWORD);
      expect(refused.statusCode).toBe(401);
      expect(body(refused).error.code).toBe('invalid_credentials');
      expect((await store.findUserForLogin('other@example.com'))!.passwordHash).toBeNull();
    } finally {
      vi.restoreAllMocks();
      await store.close();
    }
  }, 60_000);
});
