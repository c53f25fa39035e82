/**
 * The one starter site the account flows' browser tests share: copied, built and served by
 * `netlify dev` once (starting it is most of each flow's time), against a fresh PostgreSQL
 * and a real SMTP server in the test process that captures what the site mails. Each flow
 * seeds its own users, with addresses no other flow uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildRedirects } from '../../src/gates/build.js';
import { loadGateConfig } from '../../src/gates/compile.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, type BrowserSession } from '../support/browser.js';
import { copySite, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { startSmtpCapture, type CapturedMail, type SmtpCapture } from '../support/smtp-capture.js';

export interface AccountSite {
  db: TestDatabase;
  site: ReturnType<typeof copySite>;
  dev: NetlifyDev;
  smtp: SmtpCapture;
}

export async function startAccountSite(): Promise<AccountSite> {
  const smtp = await startSmtpCapture();
  const db = await createTestDatabase();
  const site = copySite();
  const { config } = loadGateConfig(readFileSync(join(site.root, 'rolegate.config.json'), 'utf8'));
  await buildRedirects({ siteRoot: site.root, config });
  const dev = await startNetlifyDev({ DATABASE_URL: db.url, BCRYPT_COST: '10', SMTP_URL: smtp.url, MAIL_FROM: 'Starter <no-reply@example.com>' }, site.root);
  return { db, site, dev, smtp };
}

export async function stopAccountSite(shared: AccountSite | undefined): Promise<void> {
  await shared?.dev.stop();
  shared?.site.remove();
  await shared?.db.drop();
  await shared?.smtp.stop();
}

/** Browser contexts with JavaScript off, opened as a flow needs them and closed together in its afterAll. */
export function browserPool(): { context(): Promise<BrowserContext>; closeAll(): Promise<void> } {
  const open: BrowserSession[] = [];
  return {
    async context() {
      const session = await openBrowser({ javaScriptEnabled: false });
      open.push(session);
      return session.context;
    },
    async closeAll() {
      for (const session of open.splice(0)) await session.close();
    },
  };
}

/** Clicks the submit button of `form` and waits for the page the post leads to. */
export async function submit(page: Page, form = 'form'): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.click(`${form} button[type=submit]`)]);
}

/** The mail the site sent to `address` after `count` earlier ones, waited for as it travels the outbox. */
export async function nextMail(shared: AccountSite, address: string, count: number): Promise<CapturedMail> {
  const deadline = Date.now() + 30_000;
  while (shared.smtp.to(address).length <= count) {
    if (Date.now() > deadline) throw new Error(`no mail to ${address} within 30 s\n${shared.dev.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return shared.smtp.to(address)[count]!;
}
