/**
 * Sign-in through a provider, sent as the requests a browser (and an attacker) would send to
 * the provider function: against a real OpenID Connect server (oidc-provider, in this process)
 * and a stand-in for GitHub's OAuth app flow and REST API, over the embedded store. Every
 * refusal is a page, and changes nothing: no user, no identity, no session.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { HandlerResponse } from '@netlify/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountHandler } from '../../src/auth/account-handlers.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { providerHandler } from '../../src/auth/provider-handler.js';
import { verifyAccessToken } from '../../src/core/access-token.js';
import { Secret } from '../../src/core/secret.js';
import { providerClientsFromEnv } from '../../src/providers/from-env.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import type { ProviderSettings } from '../../src/site-config/provider-settings.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store } from '../../src/store/store.js';
import { startGitHubStandin, type GitHubStandin } from '../fixtures/providers/github-standin.js';
import { startOidcServer, type OidcServer } from '../fixtures/providers/oidc-server.js';
import { uniqueEmail } from '../store/contract.js';
import { SECRET, SITE, event, makeDeps, makeUser, setCookies } from './support.js';

const STATE_COOKIE = '__Host-rolegate_provider';
const CLIENT = { client_id: 'rolegate-site', client_secret: 'a client secret of the site' };
const ENV = { ACME_CLIENT_ID: CLIENT.client_id, ACME_CLIENT_SECRET: CLIENT.client_secret, GITHUB_CLIENT_ID: CLIENT.client_id, GITHUB_CLIENT_SECRET: CLIENT.client_secret };

const newcomer = uniqueEmail('newcomer');
const member = uniqueEmail('member');
const unverified = uniqueEmail('unverified');
const octocat = uniqueEmail('octocat');

let store: Store;
let deps: AuthDeps;
let oidc: OidcServer;
let github: GitHubStandin;
let handler: ReturnType<typeof providerHandler>;
const sql = (text: string, values: unknown[] = []) => (store as unknown as { db: { db: PGlite } }).db.db.query<Record<string, unknown>>(text, values);
const count = async (table: string) => Number((await sql(`select count(*)::int as n from rolegate.${table}`)).rows[0]!.n);

function settings(providers: ProviderSettings[], over: Partial<AccountSettings> = {}): AccountSettings {
  return { ...DEFAULT_ACCOUNT_SETTINGS, registration: 'open', newUserRoles: ['member'], providers, identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled: true }, ...over };
}

beforeAll(async () => {
  oidc = await startOidcServer({
    clients: [{ ...CLIENT, redirect_uris: [`${SITE}/auth/provider/acme/callback`] }],
    accounts: {
      newcomer: { sub: 'acme-newcomer', email: newcomer, email_verified: true },
      member: { sub: 'acme-member', email: member, email_verified: true },
      unverified: { sub: 'acme-unverified', email: unverified, email_verified: false },
    },
  });
  github = await startGitHubStandin({
    clients: [{ ...CLIENT, redirect_uris: [`${SITE}/auth/provider/github/callback`] }],
    accounts: [
      { id: 583231, login: 'octocat', emails: [{ email: octocat, primary: true, verified: true }] },
      { id: 99, login: 'squatter', emails: [{ email: member, primary: true, verified: false }, { email: 'other@example.com', primary: false, verified: true }] },
    ],
  });
  const providers: ProviderSettings[] = [
    { id: 'acme', kind: 'oidc', name: 'Acme', issuer: oidc.issuer, clientIdEnv: 'ACME_CLIENT_ID', clientSecretEnv: 'ACME_CLIENT_SECRET', scopes: ['openid', 'email', 'profile'] },
    { id: 'github', kind: 'github', name: 'GitHub', webUrl: github.url, apiUrl: `${github.url}/api/v3`, clientIdEnv: 'GITHUB_CLIENT_ID', clientSecretEnv: 'GITHUB_CLIENT_SECRET', scopes: ['user:email', 'read:user'] },
  ];
  store = await openEmbeddedStore({ dataDir: 'memory://' });
  deps = { ...makeDeps(store), accounts: settings(providers) };
  handler = providerHandler(async () => deps, providerClientsFromEnv(ENV, providers));
}, 30_000);
afterAll(async () => {
  await store?.close();
  await oidc?.close();
  await github?.close();
});

const get = (path: string, query = '', cookies: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  handler(event({ method: 'GET', path, query, cookies, headers, origin: null }));

/** The sealed state a response sets, or undefined. */
function stateCookieOf(response: HandlerResponse): string | undefined {
  const set = setCookies(response).find((c) => c.startsWith(`${STATE_COOKIE}=`));
  return set ? decodeURIComponent(set.split(';')[0]!.slice(STATE_COOKIE.length + 1)) : undefined;
}

