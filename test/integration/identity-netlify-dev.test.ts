/**
 * The Identity sync functions as Netlify runs them, through the real
 * `netlify dev --offline` against a real PostgreSQL: the event function, the
 * signed webhook, and the background retry function (Netlify answers it 202
 * at once and runs it afterwards). Identity itself does not run under
 * netlify dev, so its calls are made here with the payloads it sends.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRY_SIGNATURE_HEADER, retryKey, signRetryJob, type RetryJob } from '../../src/sync/retry.js';
import { RETRY_FUNCTION_PATH } from '../../src/sync/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { copySite, startNetlifyDev, type NetlifyDev } from '../support/netlify-dev.js';
import { WEBHOOK_SECRET, gotrueUser, payload, webhookSignature } from '../sync/fixtures.js';

describe('Identity sync through netlify dev', () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let dev: NetlifyDev;
  let site: ReturnType<typeof copySite>;

  beforeAll(async () => {
    db = await createTestDatabase();
    // One client, ended before the database is dropped: end() waits for its socket to close.
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    // A copy of the site of its own: two netlify dev on one folder share .netlify/ and trip over each other.
    site = copySite();
    dev = await startNetlifyDev({ DATABASE_URL: db.url, IDENTITY_WEBHOOK_SECRET: WEBHOOK_SECRET }, site.root);
  }, 120_000);
  afterAll(async () => {
    await dev?.stop();
    site?.remove();
    await sql?.end();
    await db?.drop();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${dev.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const mirrored = async (id: string) => (await sql.query('select email from rolegate.identity_users where id = $1', [id])).rows;

  it('identity-signup copies the user and answers 200', async () => {
    const user = gotrueUser();
    const r = await post('/.netlify/functions/identity-signup', payload('signup', user));
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await r.json()).toEqual({});
    expect(await mirrored(user.id)).toEqual([{ email: user.email }]);
  });

  it('identity-webhook takes a signed delivery and refuses an unsigned one', async () => {
    const user = gotrueUser();
    const body = payload('login', user);
    const unsigned = await post('/.netlify/functions/identity-webhook', body);
    expect(unsigned.status).toBe(401);
    expect((await unsigned.json()).error.code).toBe('missing_signature');
    expect(await mirrored(user.id)).toEqual([]);
    const signed = await post('/.netlify/functions/identity-webhook', body, { 'x-webhook-signature': await webhookSignature(body) });
    expect(signed.status, await signed.clone().text()).toBe(200);
    expect(await mirrored(user.id)).toEqual([{ email: user.email }]);
  });

  it('identity-sync-background runs a signed retry job after answering 202, and drops an unsigned one', async () => {
    const job = (email: string): RetryJob => {
      const u = gotrueUser({ email });
      return {
        v: 1, event: 'login', sinks: ['store'], queuedAt: new Date().toISOString(),
        user: { id: u.id, email: u.email, roles: [], appMetadata: u.app_metadata, userMetadata: u.user_metadata,
          createdAt: new Date(u.created_at).toISOString(), updatedAt: new Date(u.updated_at).toISOString(),
          confirmedAt: null, lastLoginAt: null, instanceId: null, observedAt: new Date().toISOString() },
      };
    };
    const forged = job('forged@example.com');
    const genuine = job('queued@example.com');
    const forgedBody = JSON.stringify(forged);
    const genuineBody = JSON.stringify(genuine);
    const key = retryKey(dev.jwtSecret);
    expect((await post(RETRY_FUNCTION_PATH, forgedBody, { [RETRY_SIGNATURE_HEADER]: signRetryJob(forgedBody, Buffer.alloc(32)) })).status).toBe(202);
    expect((await post(RETRY_FUNCTION_PATH, genuineBody, { [RETRY_SIGNATURE_HEADER]: signRetryJob(genuineBody, key) })).status).toBe(202);
    const deadline = Date.now() + 30_000;
    while ((await mirrored(genuine.user.id)).length === 0) {
      if (Date.now() > deadline) throw new Error(`the background job never landed:\n${dev.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await mirrored(forged.user.id)).toEqual([]);
  });
});
