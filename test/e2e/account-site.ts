/**
 * The one starter site the account flows' browser tests share: copied, built and served by
 * `netlify dev` once (starting it is most of each flow's time), against a fresh PostgreSQL,
 * a real SMTP server in the test process that captures what the site mails, and the two
 * sign-in providers of the starter's login page: a real OpenID Connect server (oidc-provider)
 * as "Example SSO" and a GitHub Enterprise Server stand-in as GitHub. Each flow seeds its own
 * users, with addresses no other flow uses.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildRedirects } from '../../src/gates/build.js';
import { loadGateConfig } from '../../src/gates/compile.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, type BrowserSession } from '../support/browser.js';
import { copySite, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { startSmtpCapture, type CapturedMail, type SmtpCapture } from '../support/smtp-capture.js';
import { freePort } from '../support/postgres-cluster.js';
import { startOidcServer, type OidcAccount, type OidcServer } from '../fixtures/providers/oidc-server.js';
import { startGitHubStandin, type GitHubAccount, type GitHubStandin } from '../fixtures/providers/github-standin.js';

/** Who can sign in at the providers: at the SSO, by login name; at GitHub, by login. */
export const SSO_ACCOUNTS: Record<string, OidcAccount> = {
  newcomer: { sub: 'sso-newcomer', email: 'sso.newcomer@example.com', email_verified: true, name: 'New Comer' },
  unverified: { sub: 'sso-unverified', email: 'sso.unverified@example.com', email_verified: false },
};
export const GITHUB_ACCOUNTS: GitHubAccount[] = [
  { id: 5801, login: 'octo-admin', emails: [{ email: 'octo.admin@example.com', primary: true, verified: true }] },
];
const SSO_CLIENT = { client_id: 'starter-sso', client_secret: 'starter-sso-secret-0123456789' };
const GITHUB_CLIENT = { client_id: 'starter-github', client_secret: 'starter-github-secret-0123456789' };

export interface AccountSite {
  db: TestDatabase;
  site: ReturnType<typeof copySite>;
  dev: NetlifyDev;
  smtp: SmtpCapture;
  sso: OidcServer;
  github: GitHubStandin;
}

export async function startAccountSite(): Promise<AccountSite> {
  const smtp = await startSmtpCapture();
  const db = await createTestDatabase();
  const site = copySite();
  // The providers must know the site's redirect URIs, so its port is chosen first.
  const port = await freePort();
  const callback = (id: string) => `http://localhost:${port}/auth/provider/${id}/callback`;
  const sso = await startOidcServer({ clients: [{ ...SSO_CLIENT, redirect_uris: [callback('sso')], token_endpoint_auth_method: 'client_secret_post' }], accounts: SSO_ACCOUNTS });
  const github = await startGitHubStandin({ clients: [{ ...GITHUB_CLIENT, redirect_uris: [callback('github')] }], accounts: GITHUB_ACCOUNTS });
  // The starter's two providers, pointed at them: GitHub as an Enterprise Server at its URL, the SSO by its issuer.
  const configPath = join(site.root, 'rolegate.config.json');
  const raw = JSON.parse(readFileSync(configPath, 'utf8')) as { providers: Array<{ type: string; id?: string }> };
  raw.providers = raw.providers.map((p) => (p.type === 'github' ? { ...p, url: github.url } : { ...p, issuer: sso.issuer }));
  writeFileSync(configPath, JSON.stringify(raw, null, 2));
  const { config } = loadGateConfig(readFileSync(configPath, 'utf8'));
  await buildRedirects({ siteRoot: site.root, config });
  const dev = await startNetlifyDev({
    DATABASE_URL: db.url, BCRYPT_COST: '10', SMTP_URL: smtp.url, MAIL_FROM: 'Starter <no-reply@example.com>',
    GITHUB_CLIENT_ID: GITHUB_CLIENT.client_id, GITHUB_CLIENT_SECRET: GITHUB_CLIENT.client_secret,
    SSO_CLIENT_ID: SSO_CLIENT.client_id, SSO_CLIENT_SECRET: SSO_CLIENT.client_secret,
  }, site.root, port);
  return { db, site, dev, smtp, sso, github };
}

export async function stopAccountSite(shared: AccountSite | undefined): Promise<void> {
  await shared?.dev.stop();
  shared?.site.remove();
  await shared?.db.drop();
  await shared?.smtp.stop();
  await shared?.sso.close();
  await shared?.github.close();
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
