import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { rolegate } from './fake-io.js';

// DATABASE_URL naming PgBouncer in transaction mode, as Supabase's port 6543 or a Neon pooled host would.
let bouncer: PgBouncer;
let db: TestDatabase;
beforeAll(async () => {
  bouncer = await startPgBouncer({ serverUrl: inject('postgresAdminUrl'), poolSize: 2 });
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await bouncer?.stop();
  await db?.drop();
});

const run = (argv: string[], url: string, stdin?: string) => rolegate(argv, { env: { DATABASE_URL: url, BCRYPT_COST: '10' }, stdin });

describe('rolegate with DATABASE_URL through PgBouncer (transaction mode)', () => {
  it('db migrate, users add and users list work unchanged', async () => {
    const url = bouncer.url(db.url);
    expect((await run(['db', 'migrate'], url)).code).toBe(0);
    expect(await run(['users', 'add', '--email', 'pooled@example.com', '--roles', 'admin', '--password-stdin'], url, 'correct horse battery\n'))
      .toMatchObject({ code: 0, stderr: '', stdout: 'created pooled@example.com (roles: admin)\n' });
    expect(JSON.parse((await run(['users', 'list', '--json'], url)).stdout)).toEqual([expect.objectContaining({ email: 'pooled@example.com', roles: ['admin'] })]);
  });

  it('names the connection setting the pooler refused instead of calling the database unreachable', async () => {
    const url = new URL(bouncer.url(db.url));
    url.searchParams.set('options', '-c search_path=public');
    const result = await run(['users', 'list'], url.toString());
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('rolegate: the database (or its pooler) refused the connection setting "options": remove it from the connection URL (transaction poolers such as PgBouncer accept none but a few)\n');
  });
});
