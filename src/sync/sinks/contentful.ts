/**
 * Sink: one Contentful entry per Identity user, through the Content
 * Management API (https://www.contentful.com/developers/docs/references/content-management-api/).
 *
 * The entry id is the Identity id, so a user maps to one entry without a
 * lookup. Each user is read, compared by `updatedAt`/`lastLoginAt` (the same
 * rule as the store's `upsert_identity_users`), and written only when that
 * changes something, so replays and older copies cost one GET and no write.
 */
import { compareVersions, type IdentityUser } from '../../core/identity-user.js';
import { emptyReport, type IdentitySink, type SinkReport } from '../sink.js';
import { RolegateError } from '../../core/rolegate-error.js';

export interface ContentfulSinkOptions {
  spaceId: string;
  /** Default `master`. */
  environmentId?: string;
  /** A CMA token (personal access token or app token); sent only in `Authorization`. */
  managementToken: string;
  /** Default `identityUser`. The content type must exist and be activated. */
  contentTypeId?: string;
  /** The locale the fields are written in. Default `en-US`. */
  locale?: string;
  /** Default `https://api.contentful.com` (EU data residency: `https://api.eu.contentful.com`). */
  baseUrl?: string;
  /** Publish each entry after writing it. Default false (entries stay drafts). */
  publish?: boolean;
  fetch?: typeof fetch;
  /** Waits between retries; tests pass a recorder so nothing really sleeps. */
  sleep?: (ms: number) => Promise<void>;
  /** Retries of one request after a 429, a 5xx, a timeout or a network error. Default 5. */
  maxRetries?: number;
  /** Per request. Default 10 000. */
  timeoutMs?: number;
}

export type ContentfulSinkErrorCode =
  | 'unauthorized' // 401/403: the token is wrong or lacks the role; retrying cannot help
  | 'rejected' // any other 4xx: the request or the content type is wrong
  | 'rate_limited' // still 429 after every retry
  | 'unavailable' // still 5xx, timing out or unreachable after every retry
  | 'conflict' // still losing VersionMismatch races after every re-read
  | 'wrong_content_type'; // an entry with this id exists but is of another content type

/** A failed sync to Contentful. The message names the status and Contentful's `sys.id`, never the token. */
export class ContentfulSinkError extends RolegateError {
  constructor(
    readonly code: ContentfulSinkErrorCode,
    message: string,
    readonly status?: number,
    readonly contentfulErrorId?: string,
  ) {
    super(message);
    this.name = 'ContentfulSinkError';
  }

  /** A wrong token, a rate limit that never lifts or a dead API fails every user alike: a batch job should stop. */
  get outage(): boolean {
    return this.code === 'unauthorized' || this.code === 'rate_limited' || this.code === 'unavailable';
  }
}

interface Entry {
  sys: { id: string; version: number; publishedVersion?: number; contentType?: { sys: { id: string } } };
  fields: Record<string, Record<string, unknown>>;
}

type Outcome = keyof SinkReport;
type UserFields = Record<string, unknown>;

// Contentful's rule for ids it did not generate: CMA overview, "Resource IDs".
const RESOURCE_ID = /^[A-Za-z0-9\-_.]{1,64}$/;
const MEDIA_TYPE = 'application/vnd.contentful.management.v1+json';
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 8_000;
// X-Contentful-RateLimit-Reset is normally 1 (per-second limit); a long reset means an hourly quota, not worth holding a function open for.
const RATE_LIMIT_WAIT_CAP_MS = 60_000;
const MAX_CONFLICT_ROUNDS = 5;

/**
 * Copies Identity users into Contentful entries of one content type.
 *
 * @example
 * const sink = contentfulSink({ spaceId: 'abc123', managementToken: env.CONTENTFUL_MANAGEMENT_TOKEN });
 * await sink.upsert(users); // { created, updated, unchanged, stale }
 */
