/**
 * Forgetting a password in a real browser: Debian's Chromium with JavaScript off against the
 * starter under `netlify dev` (the edge gate, the functions, the mail-background function),
 * a real PostgreSQL, and a real SMTP server in the test process that captures the mail the
 * site sends through SMTP_URL. The test reads the link out of the captured message.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds, signAccessTokenWithJose } from '../../../src/core/access-token.js';
import { hashPassword } from '../../../src/core/password.js';
import { Secret } from '../../../src/core/secret.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import type { User } from '../../../src/store/store.js';
import type { TestDatabase } from '../../support/databases.js';
import type { NetlifyDev } from '../../support/netlify-dev.js';
import type { SmtpCapture } from '../../support/smtp-capture.js';
import { browserPool, nextMail as mailTo, submit, type AccountSite } from '../account-site.js';

const OLD_PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a passphrase chosen from the link';
const EMAIL = 'forgetful@example.com';

/** Registers this flow's cases on the shared site (account-site.ts), started by test/e2e/accounts.test.ts. */
export function describeRecovery(shared: () => AccountSite): void {
  describe('forgot password in Chromium, with real mail', () => {
    let db: TestDatabase;
    let dev: NetlifyDev;
    let smtp: SmtpCapture;
    let user: User;
    const browsers = browserPool();
    const browser = () => browsers.context();
    const nextMail = (address: string, count: number) => mailTo(shared(), address, count);

    beforeAll(async () => {
      ({ smtp, db, dev } = shared());
      const store = openPostgresStore({ connectionString: db.url });
      const created = await store.createUser({ email: EMAIL, passwordHash: await hashPassword(OLD_PASSWORD, 10), roles: ['member'] });
      await store.close();
      if (created.status !== 'created') throw new Error('fixture user not created');
      user = created.user;
    }, 120_000);

    afterAll(async () => {
      await browsers.closeAll();
    });

    it('mails a link that sets a new password, signs in here and ends the session of another browser', async () => {
      const laptopContext = await browser();
      const laptop = await laptopContext.newPage();
      await laptop.goto(`${dev.url}/members/`);
      await laptop.fill('#email', EMAIL);
      await laptop.fill('#password', OLD_PASSWORD);
      await submit(laptop);
      expect(new URL(laptop.url()).pathname).toBe('/members/');

      const phone = await (await browser()).newPage();
      await phone.goto(`${dev.url}/login`);
      await Promise.all([phone.waitForURL((url) => url.pathname === '/forgot-password'), phone.click('a[href="/forgot-password"]')]);
      await phone.fill('#email', EMAIL);
      await submit(phone);
      expect(new URL(phone.url()).pathname).toBe('/check-email');

      const mail = await nextMail(EMAIL, 0);
      expect(mail.from).toContain('no-reply@example.com');
      const link = /http:\/\/localhost:\d+\/auth\/verify\?token=[A-Za-z0-9_-]{43}/.exec(mail.text)?.[0];
      expect(link, mail.text).toBeTruthy();
      expect(mail.html).toContain(link!.replace(/&/g, '&amp;'));

      await phone.goto(link!);
      expect(new URL(phone.url()).pathname).toBe('/choose-password');
      await phone.fill('#password', NEW_PASSWORD);
      await phone.fill('#password_confirm', NEW_PASSWORD);
      await submit(phone);
      expect(new URL(phone.url()).pathname, `${await phone.content()}\n${JSON.stringify(await phone.context().cookies())}`).toBe('/');
      await phone.goto(`${dev.url}/members/`);
      expect(new URL(phone.url()).pathname).toBe('/members/');

      // The laptop's access token lasts until it expires; then the bounce finds its session ended.
      const { token } = await signAccessTokenWithJose({
        subject: { id: user.id, email: user.email, roles: user.roles }, sessionId: '00000000-0000-4000-8000-000000000000',
        secret: new Secret(dev.jwtSecret), issuer: 'rolegate', ttlSeconds: 60, now: nowSeconds() - 3600,
      });
      await laptopContext.addCookies([{ name: 'nf_jwt', value: token, url: dev.url, httpOnly: true, secure: true, sameSite: 'Lax' }]);
      await laptop.goto(`${dev.url}/members/`);
      expect(new URL(laptop.url()).pathname).toBe('/login');

      // The same link again: a page that says so, and the new password stays.
      await phone.goto(link!);
      expect(await phone.textContent('h1')).toBe('This link was already used');
      expect(await phone.getAttribute('a[href="/forgot-password"]', 'href')).toBe('/forgot-password');
      expect(smtp.to(EMAIL)).toHaveLength(1);
    });

    it('answers an unknown address with the same page and mails nobody', async () => {
      const page = await (await browser()).newPage();
      await page.goto(`${dev.url}/forgot-password`);
      await page.fill('#email', 'nobody-here@example.com');
      await submit(page);
      expect(new URL(page.url()).pathname).toBe('/check-email');
      // A known address's mail arrives after this request; by then the unknown one would have too.
      await page.goto(`${dev.url}/forgot-password`);
      await page.fill('#email', EMAIL);
      await submit(page);
      await nextMail(EMAIL, 1);
      expect(smtp.to('nobody-here@example.com')).toEqual([]);
    });

    it('shows a clear page for an expired link, and the way to a new one', async () => {
      const page = await (await browser()).newPage();
      const mailedBefore = smtp.to(EMAIL).length;
      await page.goto(`${dev.url}/forgot-password`);
      await page.fill('#email', EMAIL);
      await submit(page);
      expect(new URL(page.url()).pathname, page.url()).toBe('/check-email');
      const mail = await nextMail(EMAIL, mailedBefore);
      const link = /https?:\/\/[^\s]+\/auth\/verify\?token=[A-Za-z0-9_-]{43}/.exec(mail.text)![0];
      const token = new URL(link).searchParams.get('token')!;
      const pool = new pg.Pool({ connectionString: db.url, max: 1 });
      try {
        await pool.query(`update rolegate.email_tokens set expires_at = now() - interval '1 second' where token_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')`, [token]);
      } finally {
        await pool.end();
      }
      const response = await page.goto(`${dev.url}/auth/verify?token=${token}`);
      expect(response?.status()).toBe(410);
      expect(await page.textContent('h1')).toBe('This link has expired');
      expect(await page.getAttribute('a[href="/forgot-password"]', 'href')).toBe('/forgot-password');
    });

    it('shows a clear page for a tampered link', async () => {
      const page = await (await browser()).newPage();
      const response = await page.goto(`${dev.url}/auth/verify?token=${'A'.repeat(43)}`);
      expect(response?.status()).toBe(400);
      expect(await page.textContent('h1')).toBe('This link does not work');
    });
  });
}