/** A started sign-in: where the browser goes, and the cookie it keeps. */
async function begin(provider: string, query = 'next=%2Fmembers%2F') {
  const started = await get(`/auth/provider/${provider}`, query);
  expect(started.statusCode).toBe(303);
  const cookie = stateCookieOf(started);
  expect(cookie).toBeTruthy();
  return { location: String(started.headers!.Location), cookie: cookie!, started };
}

/** The provider's redirect back, sent to the callback with `cookie`. */
async function callback(redirectedTo: string, cookie: string | undefined) {
  const url = new URL(redirectedTo);
  return get(url.pathname, url.search.slice(1), cookie === undefined ? {} : { [STATE_COOKIE]: cookie });
}

async function signIn(provider: 'acme' | 'github', login: string, query?: string) {
  const { location, cookie } = await begin(provider, query);
  const back = provider === 'acme' ? await oidc.authorize(location, login) : await github.authorize(location, login);
  return callback(back, cookie);
}

const errorCode = (response: HandlerResponse) => response.headers?.['X-Rolegate-Error'];
const accessClaims = (response: HandlerResponse) => {
  const set = setCookies(response).find((c) => c.startsWith('nf_jwt='));
  return verifyAccessToken(set!.split(';')[0]!.slice('nf_jwt='.length), { secrets: [new Secret(SECRET)], issuer: deps.config.jwtIssuer, now: deps.now() });
};

/** Runs `attempt` and expects a refusal page with `code` that changed no user, identity or session. */
async function refusedWithoutChange(code: string, status: number, attempt: () => Promise<HandlerResponse>) {
  const before = [await count('users'), await count('identities'), await count('sessions')];
  const response = await attempt();
  expect([response.statusCode, errorCode(response)]).toEqual([status, code]);
  expect(response.headers?.['Content-Type']).toMatch(/^text\/html/);
  expect(response.body).toContain('Back to sign in');
  expect(setCookies(response).some((c) => c.startsWith(`${STATE_COOKIE}=;`))).toBe(true);
  expect(setCookies(response).some((c) => c.startsWith('nf_jwt='))).toBe(false);
  expect([await count('users'), await count('identities'), await count('sessions')]).toEqual(before);
  return response;
}