export function contentfulSink(options: ContentfulSinkOptions): IdentitySink {
  const config = checkOptions(options);
  const request = requester(config);
  // A PUT never answers 404-as-null (only GET does), so its entry is always there.
  const put = async (path: string, headers: Record<string, string>, body: unknown, signal?: AbortSignal) =>
    (await request<Entry>('PUT', path, headers, body, signal))!;

  async function syncOne(user: IdentityUser, signal?: AbortSignal): Promise<Outcome> {
    const path = `/entries/${encodeURIComponent(user.id)}`;
    let wrote: 'created' | 'updated' | undefined;
    for (let round = 0; round < MAX_CONFLICT_ROUNDS; round += 1) {
      try {
        const found = await request<Entry>('GET', path, {}, undefined, signal);
        let entry: Entry;
        let outcome: Outcome;
        if (found === null) {
          entry = await put(path, { 'X-Contentful-Content-Type': config.contentTypeId }, { fields: withUser({}, fieldsOf(user), config.locale) }, signal);
          wrote ??= 'created';
          outcome = wrote;
        } else {
          entry = found;
          const contentType = entry.sys.contentType?.sys.id;
          if (contentType !== config.contentTypeId) {
            throw new ContentfulSinkError('wrong_content_type', `contentful: entry ${user.id} exists with content type ${contentType ?? '(none)'}, not ${config.contentTypeId}`);
          }
          const decision = decide(entry, user, config.locale);
          if (decision.fields) {
            // The CMA does not merge: the whole `fields` goes back, so other fields and locales an editor set are kept.
            entry = await put(path, { 'X-Contentful-Version': String(entry.sys.version) }, { fields: decision.fields }, signal);
            // Moving only the order key on is a write, not a change to report.
            if (decision.outcome === 'updated') wrote ??= 'updated';
          }
          outcome = wrote ?? decision.outcome;
        }
        // "Published and current" is publishedVersion + 1 === version (publishing itself bumps the version).
        if (config.publish && entry.sys.publishedVersion !== entry.sys.version - 1) {
          await put(`${path}/published`, { 'X-Contentful-Version': String(entry.sys.version) }, undefined, signal);
        }
        return outcome;
      } catch (error) {
        // Someone wrote between our read and our write: read again and decide again.
        if (error instanceof ContentfulSinkError && error.contentfulErrorId === 'VersionMismatch') continue;
        throw error;
      }
    }
    throw new ContentfulSinkError('conflict', `contentful: entry ${user.id} kept changing under us (${MAX_CONFLICT_ROUNDS} VersionMismatch in a row)`, 409, 'VersionMismatch');
  }

  return {
    name: 'contentful',
    async upsert(users, signal) {
      const report = emptyReport();
      for (const user of newestPerId(users)) {
        signal?.throwIfAborted();
        report[await syncOne(user, signal)] += 1;
      }
      return report;
    },
  };
}

/** What to do with an existing entry: the same ordering rule as the store's upsert_identity_users. */
function decide(entry: Entry, user: IdentityUser, locale: string): { outcome: Outcome; fields?: Entry['fields'] } {
  const stored = (name: string): number | null => {
    const value = entry.fields[name]?.[locale];
    const time = typeof value === 'string' ? Date.parse(value) : NaN;
    return Number.isNaN(time) ? null : time;
  };
  const storedUpdated = stored('updatedAt');
  const storedObserved = stored('observedAt');
  const storedLogin = stored('lastLoginAt');
  const incomingLogin = user.lastLoginAt === null ? null : Date.parse(user.lastLoginAt);
  const loginForward = incomingLogin !== null && (storedLogin === null || incomingLogin > storedLogin);
  // The same two-key order as the store: updatedAt, then observedAt (an entry
  // written before observedAt existed counts as observed at the epoch).
  const order = storedUpdated === null ? 1 : compareVersions(user, {
    updatedAt: new Date(storedUpdated).toISOString(), observedAt: new Date(storedObserved ?? 0).toISOString(),
  });

  if (order > 0) {
    const fields = fieldsOf(user);
    if (!loginForward) fields.lastLoginAt = entry.fields.lastLoginAt?.[locale] ?? null;
    fields.createdAt = entry.fields.createdAt?.[locale] ?? fields.createdAt;
    const changed = !sameData(entry, fields, locale);
    if (changed || loginForward) return { outcome: 'updated', fields: withUser(entry.fields, fields, locale) };
    // Newer but the same data: move the order key on without counting a change.
    return { outcome: 'unchanged', fields: withUser(entry.fields, { updatedAt: user.updatedAt, observedAt: user.observedAt }, locale) };
  }
  if (loginForward) return { outcome: 'updated', fields: withUser(entry.fields, { lastLoginAt: user.lastLoginAt }, locale) };
  return { outcome: order < 0 ? 'stale' : 'unchanged' };
}

