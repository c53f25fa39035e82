/**
 * Property-based fuzzing of the Identity sync handlers with fast-check:
 * identity-validate, identity-signup, identity-login, identity-webhook and
 * identity-sync-background, over one real PostgreSQL database. Bodies start
 * from the payload Identity sends and are mangled field by field, or are
 * random JSON, random text, invalid UTF-8 or huge; signatures are missing,
 * random, made with another secret, stale, or valid for the (mangled) body.
 * For every case:
 *
 * - never a 5xx (the store is up), never a stack trace;
 * - either 200 with `{}` or `{app_metadata}` (the only answers Identity
 *   reads), or a JSON error whose code is in the sync error table with the
 *   table's status;
 * - a refused request changes no mirrored user;
 * - nothing secret reaches the log.
 *
 * The seed is fixed (FUZZ_SEED overrides it); FUZZ_RUNS changes the count.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityEventHandler, identityRetryHandler, identityWebhookHandler } from '../../src/sync/handlers.js';
import { RETRY_SIGNATURE_HEADER, signRetryJob } from '../../src/sync/retry.js';
import { SYNC_STATUS } from '../../src/sync/respond.js';
import type { Store } from '../../src/store/store.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { captureLogs, leakedSecrets, type LogCapture } from '../support/log-capture.js';
import { INSTANCE_ID, WEBHOOK_SECRET, postEvent } from './fixtures.js';
import { JWT_SECRET, makeSyncDeps, type TestSyncDeps } from './support.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const counts: Record<string, number> = {};
const statuses: Record<string, Record<number, number>> = {};

let t: TestStore;
let store: Store;
let sql: pg.Pool;
let deps: TestSyncDeps;
let logs: LogCapture;

beforeAll(async () => {
  t = await openTestStore();
  ({ store, sql } = t);
  deps = makeSyncDeps(store, {
    identity: {
      signups: { allowEmailDomains: ['example.com'] },
      roleRules: [{ emailDomains: ['example.com'], roles: ['member'] }],
    },
  });
  deps.log = (line) => console.error(line);
  logs = captureLogs();
});
afterAll(async () => {
  logs?.stop();
  console.info(`identity sync fuzz cases: ${JSON.stringify(counts)} (seed ${SEED}); statuses: ${JSON.stringify(statuses)}`);
  await t.close();
});

// ---------------------------------------------------------------- arbitraries

const timestamp = fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
const anything = fc.oneof(fc.jsonValue(), fc.string(), fc.constant(undefined));
// Mostly the right thing, so that the accepting paths are fuzzed as well as the refusals.
const maybe = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: anything });

const userArb = fc.record({
  id: maybe(fc.uuid()),
  aud: fc.constant(''),
  email: maybe(fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((local) => `${local.replace(/[@\s]/g, '') || 'x'}@example.com`) },
    { weight: 1, arbitrary: fc.emailAddress() },
    { weight: 1, arbitrary: fc.constantFrom('B@EXAMPLE.COM', 'x@elsewhere.test') },
  )),
  app_metadata: maybe(fc.record({ provider: fc.constantFrom('email', 'google'), roles: maybe(fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 4 })) }, { requiredKeys: [] })),
  user_metadata: maybe(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 4 })),
  created_at: maybe(timestamp),
  updated_at: maybe(timestamp),
  confirmed_at: maybe(fc.option(timestamp)),
  last_sign_in_at: maybe(fc.option(timestamp)),
}, { requiredKeys: ['id', 'email', 'updated_at'] });

/** Identity's payload for `event` (mostly), every field liable to be mangled or left out. */
const payloadArb = (event: string) => fc.record({
  event: maybe(fc.oneof({ weight: 6, arbitrary: fc.constant(event) }, { weight: 1, arbitrary: fc.constantFrom('validate', 'signup', 'login') })),
  instance_id: maybe(fc.constant(INSTANCE_ID)),
  user: maybe(userArb),
}, { requiredKeys: ['event', 'user'] }).map((p) => JSON.stringify(p));

