/**
 * TEST STAND-IN for the slice of Contentful's Content Management API (CMA)
 * that the Contentful sink uses. It is not Contentful: one space, one
 * environment, entries only, no assets, no query, no snapshots, no
 * webhooks, no required-field checks at publish. What it does implement
 * follows the documented contract:
 *
 * - Entries (https://www.contentful.com/developers/docs/references/content-management-api/#/reference/entries):
 *   `GET /spaces/{space}/environments/{env}/entries/{id}` answers the entry
 *   (`sys` + `fields`, every field keyed by locale). `PUT` on the same path
 *   creates the entry with that id ("Create an entry with a specified ID"),
 *   which needs `X-Contentful-Content-Type`; on an existing entry it replaces
 *   `fields` entirely (the CMA does not merge, "Updating content") and needs
 *   `X-Contentful-Version` equal to the current `sys.version`. Versions start
 *   at 1 and go up by one on every write.
 * - Publishing ("Entry publishing"): `PUT .../entries/{id}/published` with
 *   `X-Contentful-Version`; it sets `sys.publishedVersion` to that version
 *   and, being a change of the entry, bumps `sys.version` by one, so a
 *   published, unchanged entry has `version === publishedVersion + 1`.
 * - Resource ids (CMA overview, "Resource IDs"): `/^[a-zA-Z0-9-_.]{1,64}$/`.
 * - Errors (https://www.contentful.com/developers/docs/references/errors/):
 *   body `{sys: {type: 'Error', id}, message, details?, requestId}`, with the
 *   table's statuses: 400 BadRequest (malformed body, missing required
 *   header, unknown or inactive content type — the message is Contentful's,
 *   as quoted in contentful/contentful-cli#195), 401 AccessTokenInvalid,
 *   404 NotFound, 409 VersionMismatch ("you didn't specify the current
 *   version of the object or specified an outdated version"), 422
 *   InvalidEntry for a field or locale the content type does not have or a
 *   value of the wrong type, 429 RateLimitExceeded, 500 ServerError,
 *   502 Hibernated.
 * - Rate limits (CMA overview, "API rate limits",
 *   https://www.contentful.com/developers/docs/references/content-management-api/#/introduction/api-rate-limits):
 *   every answer carries `X-Contentful-RateLimit-Reset` (0 when not
 *   limited); a 429 sets it to the whole seconds until a request is
 *   accepted again. Here the limit is injected (`rateLimit`) rather than
 *   timed, so tests never wait.
 *
 * Test levers: `rateLimit`, `failNext` (5xx answers or dropped connections),
 * `beforeNext` (run something, such as another client's write, just before a
 * request is handled) and `writeAsAnotherClient`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FieldType = 'Symbol' | 'Text' | 'Date' | 'Object' | 'Array<Symbol>';
export type Fields = Record<string, Record<string, unknown>>;

export interface StandinEntry {
  sys: {
    id: string;
    type: 'Entry';
    version: number;
    publishedVersion?: number;
    publishedCounter?: number;
    publishedAt?: string;
    firstPublishedAt?: string;
    contentType: { sys: { type: 'Link'; linkType: 'ContentType'; id: string } };
    space: { sys: { type: 'Link'; linkType: 'Space'; id: string } };
    environment: { sys: { type: 'Link'; linkType: 'Environment'; id: string } };
    createdAt: string;
    updatedAt: string;
  };
  fields: Fields;
}

/** The content type the README tells a site to create for the sink. */
export const IDENTITY_USER_FIELDS: Record<string, FieldType> = {
  identityId: 'Symbol', email: 'Symbol', roles: 'Array<Symbol>', appMetadata: 'Object', userMetadata: 'Object',
  createdAt: 'Date', updatedAt: 'Date', observedAt: 'Date', confirmedAt: 'Date', lastLoginAt: 'Date',
};

export interface ContentfulStandinOptions {
  spaceId: string;
  environmentId?: string;
  managementToken: string;
  /** Activated content types: id → field id → type. Default `{identityUser: IDENTITY_USER_FIELDS}`. */
  contentTypes?: Record<string, Record<string, FieldType>>;
  /** The environment's locales. Default `['en-US']`. */
  locales?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: unknown;
  /** What the stand-in answered; 0 for a dropped connection. */
  status: number;
}

export type Failure = { status: 500 | 502 | 503 } | 'drop';

