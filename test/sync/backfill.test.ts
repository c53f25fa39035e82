/**
 * `rolegate sync backfill` end to end: the CLI in-process, a stand-in of
 * Identity's admin users API (test/support/gotrue-admin-standin.ts) and a
 * real PostgreSQL. 10,000 users are copied here for correctness only; how
 * long it takes is measured by `npm run bench`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncCommand } from '../../src/cli/sync.js';
import { gotrueAdminSource } from '../../src/sync/identity-admin.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { identityUsers, startGotrueAdminStandin, type GotrueAdminStandin } from '../support/gotrue-admin-standin.js';
import { fakeIo, rolegate } from '../cli/fake-io.js';

const TOKEN = 'identity-admin-token-for-tests';
const USERS = 10_000;

let db: TestDatabase;
let sql: pg.Pool;
let identity: GotrueAdminStandin;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Pool({ connectionString: db.url, max: 2 });
  identity = await startGotrueAdminStandin({ token: TOKEN, users: identityUsers(USERS) });
});
afterAll(async () => {
  await identity.close();
  await sql.end();
  await db.drop();
});

const env = () => ({ DATABASE_URL: db.url, IDENTITY_ADMIN_TOKEN: TOKEN, IDENTITY_URL: identity.url });
const mirrored = async () => (await sql.query('select count(*)::int as n from rolegate.identity_users')).rows[0].n as number;

describe('rolegate sync backfill', () => {
  it('stops part-way when the admin API fails, keeps its cursor, and resumes where it stopped', async () => {
    identity.failPage = 31;
    const first = await rolegate(['sync', 'backfill', '--per-page', '100'], { env: env() });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/rolegate: stopped at page 31: the Identity admin API answered 503 for page 31.*run the same command again to resume/s);
    expect(first.stdout).toMatch(/3000 Identity users read in 30 pages/);
    expect(await mirrored()).toBe(3000);
    const cursor = (await sql.query(`select cursor from rolegate.sync_cursors`)).rows;
    expect(cursor).toEqual([{ cursor: { page: 31, perPage: 100 } }]);

    identity.failPage = null;
    identity.requests.length = 0;
    const second = await rolegate(['sync', 'backfill', '--per-page', '100'], { env: env() });
    expect(second.code).toBe(0);
    // One page of overlap, in case deletions shifted the pages.
    expect(identity.requests[0]).toEqual({ page: 30, perPage: 100 });
    expect(second.stdout).toMatch(/\(resumed at page 30\)/);
    expect(second.stdout).toMatch(/store: created 7000, updated 0, unchanged 100\n/);
    expect(second.stdout).toMatch(/failed 0/);
    expect(await mirrored()).toBe(USERS);
    expect((await sql.query(`select count(*)::int as n from rolegate.sync_cursors`)).rows[0].n).toBe(0);
    const admins = (await sql.query(`select count(*)::int as n from rolegate.identity_users where roles = '{admin}'`)).rows[0].n;
    expect(admins).toBe(USERS / 10);
  });

  it('is safe to run again: everything unchanged, newer Identity data taken', async () => {
    const changed = identity.users[42]!;
    changed.app_metadata = { provider: 'email', roles: ['editor'] };
    changed.updated_at = new Date().toISOString();
    const again = await rolegate(['sync', 'backfill', '--per-page', '500'], { env: env() });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/10000 Identity users read in 20 pages/);
    expect(again.stdout).toMatch(/store: created 0, updated 1, unchanged 9999\n/);
    const row = (await sql.query('select roles from rolegate.identity_users where id = $1', [changed.id])).rows[0];
    expect(row.roles).toEqual(['editor']);
  });

  it('upserts one by one with --batch-size 1 and gets the same result as a batch', async () => {
    // A smaller instance: one-by-one is the slow baseline the benchmark times.
    const small = await startGotrueAdminStandin({ token: TOKEN, users: identityUsers(300).map((u) => ({ ...u, email: `one-${u.email}` })) });
    try {
      const smallEnv = { ...env(), IDENTITY_URL: small.url };
      const one = await rolegate(['sync', 'backfill', '--per-page', '100', '--batch-size', '1'], { env: smallEnv });
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(/store: created 300, updated 0, unchanged 0\n/);
      const batched = await rolegate(['sync', 'backfill', '--per-page', '100'], { env: smallEnv });
      expect(batched.stdout).toMatch(/store: created 0, updated 0, unchanged 300\n/);
    } finally {
      await small.close();
    }
  });

  it('counts unreadable users as failed, by id, and copies the rest (exit code 2)', async () => {
    const broken = { id: randomUUID(), email: 'broken@example.com', created_at: '2030-01-01T00:00:00Z', updated_at: 'never' };
    identity.users.push(broken);
    try {
      const r = await rolegate(['sync', 'backfill', '--per-page', '1000'], { env: env() });
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(new RegExp(`failed 1\\n    ${broken.id}: user.updated_at must be an RFC 3339 timestamp`));
      expect(r.stdout).not.toMatch(/broken@example\.com/);
    } finally {
      identity.users.pop();
    }
  });

  it('draws a progress bar on a terminal and nothing but the summary otherwise', async () => {
    const { io, out } = fakeIo({ env: env() });
    io.stderr.isTTY = true;
    expect(await syncCommand(['backfill', '--per-page', '1000'], io)).toBe(0);
    expect(out.stderr).toContain('\r[#####################.........] 7,000/10,000 users');
    expect(out.stderr).toContain('\r[##############################] 10,000/10,000 users\n');
    const plain = await rolegate(['sync', 'backfill', '--per-page', '1000'], { env: env() });
    expect(plain.stderr).toBe('');
  });

  it('explains every mistake in one line and changes nothing', async () => {
    const before = await mirrored();
    const cases: [string[], Record<string, string | undefined>, RegExp][] = [
      [['sync', 'backfill'], { ...env(), IDENTITY_URL: undefined }, /give --identity-url/],
      [['sync', 'backfill', '--identity-url', 'ftp://x'], env(), /--identity-url must be an http\(s\) URL/],
      [['sync', 'backfill'], { ...env(), IDENTITY_ADMIN_TOKEN: undefined }, /set IDENTITY_ADMIN_TOKEN/],
      [['sync', 'backfill'], { ...env(), IDENTITY_ADMIN_TOKEN: 'wrong' }, /refused the token \(401\)/],
      [['sync', 'backfill', '--per-page', '0'], env(), /--per-page must be a whole number from 1 to 1000/],
      [['sync', 'backfill', '--per-page', 'ten'], env(), /--per-page must be a whole number/],
      [['sync', 'backfill', '--token', 'x'], env(), /unknown option --token/],
      [['sync', 'nope'], env(), /unknown sync command "nope"/],
      [['sync', 'backfill', '--identity-url', 'http://127.0.0.1:1'], env(), /unreachable/],
    ];
    for (const [argv, e, message] of cases) {
      const r = await rolegate(argv, { env: e });
      expect(r.code, argv.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).not.toContain('wrong');
    }
    expect(await mirrored()).toBe(before);
  });

  it('checks the identity section of the config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rolegate-sync-'));
    writeFileSync(join(dir, 'rolegate.config.json'), JSON.stringify({ gates: [], identity: { sinks: ['contentful'] } }));
    const r = await rolegate(['sync', 'backfill'], { env: env(), cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CONTENTFUL_SPACE_ID is required when "contentful" is among identity.sinks/);
    writeFileSync(join(dir, 'rolegate.config.json'), JSON.stringify({ gates: [], identity: { sinks: ['dropbox'] } }));
    expect((await rolegate(['sync', 'backfill'], { env: env(), cwd: dir })).stderr).toMatch(/identity\.sinks\.0 /);
  });

  it('reads pages the way the admin API documents them', async () => {
    const source = gotrueAdminSource({ url: `${identity.url}/`, token: TOKEN });
    const page = await source.fetchPage(2, 3);
    expect(page.total).toBe(USERS);
    expect(page.users.map((u) => (u as { email: string }).email)).toEqual(['member-3@example.com', 'member-4@example.com', 'member-5@example.com']);
  });
});
