import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { sealMailSecret } from '../../src/mail/seal.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.js';
import { rolegate, type FakeIoOptions } from './fake-io.js';

const JWT_SECRET = 'mail-cli-tests-jwt-secret-0123456789abcdef';
const DEV_SECRET = 'mail-cli-tests-netlify-dev-secret-0123456789';

let site: string;
let smtp: SmtpCapture;
let env: Record<string, string>;
beforeAll(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-cli-mail-'));
  smtp = await startSmtpCapture();
  env = { ROLEGATE_DATA_DIR: '.rolegate/data', JWT_SECRET, SITE_URL: 'https://site.example', SMTP_URL: smtp.url, MAIL_FROM: 'no-reply@site.example' };
  expect(await run(['db', 'migrate'])).toMatchObject({ code: 0, stderr: '' });
});
afterAll(async () => {
  await smtp.stop();
  await rm(site, { recursive: true, force: true });
});
// Every test starts from an empty outbox.
beforeEach(async () => {
  await withStore(async (store) => {
    const db = (store as unknown as { db: { db: { query(sql: string): Promise<unknown> } } }).db.db;
    await db.query('delete from rolegate.mail_outbox');
  });
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

let counter = 0;
/** A user and a recovery mail for them, sealed under `secret`; returns the address, the link and the outbox id. */
async function queueRecovery(secret = JWT_SECRET) {
  counter += 1;
  const email = `cli-${counter}-${randomBytes(3).toString('hex')}@example.com`;
  const token = randomBytes(32).toString('base64url');
  const url = `https://site.example/verify?token=${token}`;
  const id = await withStore(async (store) => {
    await store.createUser({ email, passwordHash: null });
    await store.requestAccountMail({
      purpose: 'recovery', email, tokenHash: createHash('sha256').update(token).digest('hex'), ttlSeconds: 3600,
      sealed: sealMailSecret(new Secret(secret), JSON.stringify({ url, token })),
      throttle: { windowSeconds: 3600, keys: [{ key: `mail:address:${email}`, maxFailures: 10 }] },
    });
    return (await store.listMail({ limit: 1 }))[0]!.id;
  });
  return { email, url, id };
}

/** The rows of `rolegate mail` as [id, state, recipient, template, attempts, last error]. */
function rows(stdout: string): string[][] {
  const [header, ...lines] = stdout.trimEnd().split('\n');
  expect(header).toMatch(/^ID +STATE +RECIPIENT +TEMPLATE +ATTEMPTS +LAST ERROR +CREATED$/);
  return lines.map((line) => {
    const cells = line.split(/ {2,}/);
    return [...cells.slice(0, 5), cells.slice(5, -1).join(' ')];
  });
}

describe('rolegate mail', () => {
  it('says so when the outbox is empty', async () => {
    expect(await run(['mail'])).toMatchObject({ code: 0, stderr: '', stdout: 'the outbox is empty\n' });
    expect(await run(['mail', '--state', 'failed'])).toMatchObject({ code: 0, stdout: 'no failed mail\n' });
  });

  it('lists the outbox newest first, retries and delivers, and keeps a refused mail failed until retried by id', async () => {
    const first = await queueRecovery();
    const second = await queueRecovery();
    const listed = await run(['mail']);
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(rows(listed.stdout)).toEqual([
      [String(second.id), 'pending', second.email, 'recovery', '0', '-'],
      [String(first.id), 'pending', first.email, 'recovery', '0', '-'],
    ]);

    smtp.refuse(second.email, 550);
    const retried = await run(['mail', 'retry']);
    expect(retried).toMatchObject({ code: 1, stdout: '2 mails due now\nsent 1, to retry 0, failed 1\n' });
    expect(retried.stderr).toMatch(new RegExp(`mail ${second.id} \\(recovery\\) failed for good: .*550 No such mailbox here`));
    expect(smtp.to(first.email)).toHaveLength(1);
    expect(smtp.to(first.email)[0]!.text).toContain(first.url);

    const failed = rows((await run(['mail', '--state', 'failed'])).stdout);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.slice(0, 5)).toEqual([String(second.id), 'failed', second.email, 'recovery', '1']);
    expect(failed[0]![5]).toContain('550');
    expect(rows((await run(['mail', '--state', 'sent'])).stdout).map((r) => r.slice(0, 2))).toEqual([[String(first.id), 'sent']]);

    smtp.accept(second.email);
    expect(await run(['mail', 'retry', String(second.id)])).toMatchObject({ code: 0, stderr: '', stdout: '1 mail due now\nsent 1, to retry 0, failed 0\n' });
    expect(smtp.to(second.email)).toHaveLength(1);
    expect(smtp.to(first.email)).toHaveLength(1);
    expect(await run(['mail', 'retry', String(first.id)])).toMatchObject({
      code: 1, stdout: '', stderr: `rolegate: no unsent mail with id ${first.id} (see rolegate mail; sent mail is never sent again)\n`,
    });
    // (The longer timeout: a dozen commands, each opening the database on disk.)
  }, 90_000);

  it('retry leaves a mail another deliverer is sending to that deliverer: it is sent once, and taken again only when the lease ends', async () => {
    const { email, id } = await queueRecovery();
    // A deliverer (the site's mail-background, say) has claimed the mail and is sending it.
    const claimed = await withStore((store) => store.claimMail({ limit: 10, leaseSeconds: 300 }));
    expect(claimed.map((m) => m.id)).toEqual([id]);

    expect(await run(['mail', 'retry'])).toMatchObject({ code: 0, stderr: '', stdout: '1 mail due now\nsent 0, to retry 0, failed 0\n' });
    expect(smtp.to(email)).toEqual([]);
    expect(await withStore((store) => store.claimMail({ limit: 10, leaseSeconds: 300 }))).toEqual([]);
    expect(await run(['mail', 'retry', String(id)])).toMatchObject({ code: 0, stdout: '1 mail due now\nsent 0, to retry 0, failed 0\n' });
    expect(smtp.to(email)).toEqual([]);

    // The deliverer died without recording an outcome; its lease ends (moved rather than waited for).
    const leaseEnded = await withStore(async (store) => {
      const db = (store as unknown as { db: { db: { query(sql: string, values: unknown[]): Promise<unknown> } } }).db.db;
      await db.query(`update rolegate.mail_outbox set claimed_until = now() - interval '1 second' where id = $1`, [id]);
      return store.claimMail({ limit: 10, leaseSeconds: 300 });
    });
    expect(leaseEnded.map((m) => m.id)).toEqual([id]);
  }, 60_000);

  it('--json shows every field but the sealed link', async () => {
    const { id, url } = await queueRecovery();
    const result = await run(['mail', '--json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toMatchObject([{ id, state: 'pending', template: 'recovery', attempts: 0, lastError: null, sentAt: null }]);
    expect(result.stdout).not.toContain('sealed');
    expect(result.stdout).not.toContain(url);
  });

  it('retry without SMTP_URL makes mail due but says it was not delivered, and the mail waits', async () => {
    const { email } = await queueRecovery();
    const { SMTP_URL: _unset, ...withoutSmtp } = env;
    const result = await run(['mail', 'retry'], { env: withoutSmtp });
    expect(result).toMatchObject({ code: 1, stdout: '1 mail due now\n' });
    expect(result.stderr).toBe("rolegate: not delivered from here: SMTP_URL is not set (set it as on the site, or the site's mail-background function sends due mail at its next run)\n");
    expect(rows((await run(['mail'])).stdout)[0]!.slice(1, 5)).toEqual(['pending', email, 'recovery', '0']);
  });

  it('retry refuses a bad environment before changing anything, naming the variable and never the SMTP password', async () => {
    await queueRecovery();
    const { JWT_SECRET: _unset, ...withoutSecret } = env;
    const result = await run(['mail', 'retry'], { env: { ...withoutSecret, SMTP_URL: `${smtp.url}/x?y` } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('JWT_SECRET is required');
    expect(result.stderr).not.toContain(smtp.password);
    expect(rows((await run(['mail'])).stdout)[0]![4]).toBe('0');
  });

  it('with the embedded database, retry opens mail sealed by rolegate dev with netlify.toml [dev] jwtSecret', async () => {
    await writeFile(join(site, 'netlify.toml'), `[dev]\n  jwtSecret = "${DEV_SECRET}"\n`);
    try {
      const { email, url } = await queueRecovery(DEV_SECRET);
      const { JWT_SECRET: _unset, ...withoutSecret } = env;
      expect(await run(['mail', 'retry'], { env: withoutSecret })).toMatchObject({ code: 0, stdout: '1 mail due now\nsent 1, to retry 0, failed 0\n' });
      expect(smtp.to(email)[0]!.text).toContain(url);
    } finally {
      await rm(join(site, 'netlify.toml'));
    }
  });

  it('answers bad arguments with one line and the help to read', async () => {
    const hint = 'run `rolegate mail help` for usage\n';
    expect(await run(['mail', '--state', 'done'])).toMatchObject({ code: 1, stdout: '', stderr: `rolegate: --state must be one of pending, sent, failed\n${hint}` });
    expect(await run(['mail', '--limit', '0'])).toMatchObject({ code: 1, stderr: `rolegate: --limit must be a whole number from 1 to 1000\n${hint}` });
    expect(await run(['mail', 'retry', 'abc'])).toMatchObject({ code: 1, stderr: `rolegate: mail retry: "abc" is not a mail id (a whole number from rolegate mail)\n${hint}` });
    expect(await run(['mail', 'retry', '1', '2'])).toMatchObject({ code: 1, stderr: `rolegate: mail retry takes at most one ID, not 2\n${hint}` });
    expect(await run(['mail', 'resend'])).toMatchObject({ code: 1, stderr: `rolegate: unknown mail command "resend"\n${hint}` });
    expect(await run(['mail', '--frobnicate'])).toMatchObject({ code: 1, stderr: `rolegate: unknown option --frobnicate\n${hint}` });
    expect((await run(['mail', 'help'])).stdout).toContain('rolegate mail retry [ID]');
    expect((await run(['help'])).stdout).toContain('rolegate mail [--state pending|sent|failed]');
  });
});
