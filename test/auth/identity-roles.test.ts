/**
 * ROLES_FROM_IDENTITY: a site moving off Netlify Identity keeps the roles
 * Identity gives its users. Checked from outside: sign in, refresh, and read
 * the roles Netlify's edge would read from the signed nf_jwt.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler, refreshHandler } from '../../src/auth/handlers.js';
import { identityEventHandler } from '../../src/sync/handlers.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { gotrueUser, payload, postEvent } from '../sync/fixtures.js';
import { makeSyncDeps } from '../sync/support.js';
import { PASSWORD, cookieValues, event, makeDeps, makeUser } from './support.js';

const REFRESH = '__Host-rolegate_refresh';
const rolesIn = (jwt: string | undefined) =>
  ((decodeJwt(jwt ?? '') as { app_metadata?: { authorization?: { roles?: string[] } } }).app_metadata?.authorization?.roles ?? []);

let db: TestDatabase;
let store: Store;

beforeAll(async () => {
  db = await createTestDatabase();
  store = openPostgresStore({ connectionString: db.url });
});
afterAll(async () => {
  await store.close();
  await db.drop();
});

async function mirror(email: string, roles: string[], updatedAt: string, id?: string) {
  const user = gotrueUser({ email, app_metadata: { provider: 'email', roles }, updated_at: updatedAt, ...(id ? { id } : {}) });
  const r = await identityEventHandler('login', async () => makeSyncDeps(store))(postEvent(payload('login', user)));
  expect(r.statusCode).toBe(200);
  return user.id;
}

describe('roles from the Identity mirror', () => {
  it('adds the mirrored roles to the access token at login and takes them back at refresh once Identity does', async () => {
    const user = await makeUser(store, ['member']);
    const identityId = await mirror(user.email.toUpperCase(), ['admin', 'member'], '2026-11-01T00:00:00Z');
    const deps = makeDeps(store, { ROLES_FROM_IDENTITY: 'on' });
    const signedIn = await loginHandler(async () => deps)(event({ json: { email: user.email, password: PASSWORD } }));
    expect(signedIn.statusCode).toBe(200);
    const cookies = cookieValues(signedIn);
    expect(rolesIn(cookies.nf_jwt)).toEqual(['member', 'admin']);
    expect(JSON.parse(signedIn.body!).user.roles).toEqual(['member', 'admin']);

    // Identity takes admin away; the next refresh no longer carries it.
    await mirror(user.email, ['member'], '2026-11-02T00:00:00Z', identityId);
    const refreshed = await refreshHandler(async () => deps)(event({ path: '/.netlify/functions/refresh', cookies: { [REFRESH]: cookies[REFRESH]! } }));
    expect(refreshed.statusCode).toBe(200);
    expect(rolesIn(cookieValues(refreshed).nf_jwt)).toEqual(['member']);
  });

  it('ignores the mirror unless ROLES_FROM_IDENTITY is on', async () => {
    const user = await makeUser(store, ['member']);
    await mirror(user.email, ['admin'], '2026-11-01T00:00:00Z');
    const r = await loginHandler(async () => makeDeps(store))(event({ json: { email: user.email, password: PASSWORD } }));
    expect(rolesIn(cookieValues(r).nf_jwt)).toEqual(['member']);
  });

  it('gives nothing to an address the mirror does not hold', async () => {
    const user = await makeUser(store, ['member']);
    await mirror(`other-${user.email}`, ['admin'], '2026-11-01T00:00:00Z');
    const deps = makeDeps(store, { ROLES_FROM_IDENTITY: 'on' });
    const r = await loginHandler(async () => deps)(event({ json: { email: user.email, password: PASSWORD } }));
    expect(rolesIn(cookieValues(r).nf_jwt)).toEqual(['member']);
  });
});
