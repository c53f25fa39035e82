/**
 * What identity-api-fuzz.test.ts found wrong in the Identity-compatible API, each sent again
 * as the request that showed it (now answered as it should be). The fuzz file sends these
 * input classes too (FUZZ_FOUND_BUGS).
 *
 * 1. `id-escape`: a malformed %-escape in /admin/users/:id (`%`, `%zz`) is answered 500:
 *    routeOf (src/auth/identity-api-handler.ts) calls decodeURIComponent on the id, which throws
 *    URIError, before anything else, so without any token too. Shrunk counterexample: GET
 *    /auth/identity/admin/users/% with no Authorization → 500 internal ("rolegate: unexpected
 *    URIError: URI malformed" logged). Now: 404 not_found, as for any id that is no UUID.
 * 2. `metadata-nul`: user_metadata with U+0000 or a lone surrogate anywhere (a key or a value,
 *    nested or not) passes metadataPatch (src/auth/identity-api.ts) and is refused by
 *    PostgreSQL's jsonb ("unsupported Unicode escape sequence", "invalid input syntax for type
 *    json"): 500 from PUT /user {data}, POST /signup {data}, POST /admin/users {user_metadata},
 *    PUT /admin/users/:id {user_metadata}; the last has already set the roles it was sent
 *    (adminUpdateUser: setUserRoles, then updateUserMetadata), so a 500 that changed the
 *    account. Shrunk counterexamples: PUT /user {"data":{"full_name":"\ud800"}}; POST /signup
 *    {"email":"new0@elsewhere.example","password":"a brand new passphrase","data":{"full_name":"\u0000"}};
 *    POST /admin/users {"email":"member@fuzz.example","data":{"full_name":"\u0000"}} (500, not
 *    409); PUT /admin/users/<id> {"app_metadata":{},"user_metadata":{"full_name":"\u0000"}}.
 *    Expected: 400 bad_request before any write (login and requestedAddress already refuse
 *    U+0000 for the same reason).
 * 3. `put-user-writes`: PUT /user is documented "Everything is checked before anything
 *    changes", but updateCurrentUser uses the email_change_token and writes `data` before the
 *    password or address change checks the current password or the session's age: a request
 *    refused 403 wrong_password or reauthentication_required (or 400 for an address that is
 *    already the account's) has moved the account to the link's address, used up the link,
 *    and changed user_metadata. Shrunk counterexample: PUT /user {"email":"moved@sub.fuzz.example",
 *    "email_change_token":<the caller's live address change link>,"current_password":"wrong password"}
 *    → 403 wrong_password, the link used and the address changed. Expected: nothing written.
 * 4. `verify-type`: POST /verify {type} looks the type up in a plain object (VERIFY_TYPES[...]
 *    in src/auth/identity-api.ts), so `toString`, `constructor`, `__proto__`, `valueOf`, …
 *    find Object.prototype's members and, once the token is found live, `use.purposes.includes`
 *    throws: 500 (an unknown token is answered link_invalid first). Shrunk counterexamples:
 *    POST /verify {"type":"toString","token":<a live recovery link>} and {"type":"__proto__",
 *    "token":<a live recovery link>,"password":"a brand new passphrase"}. Expected: 400
 *    bad_request, as for any other unknown type, before the token is looked up.
 * 5. Access tokens outgrow the verifier's limit (MAX_ACCESS_TOKEN_BYTES, 4096): roles are now
 *    signed twice (app_metadata.authorization.roles and app_metadata.roles) beside
 *    user_metadata, and the API accepts 32 roles of 64 characters (requestedRoles) and 2048
 *    bytes of user_metadata. PUT /admin/users/:id {"app_metadata":{"roles":[32 names of 64
 *    characters]}} answers 200; the user's next POST /token answers 200 with a 6 KB
 *    access_token that verifyAccessToken refuses ("access token too large"), so GET /user
 *    with it is 401 and X-Use-Cookie would set an nf_jwt of over 4 KB. (Not fuzzed: the fuzz
 *    file has no fixture at these limits, and each case starts from the fixtures.) Expected:
 *    the limits of what is accepted fit what is signed, or the update is refused.
 */