describe('provider sign-in: the flow', () => {
  it('starts with PKCE S256, a state and a nonce in a sealed HttpOnly SameSite=Lax cookie, and writes nothing', async () => {
    const before = await count('used_provider_states');
    const { location, cookie, started } = await begin('acme');
    const url = new URL(location);
    expect(url.origin).toBe(oidc.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toBe(`${SITE}/auth/provider/acme/callback`);
    expect(url.searchParams.get('state')).toMatch(/^[\w-]{43}$/u);
    expect(url.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/u);
    expect(url.searchParams.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'email']));
    expect(cookie).not.toContain(url.searchParams.get('state'));
    expect(setCookies(started)[0]).toMatch(/HttpOnly/);
    expect(setCookies(started)[0]).toMatch(/SameSite=Lax/);
    expect(setCookies(started)[0]).toMatch(/Path=\//);
    expect(started.headers?.['Referrer-Policy']).toBe('no-referrer');
    expect(await count('used_provider_states')).toBe(before);
  });

  it('makes a new user with the new-user roles, signs them in with rolegate\'s own cookies, and signs the same identity in again', async () => {
    const first = await signIn('acme', 'newcomer');
    expect([first.statusCode, first.headers?.Location]).toEqual([303, '/members/']);
    const names = setCookies(first).map((c) => c.split('=')[0]);
    expect(names).toEqual(expect.arrayContaining(['nf_jwt', '__Host-rolegate_refresh', 'rolegate_session', STATE_COOKIE]));
    const claims = await accessClaims(first);
    expect(claims.email).toBe(newcomer);
    expect(claims.app_metadata.authorization.roles).toEqual(['member']);
    const user = await store.findUserByEmail(newcomer);
    expect(user?.emailConfirmedAt).toBeTruthy();
    expect((await store.findUserForLogin(newcomer))?.passwordHash).toBeNull();

    const again = await signIn('acme', 'newcomer');
    expect(again.statusCode).toBe(303);
    expect((await accessClaims(again)).sub).toBe(user!.id);
    expect((await store.listIdentities(user!.id)).map((i) => i.provider)).toEqual(['acme']);
  });

  it('links an existing account through the provider\'s verified address, keeping its roles and password', async () => {
    const existing = await makeUser(store, ['editor'], member);
    const response = await signIn('acme', 'member');
    expect(response.statusCode).toBe(303);
    expect((await accessClaims(response)).sub).toBe(existing.id);
    expect((await accessClaims(response)).app_metadata.authorization.roles).toEqual(['editor']);
    expect((await store.findUserForLogin(member))?.passwordHash).toBeTruthy();
  });

  it('signs in with GitHub by its numeric user id and verified primary address', async () => {
    const response = await signIn('github', 'octocat', 'next=%2Faccount');
    expect([response.statusCode, response.headers?.Location]).toEqual([303, '/account']);
    const user = await store.findUserByEmail(octocat);
    expect((await store.listIdentities(user!.id))[0]).toMatchObject({ provider: 'github', email: octocat });
    expect((await sql("select subject from rolegate.identities where provider = 'github' and user_id = $1", [user!.id])).rows).toEqual([{ subject: '583231' }]);
    expect(github.requests.map((r) => r.path)).toEqual(expect.arrayContaining(['/login/oauth/access_token', '/api/v3/user', '/api/v3/user/emails']));
  });

  it('returns only to a same-site path: any other next becomes "/"', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/%2F%2Fevil.example']) {
      const response = await signIn('acme', 'newcomer', `next=${encodeURIComponent(next)}`);
      expect([response.statusCode, response.headers?.Location]).toEqual([303, '/']);
    }
  });

  it('takes next from the sign-in page that sent a form without scripts', async () => {
    const started = await get('/auth/provider/acme', 'next=', {}, { referer: `${SITE}/login?next=%2Fadmin%2Freports` });
    const back = await oidc.authorize(String(started.headers!.Location), 'newcomer');
    const response = await callback(back, stateCookieOf(started));
    expect(response.headers?.Location).toBe('/admin/reports');
    const foreign = await get('/auth/provider/acme', '', {}, { referer: 'https://evil.example/login?next=%2Fadmin%2F' });
    const elsewhere = await callback(await oidc.authorize(String(foreign.headers!.Location), 'newcomer'), stateCookieOf(foreign));
    expect(elsewhere.headers?.Location).toBe('/');
  });
});