export interface ContentfulStandin {
  /** Base URL to give the sink (`baseUrl`). */
  url: string;
  requests: RecordedRequest[];
  entry(id: string): StandinEntry | undefined;
  /** A write by someone else (an editor, another sync): creates the entry or bumps its version like a PUT would. */
  writeAsAnotherClient(id: string, change: (fields: Fields) => Fields, contentTypeId?: string): StandinEntry;
  /** After `allow` more requests, answer the next `times` (default 1) with 429 and this reset. */
  rateLimit(options: { allow: number; resetSeconds: number; times?: number }): void;
  /** The next `count` requests fail this way before reaching the API. */
  failNext(count: number, failure: Failure): void;
  /** Runs `hook` once, just before the next request with this method whose path ends with `pathEnd`. */
  beforeNext(method: string, pathEnd: string, hook: () => void): void;
  close(): Promise<void>;
}

const RESOURCE_ID = /^[a-zA-Z0-9\-_.]{1,64}$/;
const MEDIA_TYPE = 'application/vnd.contentful.management.v1+json';

export async function startContentfulStandin(options: ContentfulStandinOptions): Promise<ContentfulStandin> {
  const environmentId = options.environmentId ?? 'master';
  const contentTypes = options.contentTypes ?? { identityUser: IDENTITY_USER_FIELDS };
  const locales = options.locales ?? ['en-US'];
  const entries = new Map<string, StandinEntry>();
  const requests: RecordedRequest[] = [];
  const failures: Failure[] = [];
  const hooks: { method: string; pathEnd: string; hook: () => void }[] = [];
  let limit: { allow: number; resetSeconds: number; times: number } | null = null;
  const prefix = `/spaces/${options.spaceId}/environments/${environmentId}/entries/`;

  function newEntry(id: string, contentTypeId: string, fields: Fields): StandinEntry {
    const now = new Date().toISOString();
    return {
      sys: {
        id, type: 'Entry', version: 1,
        contentType: { sys: { type: 'Link', linkType: 'ContentType', id: contentTypeId } },
        space: { sys: { type: 'Link', linkType: 'Space', id: options.spaceId } },
        environment: { sys: { type: 'Link', linkType: 'Environment', id: environmentId } },
        createdAt: now, updatedAt: now,
      },
      fields,
    };
  }

  function writeFields(entry: StandinEntry, fields: Fields): void {
    entry.fields = fields;
    entry.sys.version += 1;
    entry.sys.updatedAt = new Date().toISOString();
  }

  /** Entry validation on save: every field and locale must exist, every value must have the field's type. */
  function invalidFields(contentTypeId: string, fields: unknown): object[] {
    const definition = contentTypes[contentTypeId]!;
    if (!isObject(fields)) return [{ name: 'type', path: ['fields'], details: 'fields must be an object' }];
    const errors: object[] = [];
    for (const [name, localized] of Object.entries(fields)) {
      const type = definition[name];
      if (!type) { errors.push({ name: 'unknown', path: ['fields', name], details: `The property "${name}" is not expected` }); continue; }
      if (!isObject(localized)) { errors.push({ name: 'type', path: ['fields', name], details: 'a field is an object keyed by locale' }); continue; }
      for (const [locale, value] of Object.entries(localized)) {
        if (!locales.includes(locale)) errors.push({ name: 'unknown', path: ['fields', name, locale], details: `The property "${locale}" is not expected` });
        else if (value !== null && !hasType(value, type)) errors.push({ name: 'type', type, value, path: ['fields', name, locale], details: `The type of "value" is incorrect, expected type: ${type}` });
      }
    }
    return errors;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    const thisRequestId = requestId();
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'Content-Type': MEDIA_TYPE, 'X-Contentful-Request-Id': thisRequestId, 'X-Contentful-RateLimit-Reset': '0', ...headers });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, errorId: string, message: string, details?: object) =>
      answer(status, { sys: { type: 'Error', id: errorId }, message, ...(details ? { details } : {}), requestId: thisRequestId });

    const failure = failures.shift();
    if (failure === 'drop') { record.status = 0; req.socket.destroy(); return; }
    if (failure?.status === 500) return error(500, 'ServerError', 'Internal Server Error');
    if (failure?.status === 502) return error(502, 'Hibernated', 'The space has not been accessed for a long time and is being woken up.');
    if (failure?.status === 503) {
      // In front of the API: a gateway's page, not a Contentful error body.
      record.status = 503;
      res.writeHead(503, { 'Content-Type': 'text/html' });
      res.end('<html><body><h1>503 Service Unavailable</h1></body></html>');
      return;
    }

    if (limit) {
      if (limit.allow > 0) limit.allow -= 1;
      else {
        const reset = String(limit.resetSeconds);
        limit.times -= 1;
        if (limit.times <= 0) limit = null;
        return answer(429, {
          sys: { type: 'Error', id: 'RateLimitExceeded' },
          message: 'You have exceeded the rate limit of the Organization this Space belongs to by making too many API requests within a short timespan. Please wait a moment before trying the request again.',
          requestId: thisRequestId,
        }, { 'X-Contentful-RateLimit-Reset': reset });
      }
    }

    if (req.headers.authorization !== `Bearer ${options.managementToken}`) {
      return error(401, 'AccessTokenInvalid', 'The access token you sent could not be found or is invalid.');
    }

    const index = hooks.findIndex((h) => h.method === req.method && record.path.endsWith(h.pathEnd));
    if (index >= 0) hooks.splice(index, 1)[0]!.hook();

    const url = new URL(req.url ?? '/', 'http://standin');
    const match = url.pathname.startsWith(prefix) ? /^([^/]+)(\/published)?$/.exec(url.pathname.slice(prefix.length)) : null;
    const id = match ? decodeURIComponent(match[1]!) : '';
    if (!match || !RESOURCE_ID.test(id) || (req.method !== 'GET' && req.method !== 'PUT') || (match[2] && req.method !== 'PUT')) {
      return error(404, 'NotFound', 'The resource could not be found.', { type: 'Entry' });
    }
    const entry = entries.get(id);
    const versionHeader = req.headers['x-contentful-version'];

    if (req.method === 'GET') {
      return entry ? answer(200, entry) : error(404, 'NotFound', 'The resource could not be found.', { type: 'Entry', id });
    }

    if (match[2]) {
      if (!entry) return error(404, 'NotFound', 'The resource could not be found.', { type: 'Entry', id });
      if (versionHeader !== String(entry.sys.version)) return error(409, 'VersionMismatch', 'Version mismatch error');
      const now = new Date().toISOString();
      entry.sys.publishedVersion = entry.sys.version;
      entry.sys.publishedCounter = (entry.sys.publishedCounter ?? 0) + 1;
      entry.sys.publishedAt = now;
      entry.sys.firstPublishedAt ??= now;
      entry.sys.version += 1;
      entry.sys.updatedAt = now;
      return answer(200, entry);
    }

    let body: unknown;
    try {
      body = JSON.parse(String(record.body ?? ''));
    } catch {
      return error(400, 'BadRequest', 'The body you sent is not valid JSON.');
    }
    record.body = body;
    if (!isObject(body)) return error(400, 'BadRequest', 'The body you sent is not valid JSON.');

    if (entry) {
      if (versionHeader !== String(entry.sys.version)) return error(409, 'VersionMismatch', 'Version mismatch error');
      const invalid = invalidFields(entry.sys.contentType.sys.id, body.fields ?? {});
      if (invalid.length) return error(422, 'InvalidEntry', 'Validation error', { errors: invalid });
      writeFields(entry, (body.fields ?? {}) as Fields);
      return answer(200, entry);
    }

    const contentTypeId = req.headers['x-contentful-content-type'];
    if (typeof contentTypeId !== 'string' || contentTypeId === '') {
      return error(400, 'BadRequest', 'The X-Contentful-Content-Type header is required to create an entry.');
    }
    if (!contentTypes[contentTypeId]) return error(400, 'BadRequest', 'The content type you sent could not be found or was not activated.');
    const invalid = invalidFields(contentTypeId, body.fields ?? {});
    if (invalid.length) return error(422, 'InvalidEntry', 'Validation error', { errors: invalid });
    const created = newEntry(id, contentTypeId, (body.fields ?? {}) as Fields);
    entries.set(id, created);
    return answer(201, created);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
      const record: RecordedRequest = { method: req.method ?? '', path: new URL(req.url ?? '/', 'http://standin').pathname, headers, body: chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined, status: 0 };
      requests.push(record);
      handle(req, res, record).catch((err: unknown) => {
        record.status = 500;
        res.writeHead(500, { 'Content-Type': MEDIA_TYPE });
        res.end(JSON.stringify({ sys: { type: 'Error', id: 'ServerError' }, message: String(err), requestId: requestId() }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    entry: (id) => (entries.has(id) ? structuredClone(entries.get(id)) : undefined),
    writeAsAnotherClient(id, change, contentTypeId = Object.keys(contentTypes)[0]!) {
      const existing = entries.get(id);
      if (existing) writeFields(existing, change(structuredClone(existing.fields)));
      else entries.set(id, newEntry(id, contentTypeId, change({})));
      return structuredClone(entries.get(id)!);
    },
    rateLimit: ({ allow, resetSeconds, times = 1 }) => { limit = { allow, resetSeconds, times }; },
    failNext: (count, failure) => { for (let i = 0; i < count; i += 1) failures.push(failure); },
    beforeNext: (method, pathEnd, hook) => { hooks.push({ method, pathEnd, hook }); },
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
}

function requestId(): string {
  return randomBytes(12).toString('hex');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'Symbol': case 'Text': return typeof value === 'string';
    case 'Date': return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'Object': return typeof value === 'object' && value !== null;
    case 'Array<Symbol>': return Array.isArray(value) && value.every((item) => typeof item === 'string');
  }
}
