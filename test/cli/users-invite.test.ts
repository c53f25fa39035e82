import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.js';
import { rolegate, type FakeIoOptions } from './fake-io.js';

const JWT_SECRET = 'users-invite-cli-tests-jwt-secret-0123456789';

let site: string;
let smtp: SmtpCapture;
let env: Record<string, string>;
beforeAll(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-cli-invite-'));
  smtp = await startSmtpCapture();
  env = { ROLEGATE_DATA_DIR: '.rolegate/data', JWT_SECRET, SITE_URL: 'https://site.example', SMTP_URL: smtp.url, MAIL_FROM: 'no-reply@site.example' };
  await writeFile(join(site, 'rolegate.config.json'), JSON.stringify({ gates: [], accounts: { newUserRoles: ['member'], linkLifetimes: { invite: 2 * 86400 } } }));
  expect(await run(['db', 'migrate'])).toMatchObject({ code: 0, stderr: '' });
});
afterAll(async () => {
  await smtp.stop();
  await rm(site, { recursive: true, force: true });
});

const run = (argv: string[], options: FakeIoOptions = {}) => rolegate(argv, { env, cwd: site, ...options });

async function withStore<T>(use: (store: Awaited<ReturnType<typeof openEmbeddedStore>>) => Promise<T>): Promise<T> {
  const store = await openEmbeddedStore({ dataDir: join(site, '.rolegate/data') });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** The link in the newest mail to `address`, as the invitee reads it. */
function linkIn(address: string): URL {
  const mail = smtp.to(address).at(-1);
  const match = mail && /https:\/\/site\.example\/auth\/verify\?token=[A-Za-z0-9_-]{43}/.exec(mail.text);
  if (!match) throw new Error(`no invitation link mailed to ${address}`);
  return new URL(match[0]);
}

describe('rolegate users invite', () => {
  it('makes the user with the config\'s roles (or --roles) and sends the invitation over SMTP at once', async () => {
    const result = await run(['users', 'invite', '--email', 'Ada@Example.com']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('invited ada@example.com; the link works for 2 days\n');
    expect(result.stdout).toContain('sent 1, to retry 0, failed 0');
    expect(smtp.to('ada@example.com')).toHaveLength(1);
    expect(smtp.to('ada@example.com')[0]!.subject).toBe("You've been invited");
    const token = linkIn('ada@example.com').searchParams.get('token');
    await withStore(async (store) => {
      expect(await store.findUserByEmail('ada@example.com')).toMatchObject({ roles: ['member'], emailConfirmedAt: null });
      expect(await store.emailTokenStatus(createHash('sha256').update(token!).digest('hex'))).toMatchObject({ status: 'valid', purpose: 'invite' });
    });
    expect((await run(['users', 'invite', '--email', 'grace@example.com', '--roles', 'editor,member'])).code).toBe(0);
    await withStore(async (store) => expect((await store.findUserByEmail('grace@example.com'))?.roles).toEqual(['editor', 'member']));
  });

  it('refuses an account that has a password, with exit code 1 and nothing sent', async () => {
    await withStore((store) => store.createUser({ email: 'has-password@example.com', passwordHash: `$2b$10$${'H'.repeat(53)}` }));
    const result = await run(['users', 'invite', '--email', 'has-password@example.com']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('has-password@example.com already has an account with a password');
    expect(smtp.to('has-password@example.com')).toEqual([]);
  });

  it('--pending mails a new link to everyone without a password, and to nobody else', async () => {
    await withStore(async (store) => {
      await store.importUsers([{ email: 'imported@example.com', passwordHash: null, roles: ['editor'] }]);
      await store.createUser({ email: 'off@example.com', passwordHash: null });
      const off = await store.findUserByEmail('off@example.com');
      await store.setUserDisabled(off!.id, true);
    });
    const before = linkIn('ada@example.com');
    const result = await run(['users', 'invite', '--pending']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('sent imported@example.com an invitation to an account that has no password yet');
    expect(result.stdout).toContain('sent ada@example.com an invitation to an account that has no password yet (an earlier link no longer works)');
    expect(result.stdout).not.toContain('has-password@example.com');
    expect(smtp.to('imported@example.com')).toHaveLength(1);
    expect(smtp.to('off@example.com')).toEqual([]);
    expect(linkIn('ada@example.com').href).not.toBe(before.href);
    await withStore(async (store) => expect((await store.findUserByEmail('imported@example.com'))?.roles).toEqual(['editor']));
  });

  it('explains a wrong call without touching the database', async () => {
    expect(await run(['users', 'invite'])).toMatchObject({ code: 1, stderr: expect.stringContaining('--email is required') });
    expect(await run(['users', 'invite', '--pending', '--email', 'x@example.com'])).toMatchObject({ code: 1, stderr: expect.stringContaining('takes no --email') });
    expect(await run(['users', 'invite', '--email', 'x@example.com', '--roles', 'a b'])).toMatchObject({ code: 1, stderr: expect.stringContaining('--roles') });
    const remote = await rolegate(['users', 'invite', '--email', 'x@example.com'], { env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:9/db', JWT_SECRET }, cwd: site });
    expect(remote).toMatchObject({ code: 1, stderr: expect.stringContaining('set SITE_URL') });
    await withStore(async (store) => expect(await store.findUserByEmail('x@example.com')).toBeNull());
  });
});
