import GoTrue from 'gotrue-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../../src/site-config/account-settings.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { serveHandler, type HandlerServer } from '../auth/handler-server.js';
import { makeDeps, makeUser, PASSWORD } from '../auth/support.js';

let store: Store;
let server: HandlerServer;
beforeAll(async () => {
  store = await openEmbeddedStore({ dataDir: 'memory://' });
  const accounts = { ...DEFAULT_ACCOUNT_SETTINGS, registration: 'open' as const, identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled: true } };
  const deps = { ...makeDeps(store), accounts, kickMail: async () => {} };
  server = await serveHandler(identityApiHandler(async () => deps));
});
afterAll(async () => { await server.close(); await store.close(); });

it('gotrue-js logs in, reads the user, refreshes and logs out', async () => {
  const user = await makeUser(store, ['admin']);
  const auth = new GoTrue({ APIUrl: `${server.origin}/auth/identity` });
  const settings = await auth.settings();
  expect(settings.disable_signup).toBe(false);
  const signedIn = await auth.login(user.email, PASSWORD);
  expect(signedIn.email).toBe(user.email);
  expect(signedIn.app_metadata.roles).toEqual(['admin']);
  const first = signedIn.tokenDetails()!.refresh_token;
  await signedIn.jwt(true);
  expect(signedIn.tokenDetails()!.refresh_token).not.toBe(first);
  const listed = await signedIn.admin.listUsers('');
  expect(JSON.stringify(listed)).toContain(user.email);
  await signedIn.logout();
});
