import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/core/password.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { goTrueRow, jsonLines } from './gotrue-fixtures.js';
import { rolegate, type FakeIoOptions } from './fake-io.js';

// One data directory for the file: every runCli opens and closes the store
// (the first open of a PGlite directory takes seconds, later ones well under one).
let site: string;
let env: Record<string, string>;
beforeAll(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-cli-users-'));
  env = { ROLEGATE_DATA_DIR: '.rolegate/data', BCRYPT_COST: '10' };
  const migrated = await run(['db', 'migrate']);
  expect(migrated).toMatchObject({ code: 0, stderr: '' });
  expect(migrated.stdout).toBe(`the embedded database in ${join(site, '.rolegate/data')} is up to date\n`);
});
afterAll(async () => {
  await rm(site, { recursive: true, force: true });
});

const run = (argv: string[], options: FakeIoOptions = {}) => rolegate(argv, { env, cwd: site, ...options });

async function listed(): Promise<Array<{ id: string; email: string; roles: string[]; disabled: boolean }>> {
  const result = await run(['users', 'list', '--json']);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout);
}

/** Direct store access for what the CLI cannot show (hashes, sessions). */
async function withStore<T>(use: (store: Awaited<ReturnType<typeof openEmbeddedStore>>) => Promise<T>): Promise<T> {
  const store = await openEmbeddedStore({ dataDir: join(site, '.rolegate/data') });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('rolegate users add', () => {
  it('creates a user from a piped password, with the email normalised', async () => {
    const result = await run(['users', 'add', '--email', '  Ada@Example.COM ', '--roles', 'admin,editor', '--password-stdin'], { stdin: 'correct horse battery\nignored second line\n' });
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: 'created ada@example.com (roles: admin,editor)\n' });
    await withStore(async (store) => {
      const user = await store.findUserForLogin('ada@example.com');
      expect(user!.passwordHash).toMatch(/^\$2[ab]\$10\$/);
      expect(await verifyPassword('correct horse battery', user!.passwordHash!)).toBe(true);
    });
  });

  it('asks twice on a terminal without echo, and refuses two different answers', async () => {
    const differ = await run(['users', 'add', '--email', 'typo@example.com'], { typed: ['correct horse battery', 'correct horse batery'] });
    expect(differ).toMatchObject({ code: 1, stdout: '', stderr: 'rolegate: the two passwords differ\n' });
    const ok = await run(['users', 'add', '--email', 'tty@example.com'], { typed: ['correct horse battery', 'correct horse battery'] });
    expect(ok).toMatchObject({ code: 0, stdout: 'created tty@example.com (roles: (none))\n', prompts: ['Password: ', 'Repeat password: '] });
  });

  it('refuses an email that is already taken, in any letter case', async () => {
    const result = await run(['users', 'add', '--email', 'ADA@example.com', '--password-stdin'], { stdin: 'another password 1' });
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'rolegate: a user with email ada@example.com already exists\n' });
  });

  it('warns when two roles differ only by case', async () => {
    const result = await run(['users', 'add', '--email', 'case@example.com', '--roles', 'admin,Admin', '--password-stdin'], { stdin: 'correct horse battery' });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('rolegate: warning: roles "admin" and "Admin" differ only by case (Netlify compares roles case-sensitively)\n');
  });

  it('refuses bad input with one line and leaves the database as it was', async () => {
    const before = await listed();
    const cases: Array<[string[], FakeIoOptions, string]> = [
      [['users', 'add', '--email', 'new@example.com'], {}, 'rolegate: no password given: stdin is not a terminal, so pass --password-stdin and pipe the password in\n'],
      [['users', 'add', '--email', 'not-an-email', '--password-stdin'], { stdin: 'correct horse battery' }, 'rolegate: --email "not-an-email" is not an email address\n'],
      [['users', 'add', '--email', 'new@example.com', '--roles', 'a, b', '--password-stdin'], { stdin: 'correct horse battery' }, 'rolegate: --roles: role " b": role names may not contain spaces (write --roles a,b without spaces or empty names)\n'],
      [['users', 'add', '--email', 'new@example.com', '--roles', 'a,,b', '--password-stdin'], { stdin: 'correct horse battery' }, 'rolegate: --roles: role names may not be empty (write --roles a,b without spaces or empty names)\n'],
      [['users', 'add', '--email', 'new@example.com', '--password-stdin'], { stdin: 'short\n' }, 'rolegate: password must be at least 8 characters\n'],
      [['users', 'add', '--email', 'new@example.com', '--password-stdin'], { stdin: `${'x'.repeat(73)}\n` }, 'rolegate: password must be at most 72 bytes in UTF-8\n'],
      [['users', 'add', '--email', 'new@example.com', '--password-stdin'], { stdin: 'correct horse battery', env: { ...env, BCRYPT_COST: '9' } }, 'rolegate: BCRYPT_COST must be a whole number from 10 to 15\n'],
      [['users', 'add', '--password-stdin'], { stdin: 'correct horse battery' }, 'rolegate: --email is required\nrun `rolegate users help` for usage\n'],
      [['users', 'add', '--email', 'new@example.com', '--admin'], {}, 'rolegate: unknown option --admin\nrun `rolegate users help` for usage\n'],
      [['users', 'add', '--email'], {}, 'rolegate: --email needs a value\nrun `rolegate users help` for usage\n'],
      [['users', 'frobnicate'], {}, 'rolegate: unknown users command "frobnicate"\nrun `rolegate users help` for usage\n'],
      [['users', 'set-roles', '--email', 'ada@example.com'], {}, 'rolegate: --roles is required (--roles "" removes every role)\nrun `rolegate users help` for usage\n'],
      [['users', 'set-roles', '--email', 'nobody@example.com', '--roles', 'x'], {}, 'rolegate: no user with email nobody@example.com\n'],
      [['users', 'disable', '--email', 'nobody@example.com'], {}, 'rolegate: no user with email nobody@example.com\n'],
      [['users', 'revoke-sessions', '--email', 'nobody@example.com'], {}, 'rolegate: no user with email nobody@example.com\n'],
    ];
    for (const [argv, options, stderr] of cases) {
      const result = await run(argv, options);
      expect({ argv, ...result }).toMatchObject({ argv, code: 1, stdout: '', stderr });
    }
    expect(await listed()).toEqual(before);
  });
});