import type { HandlerResponse } from '@netlify/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthDeps } from '../../src/auth/deps.js';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { verifyAccessToken } from '../../src/core/access-token.js';
import { emailTokenHash, newEmailToken } from '../../src/core/email-token.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { event, makeDeps, makeUser, PASSWORD, type EventOptions } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';

const ACCOUNTS: AccountSettings = {
  ...DEFAULT_ACCOUNT_SETTINGS,
  registration: 'open',
  newUserRoles: ['member'],
  identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled: true },
};
const NEW_PASSWORD = 'a brand new passphrase';

let t: TestStore;
let deps: AuthDeps;
let api: ReturnType<typeof identityApiHandler>;
beforeAll(async () => {
  t = await openTestStore();
  deps = { ...makeDeps(t.store), accounts: ACCOUNTS, kickMail: async () => {} };
  api = identityApiHandler(async () => deps);
});
afterAll(async () => {
  await t?.close();
});

/** A request to the API as a script sends it: no Origin, the bearer token if given. */
const call = (path: string, options: EventOptions & { token?: string } = {}) => api(event({
  origin: null, method: 'GET', ...options, path: `/auth/identity${path}`,
  headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
}));
const json = (response: HandlerResponse) => JSON.parse(response.body ?? 'null');

async function signIn(email: string): Promise<{ access_token: string }> {
  const response = await call('/token', { method: 'POST', form: { grant_type: 'password', username: email, password: PASSWORD } });
  expect(response.statusCode).toBe(200);
  return json(response);
}

async function userRow(id: string) {
  return (await t.sql.query('select email, roles, user_metadata, password_hash from rolegate.users where id = $1', [id])).rows[0];
}

describe('1. a malformed %-escape in /admin/users/:id', () => {
  it('is answered 404, not 500, with or without a token', async () => {
    const admin = await makeUser(t.store, ['admin']);
    const { access_token } = await signIn(admin.email);
    for (const id of ['%', '%zz', 'a%E0%A4%A']) {
      for (const token of [undefined, access_token]) {
        const response = await call(`/admin/users/${id}`, { token });
        expect(response.statusCode, `${id} ${token ? 'as an admin' : 'anonymous'}`).toBeLessThan(500);
      }
    }
  });
});

describe('2. U+0000 or a lone surrogate in user_metadata', () => {
  const bad = [{ full_name: '\u0000' }, { full_name: '\ud800' }, { 'a\u0000': 1 }, { nested: { deep: ['\udfff'] } }];

  it('PUT /user {data} is a 400, nothing written', async () => {
    const user = await makeUser(t.store, ['member']);
    const { access_token } = await signIn(user.email);
    for (const data of bad) {
      const response = await call('/user', { method: 'PUT', token: access_token, json: { data } });
      expect([response.statusCode, json(response).error_code], JSON.stringify(data)).toEqual([400, 'bad_request']);
    }
    expect((await userRow(user.id)).user_metadata).toEqual({});
  });

  it('POST /signup {data} is a 400', async () => {
    for (const [i, data] of bad.entries()) {
      const response = await call('/signup', { method: 'POST', json: { email: `nul${i}@fuzz.example`, password: NEW_PASSWORD, data } });
      expect([response.statusCode, json(response).error_code], JSON.stringify(data)).toEqual([400, 'bad_request']);
    }
  });

  it('POST /admin/users {user_metadata} is a 400', async () => {
    const admin = await makeUser(t.store, ['admin']);
    const { access_token } = await signIn(admin.email);
    for (const [i, user_metadata] of bad.entries()) {
      const response = await call('/admin/users', { method: 'POST', token: access_token, json: { email: `made${i}@fuzz.example`, user_metadata } });
      expect([response.statusCode, json(response).error_code], JSON.stringify(user_metadata)).toEqual([400, 'bad_request']);
    }
  });

  it('PUT /admin/users/:id {app_metadata, user_metadata} is a 400 and sets no role', async () => {
    const admin = await makeUser(t.store, ['admin']);
    const target = await makeUser(t.store, ['member']);
    const { access_token } = await signIn(admin.email);
    const response = await call(`/admin/users/${target.id}`, { method: 'PUT', token: access_token, json: { app_metadata: { roles: ['admin'] }, user_metadata: { full_name: '\u0000' } } });
    expect([response.statusCode, json(response).error_code]).toEqual([400, 'bad_request']);
    expect((await userRow(target.id)).roles).toEqual(['member']);
  });
});

