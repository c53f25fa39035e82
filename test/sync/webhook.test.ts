/**
 * identity-webhook, attacked from outside: every request is built the way
 * GoTrue signs its outgoing webhook (HS256 JWT over {iat, sub, iss, sha256}),
 * or the way an attacker would try to get around it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityWebhookHandler } from '../../src/sync/handlers.js';
import type { Store } from '../../src/store/store.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { INSTANCE_ID, gotrueUser, payload, postEvent, webhookSignature } from './fixtures.js';
import { makeSyncDeps, type TestSyncDeps } from './support.js';

let t: TestStore;
let store: Store;
let sql: pg.Pool;
let deps: TestSyncDeps;

beforeAll(async () => {
  t = await openTestStore();
  ({ store, sql } = t);
  deps = makeSyncDeps(store, { identity: { roleRules: [{ emailDomains: ['company.example'], roles: ['staff'] }] } });
});
afterAll(() => t.close());

const deliver = async (body: string, signature?: string, over: Partial<TestSyncDeps> = {}) => {
  const response = await identityWebhookHandler(async () => ({ ...deps, ...over }))(
    postEvent(body, signature === undefined ? {} : { 'x-webhook-signature': signature }),
  );
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') };
};

const count = async () => (await sql.query('select count(*)::int as n from rolegate.identity_users')).rows[0].n as number;

describe('identity-webhook', () => {
  it('takes a correctly signed signup: copies the user and answers with the roles, keeping app_metadata', async () => {
    const user = gotrueUser({ email: 'new@company.example', app_metadata: { provider: 'github' } });
    const body = payload('signup', user);
    const r = await deliver(body, await webhookSignature(body));
    expect(r).toEqual({ status: 200, body: { app_metadata: { provider: 'github', roles: ['staff'] } } });
    const row = (await sql.query('select roles from rolegate.identity_users where id = $1', [user.id])).rows[0];
    expect(row.roles).toEqual(['staff']);
  });

  it('refuses unsigned, mis-signed and forged requests with 401 and writes nothing', async () => {
    const body = payload('login', gotrueUser());
    const header = (token: string) => token.split('.')[0];
    const unsignedJwt = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${(await webhookSignature(body)).split('.')[1]}.`;
    const before = await count();
    const cases: [string | undefined, string][] = [
      [undefined, 'missing_signature'],
      ['', 'missing_signature'],
      ['not-a-jwt', 'invalid_signature'],
      [await webhookSignature(body, { secret: 'another-secret-entirely-0123456789abcdef' }), 'invalid_signature'],
      [unsignedJwt, 'invalid_signature'],
      [await webhookSignature(body, { alg: 'HS512' }), 'invalid_signature'],
      [await webhookSignature(body, { iss: 'someone-else' }), 'invalid_signature'],
      [await webhookSignature(body, { sub: '00000000-0000-4000-8000-000000000000' }), 'invalid_signature'],
      ['x'.repeat(5000), 'invalid_signature'],
    ];
    for (const [signature, code] of cases) {
      const r = await deliver(body, signature);
      expect(r.status, `${code}: ${signature === undefined ? '(none)' : header(signature)}`).toBe(401);
      expect(r.body.error.code).toBe(code);
    }
    expect(await count()).toBe(before);
  });

  it('refuses a valid signature on another body (a swapped or altered body)', async () => {
    const signed = payload('login', gotrueUser());
    const signature = await webhookSignature(signed);
    const altered = signed.replace('"provider":"email"', '"provider":"email","roles":["admin"]');
    const before = await count();
    const r = await deliver(altered, signature);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('body_mismatch');
    // Whitespace matters too: the hash is over the exact bytes.
    expect((await deliver(`${signed} `, signature)).body.error.code).toBe('body_mismatch');
    expect(await count()).toBe(before);
  });

  it('refuses stale and future-dated signatures', async () => {
    const body = payload('login', gotrueUser());
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 301, now - 86_400, now + 600]) {
      const r = await deliver(body, await webhookSignature(body, { iat }));
      expect(r.status, `iat ${iat - now}`).toBe(401);
      expect(r.body.error.code).toBe('stale_signature');
    }
  });

  it('answers a duplicate delivery like the first and changes nothing (GoTrue re-sends the same signature after a timeout)', async () => {
    const user = gotrueUser({ email: 'twice@company.example', app_metadata: { provider: 'email' } });
    const body = payload('signup', user);
    const signature = await webhookSignature(body);
    const first = await deliver(body, signature);
    expect(first).toEqual({ status: 200, body: { app_metadata: { provider: 'email', roles: ['staff'] } } });
    const row = async () => (await sql.query('select email, roles, app_metadata, user_metadata, updated_at from rolegate.identity_users where id = $1', [user.id])).rows;
    const before = await row();
    expect(await deliver(body, signature)).toEqual(first);
    const after = await row();
    expect(after).toHaveLength(1);
    expect(after).toEqual(before);
    expect(after[0].roles).toEqual(['staff']);
  });

  it('pins the instance when IDENTITY_INSTANCE_ID is set, whatever the body claims', async () => {
    const other = '11111111-2222-4333-8444-555555555555';
    const body = JSON.stringify({ event: 'login', instance_id: other, user: gotrueUser() });
    const signature = await webhookSignature(body, { sub: other });
    const pinned = await deliver(body, signature, { webhook: { ...deps.webhook, instanceId: INSTANCE_ID } });
    expect(pinned.status).toBe(401);
    expect(pinned.body.error.code).toBe('invalid_signature');
  });

  it('applies the sign-up rules to webhook events too', async () => {
    const restricted = makeSyncDeps(store, { identity: { signups: { allowEmailDomains: ['company.example'] } } });
    const body = payload('validate', gotrueUser({ email: 'intruder@elsewhere.example' }));
    const r = await deliver(body, await webhookSignature(body), restricted);
    expect(r.status).toBe(422);
    expect(r.body.webhook_error).toMatch(/@company\.example addresses only/);
  });

  it('answers 503 not_configured, naming nothing secret, when no webhook secret is set', async () => {
    const body = payload('login', gotrueUser());
    const r = await deliver(body, await webhookSignature(body), { webhook: { secret: null, maxAgeSeconds: 300 } });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_configured');
    expect(deps.logs.join('\n')).toMatch(/IDENTITY_WEBHOOK_SECRET is not set/);
  });

  it('checks the hash over the raw bytes even when Netlify hands the body over base64-encoded', async () => {
    const user = gotrueUser({ user_metadata: { full_name: 'Zoë Ångström' } });
    const body = payload('login', user);
    const signature = await webhookSignature(body);
    const event = { ...postEvent(Buffer.from(body).toString('base64'), { 'x-webhook-signature': signature }), isBase64Encoded: true };
    const response = await identityWebhookHandler(async () => deps)(event);
    expect(response.statusCode).toBe(200);
    const row = (await sql.query('select user_metadata from rolegate.identity_users where id = $1', [user.id])).rows[0];
    expect(row.user_metadata).toEqual({ full_name: 'Zoë Ångström' });
  });
});