interface BodyRecipe { text: string; base64: boolean }

const bodyArb = (event: string): fc.Arbitrary<BodyRecipe> => fc.oneof(
  { weight: 12, arbitrary: payloadArb(event).map((text) => ({ text, base64: false })) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => ({ text: JSON.stringify(v) ?? '', base64: false })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ text, base64: false })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ text: Buffer.from(bytes).toString('base64'), base64: true })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((text) => ({ text, base64: true })) },
  { weight: 1, arbitrary: fc.nat({ max: 1_200_000 }).map((n) => ({ text: `{"event":"login","user":{"user_metadata":{"x":"${'y'.repeat(n)}"}}}`, base64: false })) },
);

const headersArb = fc.record({
  'content-type': fc.oneof({ weight: 5, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }) }),
}, { requiredKeys: [] });

const methodArb = fc.oneof({ weight: 8, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS', 'post') });

type SignatureRecipe = 'none' | 'random' | 'valid' | 'other-secret' | 'stale' | 'future' | 'other-body';
const signatureArb = fc.tuple(fc.constantFrom<SignatureRecipe>('none', 'random', 'valid', 'valid', 'valid', 'other-secret', 'stale', 'future', 'other-body'), fc.string({ maxLength: 60 }));

// ---------------------------------------------------------------- the property

function event(body: BodyRecipe, headers: Record<string, string>, method: string): HandlerEvent {
  return { ...postEvent(body.text, headers, method), isBase64Encoded: body.base64 };
}

/** A digest of every mirrored row: any insert, update or delete changes it. */
async function mirrorDigest(): Promise<string> {
  return (await sql.query(`select coalesce(md5(string_agg(row_to_json(u)::text, '' order by id)), '') as digest from rolegate.identity_users u`)).rows[0].digest as string;
}

async function checkAnswer(name: string, r: HandlerResponse, before: string): Promise<void> {
  counts[name] = (counts[name] ?? 0) + 1;
  const seen = (statuses[name] ??= {});
  seen[r.statusCode] = (seen[r.statusCode] ?? 0) + 1;
  expect(r.statusCode, r.body).toBeLessThan(500);
  expect(r.body ?? '').not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
  const body = JSON.parse(r.body ?? 'null') as Record<string, unknown>;
  if (r.statusCode === 200) {
    // Identity reads only app_metadata; the retry function reports what it delivered (Netlify drops the body).
    const allowed = name === 'identity-sync-background' ? ['delivered', 'attempts'] : ['app_metadata'];
    expect(Object.keys(body).filter((k) => !allowed.includes(k)), r.body).toEqual([]);
    return;
  }
  const error = body.error as { code: keyof typeof SYNC_STATUS; message: string };
  expect(Object.keys(SYNC_STATUS), r.body).toContain(error.code);
  expect(r.statusCode).toBe(SYNC_STATUS[error.code]);
  expect(typeof error.message).toBe('string');
  expect(await mirrorDigest(), `a refused ${name} request changed the mirror`).toBe(before);
}

async function sign(recipe: SignatureRecipe, random: string, raw: Buffer): Promise<string | undefined> {
  const now = Math.floor(Date.now() / 1000);
  const claims = (bytes: Buffer) => ({ sha256: createHash('sha256').update(bytes).digest('hex') });
  const make = (bytes: Buffer, secret = WEBHOOK_SECRET, iat = now) => new SignJWT(claims(bytes))
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(iat).setSubject(INSTANCE_ID).setIssuer('gotrue')
    .sign(new TextEncoder().encode(secret));
  switch (recipe) {
    case 'none': return undefined;
    case 'random': return random;
    case 'valid': return make(raw);
    case 'other-secret': return make(raw, 'some-other-secret-0123456789abcdef');
    case 'stale': return make(raw, WEBHOOK_SECRET, now - 3600);
    case 'future': return make(raw, WEBHOOK_SECRET, now + 3600);
    case 'other-body': return make(Buffer.concat([raw, Buffer.from(' ')]));
  }
}

const rawOf = (body: BodyRecipe) => (body.base64 ? Buffer.from(body.text, 'base64') : Buffer.from(body.text, 'utf8'));

describe('fuzzing the Identity sync handlers', () => {
  for (const name of ['validate', 'signup', 'login'] as const) {
    it(`identity-${name}: ${RUNS} cases`, async () => {
      const handler = identityEventHandler(name, async () => deps);
      await fc.assert(fc.asyncProperty(bodyArb(name), headersArb, methodArb, async (body, headers, method) => {
        const before = await mirrorDigest();
        await checkAnswer(`identity-${name}`, await handler(event(body, headers, method)), before);
      }), { numRuns: RUNS, seed: SEED });
    }, 240_000);
  }

  it(`identity-webhook: ${RUNS} cases`, async () => {
    const handler = identityWebhookHandler(async () => deps);
    await fc.assert(fc.asyncProperty(bodyArb('login'), headersArb, methodArb, signatureArb, async (body, headers, method, [recipe, random]) => {
      const signature = await sign(recipe, random, rawOf(body));
      const all = signature === undefined ? headers : { ...headers, 'x-webhook-signature': signature };
      const before = await mirrorDigest();
      const r = await handler(event(body, all, method));
      await checkAnswer('identity-webhook', r, before);
      if (recipe !== 'valid' && method === 'POST') expect(r.statusCode, r.body).not.toBe(200);
    }), { numRuns: RUNS, seed: SEED });
  }, 240_000);

  it(`identity-sync-background: ${RUNS} cases`, async () => {
    const handler = identityRetryHandler(async () => deps);
    const jobArb = fc.record({
      v: maybe(fc.constant(1)),
      event: maybe(fc.constantFrom('signup', 'login')),
      sinks: maybe(fc.constant(['store'])),
      queuedAt: maybe(fc.constant(new Date().toISOString())),
      user: maybe(fc.record({
        id: maybe(fc.constant(randomUUID())), email: maybe(fc.emailAddress()), appMetadata: maybe(fc.constant({})),
        userMetadata: maybe(fc.constant({})), createdAt: maybe(timestamp), updatedAt: maybe(timestamp),
        confirmedAt: fc.constant(null), lastLoginAt: fc.constant(null), instanceId: fc.constant(null),
      }, { requiredKeys: [] })),
    }, { requiredKeys: [] }).map((job) => JSON.stringify(job));
    await fc.assert(fc.asyncProperty(jobArb, fc.constantFrom('none', 'random', 'valid', 'valid'), fc.string({ maxLength: 70 }), async (body, recipe, random) => {
      const signature = recipe === 'valid' ? signRetryJob(body, deps.retryKey) : recipe === 'random' ? random : undefined;
      const before = await mirrorDigest();
      const r = await handler(postEvent(body, signature === undefined ? {} : { [RETRY_SIGNATURE_HEADER]: signature }));
      await checkAnswer('identity-sync-background', r, before);
      if (recipe !== 'valid') expect(r.statusCode).toBe(401);
    }), { numRuns: RUNS, seed: SEED });
  }, 240_000);

  it('reached the accepting paths, not only the refusals', () => {
    for (const name of ['identity-signup', 'identity-login', 'identity-webhook', 'identity-sync-background']) {
      expect(statuses[name]?.[200] ?? 0, name).toBeGreaterThan(RUNS / 20);
    }
  });

  it('logged nothing secret during the whole run', () => {
    const leaked = leakedSecrets(logs.text(), new Map([['JWT secret', JWT_SECRET], ['webhook secret', WEBHOOK_SECRET]]));
    expect(leaked).toEqual([]);
  });
});