describe('rolegate users list', () => {
  it('prints a table of email, roles, disabled and created, and never a hash', async () => {
    const result = await run(['users', 'list']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^EMAIL\s+ROLES\s+DISABLED\s+CREATED$/);
    expect(lines.find((l) => l.startsWith('ada@example.com'))).toMatch(/^ada@example\.com\s+admin,editor\s+no\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(result.stdout).not.toContain('$2');
  });

  it('prints JSON with --json, without hashes', async () => {
    const result = await run(['users', 'list', '--json']);
    const users = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    expect(users.find((u) => u.email === 'ada@example.com')).toMatchObject({ roles: ['admin', 'editor'], disabled: false, disabledAt: null });
    expect(result.stdout).not.toMatch(/\$2[aby]\$|password/i);
  });
});

describe('rolegate users set-roles, disable, enable, revoke-sessions', () => {
  it('replaces roles, and --roles "" clears them', async () => {
    expect((await run(['users', 'set-roles', '--email', 'Ada@example.com', '--roles', 'member,vip'])).stdout)
      .toBe("roles of ada@example.com: member,vip (in effect at the user's next token refresh)\n");
    expect((await listed()).find((u) => u.email === 'ada@example.com')!.roles).toEqual(['member', 'vip']);
    expect((await run(['users', 'set-roles', '--email', 'ada@example.com', '--roles', ''])).stdout)
      .toBe("roles of ada@example.com: (none) (in effect at the user's next token refresh)\n");
    expect((await listed()).find((u) => u.email === 'ada@example.com')!.roles).toEqual([]);
  });

  it('revoke-sessions ends every session and says how many; disable ends them too; enable lets the user back', async () => {
    const user = await withStore(async (store) => {
      const found = await store.findUserByEmail('tty@example.com');
      for (const token of ['one', 'two']) {
        await store.createSession({ userId: found!.id, refreshTokenHash: sha256(token), refreshTtlSeconds: 3600 });
      }
      return found!;
    });
    const revoked = await run(['users', 'revoke-sessions', '--email', 'tty@example.com']);
    expect(revoked).toMatchObject({ code: 0, stderr: '' });
    expect(revoked.stdout).toBe('ended 2 sessions of tty@example.com; no refresh token issued before now works any more (access tokens already issued last until they expire)\n');

    await withStore(async (store) => {
      expect((await store.findUserById(user.id))!.tokenVersion).toBe(user.tokenVersion + 1);
      expect((await store.rotateRefreshToken({ tokenHash: sha256('one'), successorHash: sha256('one+'), refreshTtlSeconds: 3600, graceSeconds: 0 })).status).not.toBe('rotated');
      await store.createSession({ userId: user.id, refreshTokenHash: sha256('three'), refreshTtlSeconds: 3600 });
    });

    expect(await run(['users', 'disable', '--email', 'tty@example.com'])).toMatchObject({ code: 0, stdout: 'disabled tty@example.com; every session of it is ended\n' });
    expect((await listed()).find((u) => u.email === 'tty@example.com')!.disabled).toBe(true);
    expect((await run(['users', 'list'])).stdout).toMatch(/tty@example\.com\s+yes, since \d{4}-/);
    await withStore(async (store) => {
      expect((await store.rotateRefreshToken({ tokenHash: sha256('three'), successorHash: sha256('three+'), refreshTtlSeconds: 3600, graceSeconds: 0 })).status).not.toBe('rotated');
      expect((await store.createSession({ userId: user.id, refreshTokenHash: sha256('four'), refreshTtlSeconds: 3600 })).status).toBe('user_unavailable');
    });

    expect(await run(['users', 'enable', '--email', 'tty@example.com'])).toMatchObject({ code: 0, stdout: 'enabled tty@example.com\n' });
    expect((await listed()).find((u) => u.email === 'tty@example.com')!.disabled).toBe(false);
  });
});

describe('rolegate users import', () => {
  const gotrueId = randomUUID();

  it('imports Supabase/GoTrue auth.users rows as they are, keeping ids, roles and $2a$ hashes that still verify', async () => {
    const rows = [
      goTrueRow({ id: gotrueId, email: 'Grace@Example.com', password: 'grace password 1', roles: ['editor'] }),
      goTrueRow({ email: 'magic@example.com', raw_app_meta_data: { provider: 'email', authorization: { roles: ['member'] } } }),
      { email: 'native@example.com', password_hash: null, roles: ['admin'] },
      { email: 'ada@example.com', password_hash: null, roles: ['intruder'] },
    ];
    await writeFile(join(site, 'users.jsonl'), jsonLines(rows));
    const result = await run(['users', 'import', 'users.jsonl']);
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: 'imported 4 users: 3 created, 1 skipped (email or id already present)\n' });

    const users = await listed();
    expect(users.find((u) => u.email === 'grace@example.com')).toMatchObject({ id: gotrueId, roles: ['editor'] });
    expect(users.find((u) => u.email === 'magic@example.com')).toMatchObject({ roles: ['member'] });
    // An existing user is never overwritten by an import.
    expect(users.find((u) => u.email === 'ada@example.com')!.roles).toEqual([]);
    await withStore(async (store) => {
      const grace = await store.findUserForLogin('grace@example.com');
      expect(grace!.passwordHash).toMatch(/^\$2a\$04\$/);
      expect(await verifyPassword('grace password 1', grace!.passwordHash!)).toBe(true);
      expect(await verifyPassword('wrong password 1', grace!.passwordHash!)).toBe(false);
      expect((await store.findUserForLogin('magic@example.com'))!.passwordHash).toBeNull();
    });
  });

  it('reads stdin for "-", and an import run twice skips every row', async () => {
    const text = jsonLines([{ email: 'native@example.com', roles: [] }, { email: 'piped@example.com', roles: ['x'] }]);
    expect((await run(['users', 'import', '-'], { stdin: text })).stdout).toBe('imported 2 users: 1 created, 1 skipped (email or id already present)\n');
    expect((await run(['users', 'import', '-'], { stdin: text })).stdout).toBe('imported 2 users: 0 created, 2 skipped (email or id already present)\n');
  });

  it('writes nothing when any line is bad, and names the line and field', async () => {
    const before = await listed();
    const good = (n: number) => ({ email: `batch${n}@example.com`, password_hash: null, roles: [] });
    const cases: Array<[unknown[], string]> = [
      [[good(1), good(2), goTrueRow({ email: 'bad@example.com', encrypted_password: 'plaintext!' })], 'rolegate: line 3: encrypted_password: is not a bcrypt hash ($2a$, $2b$ or $2y$ with a two-digit cost)\n'],
      [[good(1), { ...good(2), roles: ['ok', 'two words'] }], 'rolegate: line 2: roles: role "two words": role names may not contain spaces\n'],
      [[good(1), good(2), { ...good(1), email: 'BATCH1@example.com' }], 'rolegate: line 3: email: batch1@example.com is also on line 1\n'],
    ];
    for (const [rows, stderr] of cases) {
      await writeFile(join(site, 'bad.jsonl'), jsonLines(rows));
      expect(await run(['users', 'import', 'bad.jsonl'])).toMatchObject({ code: 1, stdout: '', stderr });
    }
    expect(await run(['users', 'import', 'missing.jsonl'])).toMatchObject({ code: 1, stderr: `rolegate: no file ${join(site, 'missing.jsonl')}\n` });
    expect(await run(['users', 'import'])).toMatchObject({ code: 1, stderr: 'rolegate: users import needs exactly one FILE (or - for stdin), or --identity-mirror\nrun `rolegate users help` for usage\n' });
    expect(await listed()).toEqual(before);
  });
});