/** Whether the entry already holds these values for the fields that are data (not order keys). */
function sameData(entry: Entry, fields: UserFields, locale: string): boolean {
  const data = ['identityId', 'email', 'roles', 'appMetadata', 'userMetadata', 'confirmedAt', 'lastLoginAt'] as const;
  return data.every((name) => JSON.stringify(entry.fields[name]?.[locale] ?? null) === JSON.stringify(fields[name] ?? null));
}

function fieldsOf(user: IdentityUser): UserFields {
  return {
    identityId: user.id, email: user.email, roles: user.roles, appMetadata: user.appMetadata, userMetadata: user.userMetadata,
    createdAt: user.createdAt, updatedAt: user.updatedAt, observedAt: user.observedAt, confirmedAt: user.confirmedAt, lastLoginAt: user.lastLoginAt,
  };
}

/** `fields` with ours set in `locale`; a null leaves the field unset in that locale rather than storing null. */
function withUser(existing: Entry['fields'], values: UserFields, locale: string): Entry['fields'] {
  const fields: Entry['fields'] = structuredClone(existing);
  for (const [name, value] of Object.entries(values)) {
    const localized = { ...fields[name] };
    if (value === null || value === undefined) delete localized[locale];
    else localized[locale] = value;
    if (Object.keys(localized).length === 0) delete fields[name];
    else fields[name] = localized;
  }
  return fields;
}

/**
 * One copy per id, checked before any request so a bad row fails the batch
 * before anything is written: the newest copy (`compareVersions`) wins, and the latest
 * `lastLoginAt` of all copies is kept (logins only move forward).
 */
function newestPerId(users: IdentityUser[]): IdentityUser[] {
  const byId = new Map<string, IdentityUser>();
  for (const user of users) {
    if (!RESOURCE_ID.test(user.id)) throw new TypeError(`contentful: user id ${JSON.stringify(user.id)} is not a valid Contentful entry id`);
    if (Number.isNaN(Date.parse(user.updatedAt))) throw new TypeError(`contentful: user ${user.id} has no valid updatedAt`);
    if (user.lastLoginAt !== null && Number.isNaN(Date.parse(user.lastLoginAt))) throw new TypeError(`contentful: user ${user.id} has an invalid lastLoginAt`);
    const seen = byId.get(user.id);
    if (!seen) { byId.set(user.id, user); continue; }
    const newest = compareVersions(user, seen) > 0 ? user : seen;
    const logins = [seen.lastLoginAt, user.lastLoginAt].filter((t): t is string => t !== null);
    const lastLoginAt = logins.sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1) ?? null;
    byId.set(user.id, { ...newest, lastLoginAt });
  }
  return [...byId.values()];
}

type Config = ReturnType<typeof checkOptions>;

function checkOptions(options: ContentfulSinkOptions) {
  const config = {
    spaceId: options.spaceId,
    environmentId: options.environmentId ?? 'master',
    managementToken: options.managementToken,
    contentTypeId: options.contentTypeId ?? 'identityUser',
    locale: options.locale ?? 'en-US',
    baseUrl: (options.baseUrl ?? 'https://api.contentful.com').replace(/\/+$/, ''),
    publish: options.publish ?? false,
    fetch: options.fetch ?? globalThis.fetch,
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))),
    maxRetries: options.maxRetries ?? 5,
    timeoutMs: options.timeoutMs ?? 10_000,
  };
  for (const name of ['spaceId', 'environmentId', 'contentTypeId'] as const) {
    if (typeof config[name] !== 'string' || !RESOURCE_ID.test(config[name])) throw new TypeError(`contentfulSink: ${name} must be a Contentful id (1–64 of A-Z a-z 0-9 - _ .)`);
  }
  if (typeof config.managementToken !== 'string' || config.managementToken.trim() === '') throw new TypeError('contentfulSink: managementToken is required');
  if (typeof config.locale !== 'string' || config.locale === '') throw new TypeError('contentfulSink: locale must be a locale code such as en-US');
  if (!/^https?:\/\/[^/]/.test(config.baseUrl)) throw new TypeError('contentfulSink: baseUrl must be an http(s) URL');
  if (!Number.isInteger(config.maxRetries) || config.maxRetries < 0) throw new TypeError('contentfulSink: maxRetries must be a whole number ≥ 0');
  if (!Number.isFinite(config.timeoutMs) || config.timeoutMs <= 0) throw new TypeError('contentfulSink: timeoutMs must be a positive number');
  return config;
}

