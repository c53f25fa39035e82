import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { rolegate } from './fake-io.js';

// DATABASE_URL: the same commands against a real PostgreSQL server.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await db?.drop();
});

const run = (argv: string[], stdin?: string) => rolegate(argv, { env: { DATABASE_URL: db.url, BCRYPT_COST: '10' }, stdin });

describe('rolegate with DATABASE_URL (real PostgreSQL)', () => {
  it('db migrate applies the migrations once, then reports the database up to date', async () => {
    const first = await run(['db', 'migrate']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    // One line per applied migration version (the timestamp of its file in supabase/migrations).
    expect(first.stdout).toMatch(/^applied \d+ migrations? \(DATABASE_URL\):\n( {2}\d{14}\n)+$/);
    expect(await run(['db', 'migrate'])).toMatchObject({ code: 0, stdout: 'the database (DATABASE_URL) is up to date\n' });
  });

  it('users add then users list', async () => {
    expect(await run(['users', 'add', '--email', 'Pg@Example.com', '--roles', 'admin', '--password-stdin'], 'correct horse battery\n'))
      .toMatchObject({ code: 0, stderr: '', stdout: 'created pg@example.com (roles: admin)\n' });
    expect(await run(['users', 'add', '--email', 'pg@example.com', '--password-stdin'], 'correct horse battery\n'))
      .toMatchObject({ code: 1, stderr: 'rolegate: a user with email pg@example.com already exists\n' });
    const table = await run(['users', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^EMAIL\s+ROLES\s+DISABLED\s+CREATED\npg@example\.com\s+admin\s+no\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    const json = JSON.parse((await run(['users', 'list', '--json'])).stdout);
    expect(json).toEqual([expect.objectContaining({ email: 'pg@example.com', roles: ['admin'], disabled: false })]);
  });

  it('imports GoTrue rows in one transaction: a bad line leaves the table unchanged', async () => {
    const bad = '{"email":"one@example.com"}\n{"email":"two@example.com","roles":["a,b"]}\n';
    expect(await run(['users', 'import', '-'], bad)).toMatchObject({ code: 1, stderr: 'rolegate: line 2: roles: role "a,b": role names may not contain commas (Role= separates roles with commas)\n' });
    expect(JSON.parse((await run(['users', 'list', '--json'])).stdout)).toHaveLength(1);
    const good = '{"email":"one@example.com","encrypted_password":"","raw_app_meta_data":{"roles":["member"]}}\n';
    expect((await run(['users', 'import', '-'], good)).stdout).toBe('imported 1 user: 1 created, 0 skipped (email or id already present)\n');
  });
});
