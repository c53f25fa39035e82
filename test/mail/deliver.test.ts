/**
 * Delivery of the outbox over real SMTP (test/support/smtp-capture.ts) from a real store (the
 * embedded PGlite, in memory), with mail queued as the account flows queue it: a user, and
 * store.requestAccountMail with the link sealed.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { deliverDueMail, deliverUntilIdle, retryDelaySeconds, type DeliverOptions } from '../../src/mail/deliver.js';
import { sealMailSecret } from '../../src/mail/seal.js';
import { smtpTransport, unconfiguredTransport, type MailTransport } from '../../src/mail/transport.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.js';

const jwtSecret = new Secret('mail-delivery-tests-jwt-secret-0123456789');
const previousSecret = new Secret('mail-delivery-tests-previous-secret-012345');
const siteUrl = new URL('https://site.example/');
const from = 'Site <no-reply@site.example>';

let smtp: SmtpCapture;
let store: Store;
let db: PGlite;
let logged: string[];
let counter = 0;

beforeAll(async () => {
  smtp = await startSmtpCapture();
});
afterAll(async () => {
  await smtp.stop();
});

/** One database for the file (opening PGlite takes seconds), and an empty outbox for each test. */
function withFreshOutbox() {
  beforeAll(async () => {
    store = await openEmbeddedStore({ dataDir: 'memory://' });
    db = (store as unknown as { db: { db: PGlite } }).db.db;
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await db.query('delete from rolegate.mail_outbox');
    logged = [];
  });
}

function options(over: Partial<DeliverOptions> = {}): DeliverOptions {
  return { store, transport: smtpTransport(new Secret(smtp.url)), secrets: [jwtSecret], siteUrl, from, log: (line) => logged.push(line), ...over };
}

/** A user and a recovery mail for them, queued as requestRecovery queues it; returns the address and the link. */
async function queueRecovery(seal: (plaintext: string) => string = (p) => sealMailSecret(jwtSecret, p)) {
  counter += 1;
  const email = `person-${counter}-${randomBytes(3).toString('hex')}@example.com`;
  const created = await store.createUser({ email, passwordHash: null });
  if (created.status !== 'created') throw new Error('fixture user not created');
  const token = randomBytes(32).toString('base64url');
  const url = `https://site.example/verify?token=${token}&type=recovery`;
  const result = await store.requestAccountMail({
    purpose: 'recovery',
    email,
    tokenHash: createHash('sha256').update(token).digest('hex'),
    ttlSeconds: 3600,
    sealed: seal(JSON.stringify({ url, token })),
    throttle: { windowSeconds: 3600, keys: [{ key: `mail:address:${email}`, maxFailures: 100 }] },
  });
  expect(result.status).toBe('queued');
  return { email, url, token };
}

/** Time passing for the pending mail: what a retry delay made wait is due now (failed mail stays failed). */
async function timePasses() {
  await db.query('update rolegate.mail_outbox set next_attempt_at = now() where sent_at is null and failed_at is null');
}