/**
 * One CMA call with retries: a 429 waits `X-Contentful-RateLimit-Reset`
 * seconds (CMA overview, "API rate limits"); 5xx, timeouts and network
 * errors back off exponentially with jitter. Answers null for 404, the
 * parsed body for 2xx, and throws ContentfulSinkError for the rest
 * (errors are `{sys: {type: 'Error', id}, message, requestId}`, see
 * https://www.contentful.com/developers/docs/references/errors/).
 */
function requester(config: Config) {
  const root = `${config.baseUrl}/spaces/${encodeURIComponent(config.spaceId)}/environments/${encodeURIComponent(config.environmentId)}`;
  // A token can only reach a message through text we did not write (a server or network error); scrub it there.
  const scrub = (text: string) => text.split(config.managementToken).join('[redacted]');

  return async function request<T>(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, body: unknown, signal?: AbortSignal): Promise<T | null> {
    const what = `${method} ${path.replace(/^\//, '')}`;
    for (let attempt = 0; ; attempt += 1) {
      signal?.throwIfAborted();
      const timeout = AbortSignal.timeout(config.timeoutMs);
      let response: Response;
      try {
        response = await config.fetch(`${root}${path}`, {
          method,
          headers: { Authorization: `Bearer ${config.managementToken}`, ...(body === undefined ? {} : { 'Content-Type': MEDIA_TYPE }), ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const reason = timeout.aborted ? `no answer within ${config.timeoutMs} ms` : scrub(errorText(error));
        if (attempt >= config.maxRetries) throw new ContentfulSinkError('unavailable', `contentful: ${what} failed after ${attempt + 1} attempts: ${reason}`);
        await config.sleep(backoff(attempt));
        continue;
      }
      if (response.ok) return (await response.json()) as T;
      if (response.status === 404 && method === 'GET') return null;

      const text = await response.text().catch(() => '');
      const problem = parseError(text);
      const label = `${response.status}${problem.id ? ` ${problem.id}` : ''}`;
      const detail = problem.message ? `: ${scrub(problem.message)}` : '';
      const retriable = response.status === 429 || response.status >= 500;
      if (!retriable) {
        const code = response.status === 401 || response.status === 403 ? 'unauthorized' : 'rejected';
        throw new ContentfulSinkError(code, `contentful: ${what} answered ${label}${detail}`, response.status, problem.id);
      }
      if (attempt >= config.maxRetries) {
        const code = response.status === 429 ? 'rate_limited' : 'unavailable';
        throw new ContentfulSinkError(code, `contentful: ${what} answered ${label} ${attempt + 1} times, giving up${detail}`, response.status, problem.id);
      }
      const reset = Number(response.headers.get('X-Contentful-RateLimit-Reset'));
      const wait = response.status === 429 && Number.isFinite(reset) && reset > 0 ? Math.min(reset * 1000, RATE_LIMIT_WAIT_CAP_MS) : backoff(attempt);
      await config.sleep(wait);
    }
  };
}

/** Exponential backoff with "equal jitter": between half and all of base·2^attempt, capped. */
function backoff(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function parseError(text: string): { id?: string; message?: string } {
  try {
    const body = JSON.parse(text) as { sys?: { id?: unknown }; message?: unknown };
    return {
      id: typeof body.sys?.id === 'string' ? body.sys.id : undefined,
      message: typeof body.message === 'string' ? body.message : undefined,
    };
  } catch {
    return {}; // a proxy or load balancer page, not a Contentful error
  }
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