describe('3. PUT /user writes before its checks', () => {
  async function changeLink(userId: string, email: string): Promise<string> {
    const token = newEmailToken();
    await t.sql.query(`insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at) values ($1, 'email_change', $2, $3, now() + interval '1 hour')`,
      [emailTokenHash(token), userId, email]);
    return token;
  }

  it('a wrong current password leaves the address, the link and the data as they were', async () => {
    const user = await makeUser(t.store, ['member']);
    const { access_token } = await signIn(user.email);
    const link = await changeLink(user.id, `moved-${user.id.slice(0, 8)}@fuzz.example`);
    const response = await call('/user', {
      method: 'PUT', token: access_token,
      json: { email: 'moved@sub.fuzz.example', email_change_token: link, data: { full_name: 'Ada' }, current_password: 'wrong password' },
    });
    expect([response.statusCode, json(response).error_code]).toEqual([403, 'wrong_password']);
    const row = await userRow(user.id);
    expect([row.email, row.user_metadata]).toEqual([user.email, {}]);
    expect((await t.sql.query('select used_at from rolegate.email_tokens where token_hash = $1', [emailTokenHash(link)])).rows[0].used_at).toBeNull();
  });

  it('a session too old to change the password leaves the data as it was', async () => {
    const user = await makeUser(t.store, ['member']);
    const { access_token } = await signIn(user.email);
    await t.sql.query(`update rolegate.sessions set created_at = now() - interval '20 minutes' where user_id = $1`, [user.id]);
    const response = await call('/user', { method: 'PUT', token: access_token, json: { data: { full_name: 'Ada' }, password: NEW_PASSWORD } });
    expect([response.statusCode, json(response).error_code]).toEqual([403, 'reauthentication_required']);
    expect((await userRow(user.id)).user_metadata).toEqual({});
  });
});

describe('4. POST /verify with a type named like an Object.prototype member', () => {
  it('is a 400 bad_request, not a 500', async () => {
    const user = await makeUser(t.store, ['member']);
    for (const type of ['toString', 'constructor', '__proto__', 'valueOf', 'hasOwnProperty']) {
      const token = newEmailToken();
      await t.sql.query(`insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at) values ($1, 'recovery', $2, $3, now() + interval '1 hour')`,
        [emailTokenHash(token), user.id, user.email]);
      const response = await call('/verify', { method: 'POST', json: { type, token } });
      expect([response.statusCode, json(response).error_code], type).toEqual([400, 'bad_request']);
    }
  });
});

describe('5. roles and user data the API accepts make access tokens it refuses', () => {
  it('32 roles of 64 characters, set by an admin: the next sign-in still gets a token that works', async () => {
    const admin = await makeUser(t.store, ['admin']);
    const target = await makeUser(t.store, ['member']);
    const { access_token } = await signIn(admin.email);
    const roles = Array.from({ length: 32 }, (_, i) => `r${i}`.padEnd(64, 'x'));
    const update = await call(`/admin/users/${target.id}`, { method: 'PUT', token: access_token, json: { app_metadata: { roles }, user_metadata: { blob: 'x'.repeat(2000) } } });
    if (update.statusCode !== 200) return; // refusing the update would be a fix too
    const signedIn = await signIn(target.email);
    await expect(verifyAccessToken(signedIn.access_token, { secrets: [deps.config.jwtSecret], issuer: deps.config.jwtIssuer, now: deps.now() })).resolves.toBeDefined();
    expect((await call('/user', { token: signedIn.access_token })).statusCode).toBe(200);
  });
});