async function outboxRow(email: string) {
  const rows = (await store.listMail({ limit: 1000 })).filter((mail) => mail.recipient === email);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe('delivering the outbox over SMTP', () => {
  withFreshOutbox();

  it('a queued recovery mail arrives with its link readable in the text and the HTML', async () => {
    const { email, url } = await queueRecovery();
    expect(await deliverDueMail(options())).toEqual({ sent: 1, retrying: 0, failed: 0 });
    const [mail, ...more] = smtp.to(email);
    expect(more).toEqual([]);
    expect(mail!.subject).toBe('Reset your password');
    expect(mail!.from).toBe('no-reply@site.example');
    expect(mail!.text).toContain(url);
    expect(mail!.html).toContain(`href="${url.replace('&', '&amp;')}"`);
    expect(mail!.messageId).toMatch(/^<rolegate-mail-\d+-\d+@site\.example>$/);
    expect(await outboxRow(email)).toMatchObject({ attempts: 1, lastError: null, failedAt: null });
    expect((await outboxRow(email)).sentAt).not.toBeNull();
    // Sent is done: nothing more goes out.
    expect(await deliverDueMail(options())).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(smtp.to(email)).toHaveLength(1);
  });

  it('with the mail server down, mail stays pending with the reason; back up, every mail arrives exactly once', async () => {
    const queued = [await queueRecovery(), await queueRecovery(), await queueRecovery()];
    await smtp.stop();
    try {
      expect(await deliverDueMail(options())).toEqual({ sent: 0, retrying: 3, failed: 0 });
      for (const { email } of queued) {
        const row = await outboxRow(email);
        expect(row).toMatchObject({ sentAt: null, failedAt: null, attempts: 1 });
        expect(row.lastError).toMatch(/ECONNREFUSED|connect/i);
      }
      expect((await store.listMail({ state: 'pending' })).map((m) => m.recipient).sort()).toEqual(queued.map((q) => q.email).sort());
      // The retry waits its delay: nothing is due straight away.
      expect(await deliverDueMail(options())).toEqual({ sent: 0, retrying: 0, failed: 0 });
      await timePasses();
      expect(await deliverDueMail(options())).toEqual({ sent: 0, retrying: 3, failed: 0 });
      expect((await outboxRow(queued[0]!.email)).attempts).toBe(2);
    } finally {
      await smtp.start();
    }
    await timePasses();
    expect(await deliverUntilIdle({ ...options(), budgetMs: 60_000 })).toEqual({ sent: 3, retrying: 0, failed: 0 });
    for (const { email, url } of queued) {
      expect(smtp.to(email)).toHaveLength(1);
      expect(smtp.to(email)[0]!.text).toContain(url);
    }
    await timePasses();
    expect(await deliverUntilIdle({ ...options(), budgetMs: 60_000 })).toEqual({ sent: 0, retrying: 0, failed: 0 });
  });

  it('two deliverers running at once send each mail once', async () => {
    const queued = [];
    for (let i = 0; i < 12; i++) queued.push(await queueRecovery());
    const [a, b] = await Promise.all([deliverUntilIdle({ ...options(), limit: 3, budgetMs: 60_000 }), deliverUntilIdle({ ...options(), limit: 3, budgetMs: 60_000 })]);
    expect(a.sent + b.sent).toBe(12);
    expect(a.retrying + b.retrying + a.failed + b.failed).toBe(0);
    for (const { email } of queued) expect(smtp.to(email)).toHaveLength(1);
  });

  it('a mailbox the server refuses for good (550) fails without retries until `retry`, the others still go', async () => {
    const refused = await queueRecovery();
    const other = await queueRecovery();
    smtp.refuse(refused.email, 550);
    try {
      expect(await deliverDueMail(options())).toEqual({ sent: 1, retrying: 0, failed: 1 });
      expect(smtp.to(other.email)).toHaveLength(1);
      const refusedRow = await outboxRow(refused.email);
      expect(refusedRow.failedAt).not.toBeNull();
      expect(refusedRow.lastError).toContain('550');
      expect((await store.listMail({ state: 'failed' })).map((m) => m.recipient)).toEqual([refused.email]);
      await timePasses();
      expect(await deliverDueMail(options())).toEqual({ sent: 0, retrying: 0, failed: 0 });
    } finally {
      smtp.accept(refused.email);
    }
    expect(await store.retryMail((await outboxRow(refused.email)).id)).toEqual({ mails: 1 });
    expect(await deliverDueMail(options())).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(smtp.to(refused.email)).toHaveLength(1);
  });

  it('a mailbox busy for now (451) is retried later and then delivered once', async () => {
    const busy = await queueRecovery();
    smtp.refuse(busy.email, 451);
    expect(await deliverDueMail(options())).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect((await outboxRow(busy.email)).lastError).toContain('451');
    smtp.accept(busy.email);
    await timePasses();
    expect(await deliverDueMail(options())).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(smtp.to(busy.email)).toHaveLength(1);
  });

  it('a tampered seal, or one no secret opens, fails that mail with a clear error and the others are delivered', async () => {
    const tampered = await queueRecovery((plaintext) => {
      const parts = sealMailSecret(jwtSecret, plaintext).split('.');
      const body = Buffer.from(parts[2]!, 'base64url');
      body[0] = body[0]! ^ 1;
      return [parts[0], parts[1], body.toString('base64url'), parts[3]].join('.');
    });
    const foreign = await queueRecovery((plaintext) => sealMailSecret(new Secret('another-site-secret-0123456789-abcdefgh'), plaintext));
    const good = [await queueRecovery(), await queueRecovery()];
    expect(await deliverDueMail(options())).toEqual({ sent: 2, retrying: 0, failed: 2 });
    for (const { email } of good) expect(smtp.to(email)).toHaveLength(1);
    for (const { email } of [tampered, foreign]) {
      expect(smtp.to(email)).toEqual([]);
      const row = await outboxRow(email);
      expect(row.failedAt).not.toBeNull();
      expect(row.lastError).toMatch(/sealed under a key that neither JWT_SECRET nor JWT_SECRET_PREVIOUS opens/);
    }
    expect(logged.join('\n')).toMatch(/mail \d+ \(recovery\) failed for good/);
  });

  it('a mail sealed before a JWT_SECRET rotation is opened with JWT_SECRET_PREVIOUS', async () => {
    const { email, url } = await queueRecovery((plaintext) => sealMailSecret(previousSecret, plaintext));
    expect(await deliverDueMail(options({ secrets: [jwtSecret, previousSecret] }))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(smtp.to(email)[0]!.text).toContain(url);
  });

  it("a site's Identity-style template is used, its values escaped in the HTML", async () => {
    const { email, url, token } = await queueRecovery();
    const overrides = {
      recovery: {
        subject: 'Reset your password for {{.SiteURL}}',
        html: '<p><a href="{{ .ConfirmationURL }}">Reset</a> the password of {{ .Email }}, or type {{ .Token }}.</p>',
      },
    };
    expect(await deliverDueMail(options({ overrides }))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    const [mail] = smtp.to(email);
    expect(mail!.subject).toBe('Reset your password for https://site.example');
    expect(mail!.html).toContain(`<a href="${url.replace('&', '&amp;')}">Reset</a> the password of ${email}, or type ${token}.`);
    // The text part the site did not write is rolegate's, with the same link.
    expect(mail!.text).toContain(url);
  });

  it('a refused SMTP login keeps mail pending (the configuration is wrong, not the mail) and never shows the password', async () => {
    const { email } = await queueRecovery();
    const wrongPassword = 'not-the-smtp-password-9876543210';
    const url = new URL(smtp.url);
    url.password = wrongPassword;
    expect(await deliverDueMail(options({ transport: smtpTransport(new Secret(url.href)) }))).toEqual({ sent: 0, retrying: 1, failed: 0 });
    const row = await outboxRow(email);
    expect(row.failedAt).toBeNull();
    expect(row.lastError).toMatch(/535|auth/i);
    for (const text of [row.lastError!, ...logged]) {
      expect(text).not.toContain(wrongPassword);
      expect(text).not.toContain(smtp.password);
    }
    expect(smtp.to(email)).toEqual([]);
  });

  it('without SMTP_URL mail waits in the outbox, saying why', async () => {
    const { email } = await queueRecovery();
    expect(await deliverDueMail(options({ transport: unconfiguredTransport }))).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect(await outboxRow(email)).toMatchObject({ sentAt: null, failedAt: null, lastError: 'SMTP_URL is not set' });
  });

  it('no send starts once the lease is nearly over: the rest wait for their lease to end, unsent', async () => {
    const queued = [await queueRecovery(), await queueRecovery(), await queueRecovery()];
    let clockMs = 1_000_000;
    const real = smtpTransport(new Secret(smtp.url));
    // Each send takes 25 s of the test's clock; a 60 s lease leaves room to start two (15 s margin).
    const slow: MailTransport = {
      async send(mail, sendOptions) {
        await real.send(mail, sendOptions);
        clockMs += 25_000;
      },
    };
    expect(await deliverDueMail(options({ transport: slow, leaseSeconds: 60, nowMs: () => clockMs }))).toEqual({ sent: 2, retrying: 0, failed: 0 });
    expect(queued.map(({ email }) => smtp.to(email).length)).toEqual([1, 1, 0]);
    // Still leased: another deliverer does not take it before the lease ends.
    expect(await deliverDueMail(options())).toEqual({ sent: 0, retrying: 0, failed: 0 });
    await db.query('update rolegate.mail_outbox set claimed_until = now() where sent_at is null');
    expect(await deliverDueMail(options())).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(smtp.to(queued[2]!.email)).toHaveLength(1);
  });
});

describe('retry delays', () => {
  it('double from 30 s with each attempt, up to an hour', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50].map(retryDelaySeconds)).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
  });
});
