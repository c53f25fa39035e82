/**
 * PENDING (not run: vitest takes *.test.ts only; copy to gotrue-js-pending.test.ts to run it).
 * gotrue-js against the Identity-compatible API: what fails today because of src/, not the test.
 *
 * 1. POST /signup {email, password, data} with a confirmation asked (requireConfirmation, the
 *    default) drops `data`: signUpUser (src/auth/identity-api.ts) stores it only when signUp
 *    answers `created`, which it never does when a confirmation is mailed (`mailed`). The
 *    answer says user_metadata {} and rolegate.users.user_metadata stays {} after the
 *    confirmation. gotrue saves `data` as user_metadata at sign-up (a new address) and answers
 *    with it; Identity's widget sends {full_name} this way.
 * 2. PUT /user {email_change_token} (what gotrue-js's user.update and @netlify/identity's
 *    verifyEmailChange send) goes through useMailedLink, whose change_email_with_token starts
 *    a new session (start_link_session, audit `login_succeeded` via email_change) whose tokens
 *    PUT /user throws away: a live session nobody holds, and a sign-in in the audit log that
 *    never happened. gotrue changes the address in the caller's session and starts none.
 * 3. PUT /user {email} answers the user without `new_email` (gotrue sets new_email and
 *    email_change_sent_at until the change is confirmed); gotrue-js's User declares new_email
 *    and @netlify/identity maps it to `pendingEmail`.
 */
import GoTrue from 'gotrue-js';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { AuthDeps } from '../../src/auth/deps.js';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { Secret } from '../../src/core/secret.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { serveHandler, type HandlerServer } from '../auth/handler-server.js';
import { makeDeps, makeUser, PASSWORD, SECRET } from '../auth/support.js';
import { uniqueEmail } from '../store/contract.js';
import { openTestStore, type TestStore } from '../support/databases.js';

const ACCOUNTS: AccountSettings = {
  ...DEFAULT_ACCOUNT_SETTINGS,
  registration: 'open',
  requireConfirmation: true,
  newUserRoles: ['member'],
  identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled: true },
};

let db: TestStore;
let server: HandlerServer;
beforeAll(async () => {
  db = await openTestStore();
  const deps: AuthDeps = { ...makeDeps(db.store), accounts: ACCOUNTS, kickMail: async () => {} };
  server = await serveHandler(identityApiHandler(async () => deps));
});
afterAll(async () => {
  await server?.close();
  await db?.close();
});

function gotrue(): GoTrue {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    return new GoTrue({ APIUrl: `${server.origin}/auth/identity` });
  } finally {
    warn.mockRestore();
  }
}

async function mailedToken(email: string, key: string): Promise<string> {
  const { rows } = await db.sql.query<{ sealed: string }>(
    'update rolegate.mail_outbox set sent_at = now() where recipient = $1 and sent_at is null and sealed is not null returning sealed', [email]);
  expect(rows).toHaveLength(1);
  const url = new URL((JSON.parse(openMailSecret([new Secret(SECRET)], rows[0]!.sealed)!) as { url: string }).url);
  return new URLSearchParams(url.hash.slice(1)).get(key)!;
}

const metadataOf = async (email: string) =>
  (await db.sql.query<{ user_metadata: unknown }>('select user_metadata from rolegate.users where email = $1', [email])).rows[0]?.user_metadata;

it('1. keeps the sign-up\'s data as user_metadata when a confirmation is asked', async () => {
  const email = uniqueEmail('signup-data');
  const auth = gotrue();
  const signedUp = await auth.signup(email, PASSWORD, { full_name: 'Ada Lovelace' });
  expect(signedUp.user_metadata).toEqual({ full_name: 'Ada Lovelace' }); // today: {}
  expect(await metadataOf(email)).toEqual({ full_name: 'Ada Lovelace' }); // today: {}
  const user = await auth.confirm(await mailedToken(email, 'confirmation_token'));
  expect(user.user_metadata).toEqual({ full_name: 'Ada Lovelace' }); // today: {}
});

it('2. an address change by email_change_token starts no second session', async () => {
  const account = await makeUser(db.store);
  const user = await gotrue().login(account.email, PASSWORD);
  const newEmail = uniqueEmail('moved');
  await user.update({ email: newEmail });
  await user.update({ email_change_token: await mailedToken(newEmail, 'email_change_token') });
  const { rows } = await db.sql.query<{ id: string }>('select id from rolegate.sessions where user_id = $1 and revoked_at is null', [account.id]);
  expect(rows).toHaveLength(1); // today: 2, the second one started "via email_change" and held by nobody
});

it('3. the user answered after PUT /user {email} names the pending address (new_email)', async () => {
  const account = await makeUser(db.store);
  const user = await gotrue().login(account.email, PASSWORD);
  const newEmail = uniqueEmail('pending');
  const asked = await user.update({ email: newEmail });
  expect(asked.email).toBe(account.email);
  expect(asked.new_email).toBe(newEmail); // today: undefined
});
