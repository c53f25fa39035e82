/**
 * The account flows in a real browser, on one shared starter site (test/e2e/account-site.ts):
 * the account page, forgot password, sign-up and invitations, sign-in with a provider, the
 * admin page (test/e2e/flows/). One `netlify dev` serves them all, since starting it is most of each
 * flow's time.
 */
import { afterAll, beforeAll } from 'vitest';
import { startAccountSite, stopAccountSite, type AccountSite } from './account-site.js';
import { describeAccountPage } from './flows/account-page.js';
import { describeRecovery } from './flows/recovery.js';
import { describeSignupInvite } from './flows/signup-invite.js';
import { describeProviders } from './flows/providers.js';
import { describeAdminPage } from './flows/admin-page.js';

let shared: AccountSite | undefined;
beforeAll(async () => {
  shared = await startAccountSite();
}, 120_000);
afterAll(() => stopAccountSite(shared));

const site = () => {
  if (!shared) throw new Error('the shared account site did not start');
  return shared;
};
describeAccountPage(site);
describeRecovery(site);
describeSignupInvite(site);
describeProviders(site);
describeAdminPage(site);