describe('provider sign-in: what an attacker sends is refused with a page, and changes nothing', () => {
  it('a callback without the state cookie, with another sign-in\'s cookie, or with a cookie altered, expired or for another provider', async () => {
    const { location, cookie } = await begin('acme');
    const back = await oidc.authorize(location, 'newcomer');
    await refusedWithoutChange('provider_state_invalid', 400, () => callback(back, undefined));
    const other = await begin('acme');
    await refusedWithoutChange('provider_state_invalid', 400, () => callback(back, other.cookie));
    const flipped = `${cookie.slice(0, -3)}${cookie.at(-3) === 'A' ? 'B' : 'A'}${cookie.slice(-2)}`;
    await refusedWithoutChange('provider_state_invalid', 400, () => callback(back, flipped));
    const github = await begin('github');
    await refusedWithoutChange('provider_state_invalid', 400, () => callback(back.replace('/acme/', '/github/'), cookie));
    await refusedWithoutChange('provider_state_invalid', 400, () => callback(back, github.cookie));
    const later = { ...deps, now: () => deps.now() + 601 };
    await refusedWithoutChange('provider_state_invalid', 400, () => {
      const url = new URL(back);
      return providerHandler(async () => later, providerClientsFromEnv(ENV, deps.accounts!.providers))(event({ method: 'GET', path: url.pathname, query: url.search.slice(1), cookies: { [STATE_COOKIE]: cookie }, origin: null }));
    });
    // The sign-in itself was untouched by all of that.
    expect((await callback(back, cookie)).statusCode).toBe(303);
  });

  it('a replayed callback, and a state used a second time with a fresh code', async () => {
    const { location, cookie } = await begin('acme');
    const back = await oidc.authorize(location, 'newcomer');
    expect((await callback(back, cookie)).statusCode).toBe(303);
    await refusedWithoutChange('provider_failed', 400, () => callback(back, cookie));
    // The provider hands out a new code for the same authorization request; its state was used.
    const again = await oidc.authorize(location, 'newcomer');
    await refusedWithoutChange('provider_state_invalid', 400, () => callback(again, cookie));
  });

  it('a code from another sign-in (PKCE binds it to its own verifier)', async () => {
    const victim = await begin('acme');
    const stolen = new URL(await oidc.authorize(victim.location, 'newcomer'));
    const attacker = await begin('acme');
    const attackerState = new URL(attacker.location).searchParams.get('state')!;
    stolen.searchParams.set('state', attackerState);
    await refusedWithoutChange('provider_failed', 400, () => callback(stolen.href, attacker.cookie));
  });

  it.each([
    ['another audience', { claims: { aud: 'someone-else' } }],
    ['another issuer', { claims: { iss: 'https://evil.example' } }],
    ['a wrong nonce', { claims: { nonce: 'not-the-one-sent' } }],
    ['an expired token', { claims: { exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 1200 } }],
    ['a signature by another key with the same kid', { foreignKey: true }],
  ])('an ID token for %s', async (_what, tamper) => {
    const { location, cookie } = await begin('acme');
    const back = await oidc.authorize(location, 'newcomer');
    oidc.tamper(tamper);
    try {
      await refusedWithoutChange('provider_failed', 400, () => callback(back, cookie));
    } finally {
      oidc.tamper(undefined);
    }
  });

  it('an unverified address, at an OpenID Connect provider or as GitHub\'s primary, never links to or makes an account', async () => {
    await makeUser(store, ['admin'], unverified);
    await refusedWithoutChange('provider_email_unverified', 403, () => signIn('acme', 'unverified'));
    await refusedWithoutChange('provider_email_unverified', 403, () => signIn('github', 'squatter'));
    expect(await store.listIdentities((await store.findUserByEmail(member))!.id)).toEqual([expect.objectContaining({ provider: 'acme' })]);
  });

  it('the visitor turning the sign-in down at the provider', async () => {
    const { location, cookie } = await begin('github');
    const url = new URL(location);
    const denied = `${url.searchParams.get('redirect_uri')}?error=access_denied&state=${url.searchParams.get('state')}`;
    await refusedWithoutChange('provider_denied', 403, () => callback(denied, cookie));
  });

  it('a new user while registration is closed or the domain is not allowed; an existing user still signs in', async () => {
    const closed = { ...deps, accounts: { ...deps.accounts!, registration: 'invite' as const } };
    const closedHandler = providerHandler(async () => closed, providerClientsFromEnv(ENV, deps.accounts!.providers));
    const email = uniqueEmail('closed');
    const gh = await startGitHubStandin({ clients: [{ ...CLIENT, redirect_uris: [`${SITE}/auth/provider/github/callback`] }], accounts: [{ id: 7, login: 'late', emails: [{ email, primary: true, verified: true }] }] });
    try {
      const providers = deps.accounts!.providers.map((p) => (p.id === 'github' ? { ...p, webUrl: gh.url, apiUrl: `${gh.url}/api/v3` } : p));
      const via = (accounts: AccountSettings) => providerHandler(async () => ({ ...deps, accounts: { ...accounts, providers } }), providerClientsFromEnv(ENV, providers));
      const attempt = async (h: ReturnType<typeof providerHandler>) => {
        const started = await h(event({ method: 'GET', path: '/auth/provider/github', origin: null }));
        const back = new URL(await gh.authorize(String(started.headers!.Location), 'late'));
        return h(event({ method: 'GET', path: back.pathname, query: back.search.slice(1), cookies: { [STATE_COOKIE]: stateCookieOf(started)! }, origin: null }));
      };
      const invite = await refusedWithoutChange('signup_disabled', 403, () => attempt(via(closed.accounts)));
      expect(invite.body).toContain('by invitation only');
      await refusedWithoutChange('email_not_allowed', 403, () => attempt(via({ ...deps.accounts!, allowedDomains: ['staff.example'] })));
      expect(await store.findUserByEmail(email)).toBeNull();
    } finally {
      await gh.close();
    }
    expect((await (async () => {
      const started = await closedHandler(event({ method: 'GET', path: '/auth/provider/acme', origin: null }));
      const back = new URL(await oidc.authorize(String(started.headers!.Location), 'newcomer'));
      return closedHandler(event({ method: 'GET', path: back.pathname, query: back.search.slice(1), cookies: { [STATE_COOKIE]: stateCookieOf(started)! }, origin: null }));
    })()).statusCode).toBe(303);
  });

  it('a disabled user', async () => {
    const user = await store.findUserByEmail(octocat);
    await store.setUserDisabled(user!.id, true);
    try {
      await refusedWithoutChange('invalid_credentials', 401, () => signIn('github', 'octocat'));
    } finally {
      await store.setUserDisabled(user!.id, false);
    }
  });

  it('an unknown provider, another method, and a provider whose variables are unset', async () => {
    expect(errorCode(await get('/auth/provider/facebook'))).toBe('not_found');
    expect(errorCode(await get('/auth/provider/acme/other'))).toBe('not_found');
    expect((await get('/auth/provider/'))?.statusCode).toBe(404);
    const post = await handler(event({ method: 'POST', path: '/auth/provider/acme', origin: SITE }));
    expect([post.statusCode, post.headers?.Allow]).toEqual([405, 'GET']);
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      const unset = providerHandler(async () => deps, providerClientsFromEnv({ ACME_CLIENT_ID: 'x' }, deps.accounts!.providers));
      const response = await unset(event({ method: 'GET', path: '/auth/provider/acme', origin: null }));
      expect([response.statusCode, errorCode(response)]).toEqual([502, 'provider_unavailable']);
      expect(response.body).not.toContain('ACME_CLIENT_SECRET');
    } finally {
      console.error = original;
    }
    expect(errors.join('\n')).toContain('ACME_CLIENT_SECRET');
  });
});

