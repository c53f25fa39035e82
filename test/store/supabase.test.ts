/**
 * The supabase adapter end to end: postgrest-js → the PostgREST stand-in
 * (test/support/postgrest-standin.ts) → the real PostgreSQL, connecting as
 * `authenticator` and switching to the role in the key, as Supabase does.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSupabaseStore } from '../../src/store/supabase.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { asLogin, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startPostgrestStandin, statusForSqlState, type PostgrestStandin } from '../support/postgrest-standin.js';
import { describeStoreContract, uniqueEmail } from './contract.js';

const JWT_SECRET = 'postgrest-standin-jwt-secret-for-tests-only';

describeStoreContract('supabase (postgrest-js → PostgREST stand-in → PostgreSQL)', async () => {
  const db = await createTestDatabase();
  const standin = await startPostgrestStandin({ databaseUrl: asLogin(db.url, 'authenticator'), jwtSecret: JWT_SECRET });
  const store = openSupabaseStore({ url: standin.url, serviceRoleKey: standin.serviceRoleKey });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  return {
    store,
    query: async (text, values) => (await pool.query(text, values)).rows,
    close: async () => {
      await store.close();
      await standin.close();
      await pool.end();
      await db.drop();
    },
  };
});

describe('supabase store over the PostgREST stand-in', () => {
  let db: TestDatabase;
  let standin: PostgrestStandin;

  beforeAll(async () => {
    db = await createTestDatabase();
    standin = await startPostgrestStandin({ databaseUrl: asLogin(db.url, 'authenticator'), jwtSecret: JWT_SECRET });
  });
  afterAll(async () => {
    await standin.close();
    await db.drop();
  });

  it('refuses every verb to the browser\'s anon key and writes nothing', async () => {
    const anon = openSupabaseStore({ url: standin.url, serviceRoleKey: standin.anonKey });
    const email = uniqueEmail('anon');
    await expect(anon.createUser({ email, passwordHash: null })).rejects.toMatchObject({ code: '42501', status: 401 });
    await expect(anon.findUserForLogin(email)).rejects.toMatchObject({ code: '42501' });
    await expect(anon.listUsers()).rejects.toMatchObject({ code: '42501' });
    const service = openSupabaseStore({ url: standin.url, serviceRoleKey: standin.serviceRoleKey });
    expect(await service.findUserByEmail(email)).toBeNull();
  });

  it('refuses a key signed with another secret', async () => {
    const { SignJWT } = await import('jose');
    const forged = await new SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode('not-the-project-secret-at-all-0123456789'));
    const store = openSupabaseStore({ url: standin.url, serviceRoleKey: forged });
    // Supabase's gateway checks the apikey header first and names the problem.
    await expect(store.listUsers()).rejects.toMatchObject({ code: 'invalid_api_key', status: 401 });
  });

  it('reports an unreachable API as StoreUnavailableError within the timeout', async () => {
    const gone = await startPostgrestStandin({ databaseUrl: asLogin(db.url, 'authenticator'), jwtSecret: JWT_SECRET });
    const url = gone.url;
    await gone.close();
    const store = openSupabaseStore({ url, serviceRoleKey: standin.serviceRoleKey, timeoutMs: 500 });
    await expect(store.findUserByEmail('a@example.com')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  describe('the PostgREST stand-in follows the documented contract', () => {
    const rpc = (fn: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${standin.url}/rest/v1/rpc/${fn}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json', 'content-profile': 'rolegate',
          apikey: standin.serviceRoleKey, authorization: `Bearer ${standin.serviceRoleKey}`, ...headers,
        },
        body: JSON.stringify(body),
      });
  
    it('calls a function with named arguments, jsonb and text[] included, and returns its JSON', async () => {
      const r = await rpc('create_user', { p_email: 'rpc@example.com', p_password_hash: null, p_roles: ['a', 'b"c'], p_user_metadata: { n: 1 } });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ status: 'created', user: { email: 'rpc@example.com', roles: ['a', 'b"c'], user_metadata: { n: 1 } } });
    });
  
    it('answers 404 PGRST202 for an unknown function or unknown argument names', async () => {
      for (const [fn, body] of [['no_such_function', {}], ['find_user', { p_nope: 1 }]] as const) {
        const r = await rpc(fn, body);
        expect(r.status).toBe(404);
        expect(await r.json()).toMatchObject({ code: 'PGRST202', message: expect.stringContaining('Could not find the function') });
      }
    });
  
    it('answers 406 PGRST106 for a schema that is not exposed, and 401 PGRST301 for a bad key', async () => {
      expect((await rpc('list_users', {}, { 'content-profile': 'pg_catalog' })).status).toBe(406);
      const bad = await rpc('list_users', {}, { authorization: 'Bearer not.a.jwt' });
      expect(bad.status).toBe(401);
      expect((await bad.json()).code).toBe('PGRST301');
    });
  
    it('maps SQL errors to their documented statuses', async () => {
      const anon = await rpc('list_users', {}, { authorization: `Bearer ${standin.anonKey}` });
      expect(anon.status).toBe(401);
      expect((await anon.json()).code).toBe('42501');
      const badHash = await rpc('create_user', { p_email: 'x@example.com', p_password_hash: 'plain' });
      expect(badHash.status).toBe(400);
      expect((await badHash.json()).code).toBe('23514');
      const badUuid = await rpc('find_user', { p_user_id: 'nope' });
      expect(badUuid.status).toBe(400);
      expect((await badUuid.json()).code).toBe('22P02');
    });
  
    it('answers 204 for a void function', async () => {
      expect((await rpc('audit', { p_event: 'standin_test' })).status).toBe(204);
    });

    it('refuses requests without a valid apikey, as Supabase\'s gateway does', async () => {
      const missing = await rpc('list_users', {}, { apikey: '' });
      expect(missing.status).toBe(401);
      expect((await missing.json()).message).toBe('No API key found in request');
      const invalid = await rpc('list_users', {}, { apikey: 'not-a-key' });
      expect(invalid.status).toBe(401);
      expect((await invalid.json()).message).toBe('Invalid API key');
    });

    it('answers 401 PGRST303 for an expired token', async () => {
      const { SignJWT } = await import('jose');
      const expired = await new SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(JWT_SECRET));
      const r = await rpc('list_users', {}, { authorization: `Bearer ${expired}` });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await r.json()).code).toBe('PGRST303');
    });

    it('maps SQLSTATEs by PostgREST\'s table', () => {
      expect(statusForSqlState('23505', 'service_role')).toBe(409);
      expect(statusForSqlState('42501', 'anon')).toBe(401);
      expect(statusForSqlState('42501', 'service_role')).toBe(403);
      expect(statusForSqlState('08006', 'service_role')).toBe(503);
      expect(statusForSqlState('PT418', 'service_role')).toBe(418);
      expect(statusForSqlState('22P02', 'service_role')).toBe(400);
    });
  });
});
