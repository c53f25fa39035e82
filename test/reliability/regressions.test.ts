/**
 * Cases the fuzzer found, kept as plain tests so they stay fixed whatever
 * the fuzzer's seed or generators become.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler } from '../../src/auth/handlers.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { PASSWORD, body, event, makeDeps, makeUser, setCookies } from '../auth/support.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { diff, rolegateTables, snapshot } from './tables.js';

describe('regressions found by fuzzing', () => {
  let db: TestDatabase;
  let store: Store;
  let sql: pg.Pool;
  let login: ReturnType<typeof loginHandler>;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = openPostgresStore({ connectionString: db.url });
    sql = new pg.Pool({ connectionString: db.url, max: 1 });
    const deps = makeDeps(store);
    login = loginHandler(async () => deps);
  });
  afterAll(async () => {
    await store.close();
    await sql.end();
    await db.drop();
  });

  // fast-check seed 20261123, login, 37th case: {"email":"member@fuzz.example\u0000", ...}
  // answered 500 "internal" (PostgreSQL: invalid byte sequence for encoding "UTF8": 0x00).
  it('answers an email with a NUL character, as JSON or as a form, with 400 and writes nothing', async () => {
    const user = await makeUser(store);
    const tables = await rolegateTables(sql);
    const before = await snapshot(sql, tables);
    const answers = [
      await login(event({ json: { email: `${user.email}\u0000`, password: PASSWORD } })),
      await login(event({ json: { email: 'a\u0000b@example.com', password: 'anything at all' } })),
      await login(event({ body: `email=${encodeURIComponent(user.email)}%00&password=${encodeURIComponent(PASSWORD)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } })),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([400, 400, 303]);
    expect(body(answers[0]!)).toEqual({ error: { code: 'bad_request', message: 'Send an email and a password.' } });
    // A form post is answered as a navigation: back to the login page with the code.
    expect(answers[2]!.headers?.Location).toMatch(/^\/login\?error=bad_request&/);
    for (const a of answers) expect(setCookies(a)).toEqual([]);
    expect(diff(before, await snapshot(sql, tables))).toEqual({});
    // The account itself still works.
    expect((await login(event({ json: { email: user.email, password: PASSWORD } }))).statusCode).toBe(200);
  });
});
