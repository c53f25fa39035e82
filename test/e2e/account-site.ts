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
import { copySite, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.js';

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