describe('provider sign-in: the account page and the Identity API', () => {
  it('lists a user\'s linked providers, and keeps the last way to sign in and refuses an unlink posted from another site', async () => {
    const signedIn = await signIn('github', 'octocat');
    const access = setCookies(signedIn).find((c) => c.startsWith('nf_jwt='))!.split(';')[0]!.slice('nf_jwt='.length);
    const account = accountHandler(async () => deps);
    const listed = await account(event({ method: 'GET', path: '/auth/account', cookies: { nf_jwt: access }, origin: null }));
    expect(listed.statusCode).toBe(200);
    const { identities, providers } = JSON.parse(listed.body!);
    expect(providers).toEqual([{ id: 'acme', name: 'Acme' }, { id: 'github', name: 'GitHub' }]);
    expect(identities).toEqual([expect.objectContaining({ provider: 'github', email: octocat })]);
    const unlink = (identity: string, origin = SITE) => account(event({ path: '/auth/account', cookies: { nf_jwt: access }, form: { action: 'unlink', identity }, origin }));
    expect((await unlink(identities[0].id, 'https://evil.example')).statusCode).toBe(403);
    const last = await unlink(identities[0].id);
    expect([last.statusCode, last.headers?.Location]).toEqual([303, '/account?error=last_sign_in_method']);
    expect((await account(event({ method: 'GET', path: '/auth/account', origin: null }))).statusCode).toBe(401);
  });

  it('names the configured providers in /settings and signs in through /authorize with the tokens in the fragment', async () => {
    const api = identityApiHandler(async () => deps);
    const settingsAnswer = await api(event({ method: 'GET', path: '/auth/identity/settings', origin: null }));
    expect(JSON.parse(settingsAnswer.body!).external).toMatchObject({ github: true, google: false, gitlab: false, email: true });
    const authorize = await api(event({ method: 'GET', path: '/auth/identity/authorize', query: 'provider=github', origin: null }));
    expect([authorize.statusCode, authorize.headers?.Location]).toEqual([303, '/auth/provider/github?identity=1']);
    const unsupported = await api(event({ method: 'GET', path: '/auth/identity/authorize', query: 'provider=bitbucket', origin: null }));
    expect(unsupported.statusCode).toBe(400);

    const { location, cookie } = await begin('github', 'identity=1');
    const response = await callback(await github.authorize(location, 'octocat'), cookie);
    expect(response.statusCode).toBe(303);
    const [page, fragment] = String(response.headers?.Location).split('#');
    expect(page).toBe('/');
    const tokens = new URLSearchParams(fragment);
    expect(tokens.get('token_type')).toBe('bearer');
    expect(Number(tokens.get('expires_in'))).toBeGreaterThan(0);
    expect(tokens.get('refresh_token')).toBeTruthy();
    expect((await verifyAccessToken(tokens.get('access_token')!, { secrets: [new Secret(SECRET)], issuer: deps.config.jwtIssuer, now: deps.now() })).email).toBe(octocat);
    expect(setCookies(response).map((c) => c.split('=')[0])).toEqual([STATE_COOKIE]);

    const off = { ...deps, accounts: { ...deps.accounts!, identityApi: { ...deps.accounts!.identityApi, enabled: false } } };
    const offHandler = providerHandler(async () => off, providerClientsFromEnv(ENV, deps.accounts!.providers));
    const refused = await offHandler(event({ method: 'GET', path: '/auth/provider/github', query: 'identity=1', origin: null }));
    expect([refused.statusCode, errorCode(refused)]).toEqual([404, 'not_found']);
  });
});
