import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IdentityUser } from '../../src/core/identity-user.js';
import { ContentfulSinkError, contentfulSink, type ContentfulSinkOptions } from '../../src/sync/sinks/contentful.js';
import { IDENTITY_USER_FIELDS, startContentfulStandin, type ContentfulStandin } from '../support/contentful-standin.js';

const SPACE = 'space1';
const TOKEN = `CFPAT-${randomBytes(16).toString('hex')}`;

function identityUser(over: Partial<IdentityUser> = {}): IdentityUser {
  return {
    id: randomUUID(), email: `ada-${randomBytes(3).toString('hex')}@example.com`, roles: ['editor'],
    appMetadata: { provider: 'email', roles: ['editor'] }, userMetadata: { full_name: 'Ada' },
    createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z',
    confirmedAt: '2026-01-01T00:05:00.000Z', lastLoginAt: null, instanceId: 'instance-1', observedAt: '2026-01-02T00:00:00.000Z', ...over,
  };
}

const report = (over: Partial<Record<'created' | 'updated' | 'unchanged' | 'stale', number>>) => ({ created: 0, updated: 0, unchanged: 0, stale: 0, ...over });

describe('Contentful sink', () => {
  let standin: ContentfulStandin;
  let sleeps: number[];
  const sink = (over: Partial<ContentfulSinkOptions> = {}) =>
    contentfulSink({ spaceId: SPACE, managementToken: TOKEN, baseUrl: standin.url, sleep: async (ms) => { sleeps.push(ms); }, ...over });
  const writes = () => standin.requests.filter((r) => r.method === 'PUT');

  beforeEach(async () => {
    sleeps = [];
    standin = await startContentfulStandin({
      spaceId: SPACE, managementToken: TOKEN,
      // An editor-owned field besides the sink's, to show the sink keeps what it does not own.
      contentTypes: { identityUser: { ...IDENTITY_USER_FIELDS, notes: 'Text' }, page: { title: 'Symbol' } },
      locales: ['en-US', 'de-DE'],
    });
  });
  afterEach(async () => { await standin.close(); });

  it('creates an entry keyed by the identity id, every field in the locale, with the documented headers', async () => {
    const user = identityUser();
    expect(await sink().upsert([user])).toEqual(report({ created: 1 }));

    const entry = standin.entry(user.id)!;
    expect(entry.sys).toMatchObject({ id: user.id, version: 1, contentType: { sys: { id: 'identityUser' } } });
    expect(entry.sys.publishedVersion).toBeUndefined();
    expect(entry.fields).toEqual({
      identityId: { 'en-US': user.id }, email: { 'en-US': user.email }, roles: { 'en-US': ['editor'] },
      appMetadata: { 'en-US': user.appMetadata }, userMetadata: { 'en-US': user.userMetadata },
      createdAt: { 'en-US': user.createdAt }, updatedAt: { 'en-US': user.updatedAt }, observedAt: { 'en-US': user.observedAt },
      confirmedAt: { 'en-US': user.confirmedAt },
    });
    const [get, put] = standin.requests;
    expect(get).toMatchObject({ method: 'GET', path: `/spaces/${SPACE}/environments/master/entries/${user.id}`, status: 404 });
    expect(put).toMatchObject({ method: 'PUT', status: 201 });
    expect(put!.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`, 'x-contentful-content-type': 'identityUser', 'content-type': 'application/vnd.contentful.management.v1+json',
    });
    expect(put!.headers['x-contentful-version']).toBeUndefined();
  });

  it('updates a newer copy with the current version, and replaying it writes nothing', async () => {
    const user = identityUser();
    await sink().upsert([user]);
    const newer = { ...user, roles: ['admin'], email: 'ada@new.example.com', updatedAt: '2026-02-01T00:00:00.000Z' };

    expect(await sink().upsert([newer])).toEqual(report({ updated: 1 }));
    const update = writes().at(-1)!;
    expect(update.headers['x-contentful-version']).toBe('1');
    expect(standin.entry(user.id)).toMatchObject({
      sys: { version: 2 },
      fields: { roles: { 'en-US': ['admin'] }, email: { 'en-US': 'ada@new.example.com' }, updatedAt: { 'en-US': newer.updatedAt } },
    });

    const before = standin.requests.length;
    expect(await sink().upsert([newer, newer])).toEqual(report({ unchanged: 1 }));
    expect(standin.requests.slice(before).map((r) => r.method)).toEqual(['GET']);
    expect(standin.entry(user.id)!.sys.version).toBe(2);
  });

  it('ignores an older copy that arrives late: reported stale, nothing written', async () => {
    const user = identityUser({ updatedAt: '2026-03-01T00:00:00.000Z' });
    await sink().upsert([user]);
    const older = { ...user, roles: ['old-role'], updatedAt: '2026-02-01T00:00:00.000Z' };

    expect(await sink().upsert([older])).toEqual(report({ stale: 1 }));
    expect(writes()).toHaveLength(1);
    expect(standin.entry(user.id)).toMatchObject({ sys: { version: 1 }, fields: { roles: { 'en-US': ['editor'] } } });
  });

  it('moves lastLoginAt forward only, whatever order the copies come in', async () => {
    const user = identityUser({ updatedAt: '2026-02-01T00:00:00.000Z', lastLoginAt: '2026-02-01T00:00:00.000Z' });
    await sink().upsert([user]);

    // Older data carrying a later login: only the login moves.
    const lateLogin = { ...user, roles: ['old-role'], updatedAt: '2026-01-15T00:00:00.000Z', lastLoginAt: '2026-03-01T00:00:00.000Z' };
    expect(await sink().upsert([lateLogin])).toEqual(report({ updated: 1 }));
    expect(standin.entry(user.id)!.fields).toMatchObject({
      roles: { 'en-US': ['editor'] }, updatedAt: { 'en-US': user.updatedAt }, lastLoginAt: { 'en-US': '2026-03-01T00:00:00.000Z' },
    });

    // Newer data carrying an earlier login: the data moves, the login stays.
    const newerData = { ...user, roles: ['admin'], updatedAt: '2026-04-01T00:00:00.000Z', lastLoginAt: '2026-01-20T00:00:00.000Z' };
    expect(await sink().upsert([newerData])).toEqual(report({ updated: 1 }));
    expect(standin.entry(user.id)!.fields).toMatchObject({
      roles: { 'en-US': ['admin'] }, updatedAt: { 'en-US': newerData.updatedAt }, lastLoginAt: { 'en-US': '2026-03-01T00:00:00.000Z' },
    });

    // An old login on old data changes nothing.
    expect(await sink().upsert([{ ...user, lastLoginAt: '2026-02-15T00:00:00.000Z' }])).toEqual(report({ stale: 1 }));
    expect(standin.entry(user.id)!.sys.version).toBe(3);
  });

  it('counts a repeated id in one batch once: newest data, latest login', async () => {
    const user = identityUser({ lastLoginAt: '2026-05-01T00:00:00.000Z' });
    const newest = { ...user, roles: ['newest'], updatedAt: '2026-04-01T00:00:00.000Z', lastLoginAt: '2026-04-01T00:00:00.000Z' };
    const other = identityUser();

    expect(await sink().upsert([user, newest, other])).toEqual(report({ created: 2 }));
    expect(standin.entry(user.id)!.fields).toMatchObject({ roles: { 'en-US': ['newest'] }, lastLoginAt: { 'en-US': '2026-05-01T00:00:00.000Z' } });
    expect(writes()).toHaveLength(2);
  });

  it('re-reads and retries when another writer bumps the version between its GET and its PUT (409 VersionMismatch)', async () => {
    const user = identityUser();
    await sink().upsert([user]);
    standin.beforeNext('PUT', user.id, () => {
      standin.writeAsAnotherClient(user.id, (fields) => ({ ...fields, notes: { 'en-US': 'VIP customer' } }));
    });
    const newer = { ...user, roles: ['admin'], updatedAt: '2026-02-01T00:00:00.000Z' };

    expect(await sink().upsert([newer])).toEqual(report({ updated: 1 }));
    const since = standin.requests.slice(2).map((r) => `${r.method} ${r.status} ${r.headers['x-contentful-version'] ?? '-'}`);
    expect(since).toEqual(['GET 200 -', 'PUT 409 1', 'GET 200 -', 'PUT 200 2']);
    // Both writes survive: ours on top of the other writer's, not instead of it.
    expect(standin.entry(user.id)).toMatchObject({
      sys: { version: 3 },
      fields: { roles: { 'en-US': ['admin'] }, notes: { 'en-US': 'VIP customer' } },
    });
  });

  it('leaves one entry when another sync creates the same user between its GET and its create', async () => {
    const user = identityUser();
    standin.beforeNext('PUT', user.id, () => {
      // The other sync wrote the same copy of the user.
      standin.writeAsAnotherClient(user.id, () => ({
        identityId: { 'en-US': user.id }, email: { 'en-US': user.email }, roles: { 'en-US': user.roles },
        appMetadata: { 'en-US': user.appMetadata }, userMetadata: { 'en-US': user.userMetadata }, createdAt: { 'en-US': user.createdAt },
        updatedAt: { 'en-US': user.updatedAt }, observedAt: { 'en-US': user.observedAt }, confirmedAt: { 'en-US': user.confirmedAt },
      }));
    });

    expect(await sink().upsert([user])).toEqual(report({ unchanged: 1 }));
    expect(writes().map((r) => r.status)).toEqual([409]);
    expect(standin.entry(user.id)!.sys.version).toBe(1);
  });

  it('gives up with a conflict error when every write keeps losing the race', async () => {
    const user = identityUser();
    await sink().upsert([user]);
    for (let i = 0; i < 10; i += 1) {
      standin.beforeNext('PUT', user.id, () => { standin.writeAsAnotherClient(user.id, (fields) => ({ ...fields, notes: { 'en-US': `edit ${i}` } })); });
    }
    const newer = { ...user, updatedAt: '2026-02-01T00:00:00.000Z' };

    await expect(sink().upsert([newer])).rejects.toMatchObject({ code: 'conflict', contentfulErrorId: 'VersionMismatch' });
    expect(writes().slice(1).map((r) => r.status)).toEqual([409, 409, 409, 409, 409]);
  });

  it('waits the X-Contentful-RateLimit-Reset seconds on a 429, then carries on', async () => {
    standin.rateLimit({ allow: 1, resetSeconds: 3, times: 2 });
    const user = identityUser();

    expect(await sink().upsert([user])).toEqual(report({ created: 1 }));
    expect(sleeps).toEqual([3000, 3000]);
    expect(standin.requests.map((r) => r.status)).toEqual([404, 429, 429, 201]);
    expect(standin.requests.filter((r) => r.status === 429).every((r) => r.method === 'PUT')).toBe(true);
    expect(standin.entry(user.id)!.sys.version).toBe(1);
  });

  it('backs off exponentially with jitter through 5xx answers and a dropped connection, then lands the write once', async () => {
    standin.failNext(1, { status: 503 });
    standin.failNext(1, 'drop');
    standin.failNext(1, { status: 502 });
    const user = identityUser();

    expect(await sink().upsert([user])).toEqual(report({ created: 1 }));
    expect(standin.requests.map((r) => r.status)).toEqual([503, 0, 502, 404, 201]);
    expect(sleeps).toHaveLength(3);
    // attempt n waits between half and all of 250 ms · 2^n
    sleeps.forEach((ms, n) => {
      expect(ms).toBeGreaterThanOrEqual((250 * 2 ** n) / 2);
      expect(ms).toBeLessThanOrEqual(250 * 2 ** n);
    });
    expect(standin.entry(user.id)!.sys.version).toBe(1);
  });

  it('gives up after maxRetries with an error naming the status and Contentful error id', async () => {
    standin.failNext(10, { status: 500 });
    const failure = await sink({ maxRetries: 2 }).upsert([identityUser()]).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(ContentfulSinkError);
    expect(failure).toMatchObject({ code: 'unavailable', status: 500, contentfulErrorId: 'ServerError' });
    expect((failure as Error).message).toMatch(/500 ServerError 3 times, giving up/);
    expect(standin.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('gives up on a rate limit that never lifts, saying so', async () => {
    standin.rateLimit({ allow: 0, resetSeconds: 1, times: 100 });
    const failure = await sink({ maxRetries: 3 }).upsert([identityUser()]).catch((e: unknown) => e);

    expect(failure).toMatchObject({ code: 'rate_limited', status: 429, contentfulErrorId: 'RateLimitExceeded' });
    expect((failure as Error).message).toContain('429 RateLimitExceeded');
    expect(sleeps).toEqual([1000, 1000, 1000]);
  });

  it('fails at once on 401 AccessTokenInvalid, without retrying and without the token in the error', async () => {
    const failure = await sink({ managementToken: `${TOKEN}-revoked` }).upsert([identityUser()]).catch((e: unknown) => e);

    expect(failure).toMatchObject({ code: 'unauthorized', status: 401, contentfulErrorId: 'AccessTokenInvalid' });
    expect((failure as Error).message).toMatch(/401 AccessTokenInvalid/);
    expect(JSON.stringify(failure) + String(failure) + (failure as Error).stack).not.toContain(TOKEN);
    expect(standin.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('keeps the token out of the error even when a network error quotes the request headers', async () => {
    // Some HTTP layers (proxies, agents) put the request headers in their error text.
    const leakyFetch: typeof fetch = async (_url, init) => {
      throw new TypeError('fetch failed', { cause: new Error(`socket hang up sending ${JSON.stringify(init?.headers)}`) });
    };
    const failure = await sink({ fetch: leakyFetch, maxRetries: 1 }).upsert([identityUser()]).catch((e: unknown) => e);

    expect(failure).toMatchObject({ code: 'unavailable' });
    const everything = `${String(failure)} ${(failure as Error).stack} ${JSON.stringify(failure)} ${String((failure as Error).cause)}`;
    expect(everything).toContain('[redacted]');
    expect(everything).not.toContain(TOKEN);
  });

  it('fails at once on a 422 InvalidEntry (here: a locale the environment lacks), naming Contentful\'s error', async () => {
    const failure = await sink({ locale: 'fr-FR' }).upsert([identityUser()]).catch((e: unknown) => e);

    expect(failure).toMatchObject({ code: 'rejected', status: 422, contentfulErrorId: 'InvalidEntry' });
    expect((failure as Error).message).toMatch(/PUT entries\/[0-9a-f-]+ answered 422 InvalidEntry: Validation error/);
    expect(writes()).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('writes in the configured locale and keeps the other locales of the entry', async () => {
    const user = identityUser();
    standin.writeAsAnotherClient(user.id, () => ({ email: { 'en-US': 'kept@example.com' } }));

    expect(await sink({ locale: 'de-DE' }).upsert([user])).toEqual(report({ updated: 1 }));
    expect(standin.entry(user.id)!.fields.email).toEqual({ 'en-US': 'kept@example.com', 'de-DE': user.email });
  });

  it('refuses to overwrite an entry of another content type that has the same id', async () => {
    const user = identityUser();
    standin.writeAsAnotherClient(user.id, () => ({ title: { 'en-US': 'A page' } }), 'page');

    await expect(sink().upsert([user])).rejects.toMatchObject({ code: 'wrong_content_type' });
    expect(writes()).toHaveLength(0);
    expect(standin.entry(user.id)!.fields).toEqual({ title: { 'en-US': 'A page' } });
  });

  it('with publish, publishes exactly the version it wrote, and a replay neither writes nor republishes', async () => {
    const user = identityUser();
    const publishing = sink({ publish: true });

    expect(await publishing.upsert([user])).toEqual(report({ created: 1 }));
    const publish = standin.requests.at(-1)!;
    expect(publish).toMatchObject({ method: 'PUT', path: `/spaces/${SPACE}/environments/master/entries/${user.id}/published`, status: 200 });
    expect(publish.headers['x-contentful-version']).toBe('1');
    expect(standin.entry(user.id)!.sys).toMatchObject({ version: 2, publishedVersion: 1 });

    const newer = { ...user, roles: ['admin'], updatedAt: '2026-02-01T00:00:00.000Z' };
    expect(await publishing.upsert([newer])).toEqual(report({ updated: 1 }));
    expect(standin.requests.at(-1)!.headers['x-contentful-version']).toBe('3');
    expect(standin.entry(user.id)!.sys).toMatchObject({ version: 4, publishedVersion: 3 });

    const before = standin.requests.length;
    expect(await publishing.upsert([newer])).toEqual(report({ unchanged: 1 }));
    expect(standin.requests.slice(before).map((r) => r.method)).toEqual(['GET']);
  });

  it('with publish, publishes an entry a failed earlier run left as a draft', async () => {
    const user = identityUser();
    await sink().upsert([user]); // written, never published

    expect(await sink({ publish: true }).upsert([user])).toEqual(report({ unchanged: 1 }));
    expect(standin.entry(user.id)!.sys).toMatchObject({ version: 2, publishedVersion: 1 });
  });

  it('without publish, leaves entries as drafts', async () => {
    const user = identityUser();
    await sink().upsert([user, { ...user, updatedAt: '2026-03-01T00:00:00.000Z' }]);
    expect(standin.requests.some((r) => r.path.endsWith('/published'))).toBe(false);
    expect(standin.entry(user.id)!.sys.publishedVersion).toBeUndefined();
  });

  it('writes nothing of a batch holding a malformed user', async () => {
    const good = identityUser();
    await expect(sink().upsert([good, { ...identityUser(), updatedAt: 'not a time' }])).rejects.toThrow(TypeError);
    expect(standin.requests).toHaveLength(0);
  });

  it('stops before the next request once the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    await expect(sink().upsert([identityUser()], controller.signal)).rejects.toThrow('shutting down');
    expect(standin.requests).toHaveLength(0);
  });

  it('checks its options before the first request', () => {
    expect(() => contentfulSink({ spaceId: 'has space', managementToken: TOKEN })).toThrow(/spaceId must be a Contentful id/);
    expect(() => contentfulSink({ spaceId: SPACE, managementToken: '' })).toThrow(/managementToken is required/);
    expect(() => contentfulSink({ spaceId: SPACE, managementToken: TOKEN, maxRetries: -1 })).toThrow(/maxRetries/);
  });
  it('orders copies with the same updatedAt by when they were read, like the store, and fills in a partial entry', async () => {
    const user = identityUser();
    await sink().upsert([user]);
    const readLater = { ...user, roles: ['admin'], observedAt: '2026-03-01T00:00:00.000Z' };
    expect(await sink().upsert([readLater])).toEqual(report({ updated: 1 }));
    expect(await sink().upsert([{ ...user, roles: ['old'], observedAt: '2026-02-01T00:00:00.000Z' }])).toEqual(report({ stale: 1 }));
    expect(standin.entry(user.id)!.fields.roles).toEqual({ 'en-US': ['admin'] });
    // A newer read with the same data moves the order key on without counting a change.
    expect(await sink().upsert([{ ...readLater, observedAt: '2026-04-01T00:00:00.000Z' }])).toEqual(report({ unchanged: 1 }));
    expect(standin.entry(user.id)!.fields.observedAt).toEqual({ 'en-US': '2026-04-01T00:00:00.000Z' });
    // An entry another client left without observedAt counts as read at the epoch: ours fills it in.
    const partial = identityUser();
    standin.writeAsAnotherClient(partial.id, () => ({ identityId: { 'en-US': partial.id }, updatedAt: { 'en-US': partial.updatedAt }, email: { 'en-US': partial.email } }));
    expect(await sink().upsert([partial])).toEqual(report({ updated: 1 }));
    expect(standin.entry(partial.id)!.fields.roles).toEqual({ 'en-US': ['editor'] });
  });
});

describe('Contentful stand-in follows the documented CMA contract', () => {
  let standin: ContentfulStandin;
  const entryUrl = (id: string) => `${standin.url}/spaces/${SPACE}/environments/master/entries/${id}`;
  const call = async (method: string, id: string, headers: Record<string, string> = {}, body?: unknown) => {
    const response = await fetch(entryUrl(id), {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/vnd.contentful.management.v1+json', ...headers },
    });
    return { status: response.status, body: (await response.json()) as { sys: { type: string; id: string; version?: number }; requestId?: string } };
  };

  beforeEach(async () => { standin = await startContentfulStandin({ spaceId: SPACE, managementToken: TOKEN }); });
  afterEach(async () => { await standin.close(); });

  it('answers an unknown entry with 404 NotFound in the error shape', async () => {
    const { status, body } = await call('GET', 'nope');
    expect(status).toBe(404);
    expect(body.sys).toEqual({ type: 'Error', id: 'NotFound' });
    expect(body.requestId).toEqual(expect.any(String));
  });

  it('refuses a create without X-Contentful-Content-Type (400 BadRequest) and a bad token (401 AccessTokenInvalid)', async () => {
    expect(await call('PUT', 'e1', {}, { fields: {} })).toMatchObject({ status: 400, body: { sys: { id: 'BadRequest' } } });
    expect(await call('GET', 'e1', { Authorization: 'Bearer wrong' })).toMatchObject({ status: 401, body: { sys: { id: 'AccessTokenInvalid' } } });
    expect(standin.entry('e1')).toBeUndefined();
  });

  it('answers 409 VersionMismatch to an update with a missing or outdated X-Contentful-Version', async () => {
    expect(await call('PUT', 'e1', { 'X-Contentful-Content-Type': 'identityUser' }, { fields: { email: { 'en-US': 'a@b.c' } } }))
      .toMatchObject({ status: 201, body: { sys: { type: 'Entry', version: 1 } } });
    expect(await call('PUT', 'e1', {}, { fields: {} })).toMatchObject({ status: 409, body: { sys: { id: 'VersionMismatch' } } });
    expect(await call('PUT', 'e1', { 'X-Contentful-Version': '0' }, { fields: {} })).toMatchObject({ status: 409 });
    expect(await call('PUT', 'e1', { 'X-Contentful-Version': '1' }, { fields: {} })).toMatchObject({ status: 200, body: { sys: { version: 2 } } });
  });

  it('rejects a field the content type lacks with 422 InvalidEntry', async () => {
    const { status, body } = await call('PUT', 'e2', { 'X-Contentful-Content-Type': 'identityUser' }, { fields: { nickname: { 'en-US': 'x' } } });
    expect(status).toBe(422);
    expect(body.sys.id).toBe('InvalidEntry');
  });

});
