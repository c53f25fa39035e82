/**
 * Property-based fuzzing of the admin API (src/auth/admin-handler.ts, the use cases of
 * src/auth/admin.ts, the store verbs of src/store/sql-store.ts and the SQL of migration
 * 20261207000000_admin_api.sql) with fast-check over one real PostgreSQL database, in the
 * style of identity-api-fuzz.test.ts. RUNS requests in all (FUZZ_RUNS, 2000 unless told),
 * shared among the nine routes by SHARE so the file runs in seconds, vary the caller (nobody,
 * a member, the admin's live session, an ended or stale one, an admin demoted or disabled since the token was issued, a token signed with another secret,
 * expired, `alg: none`, crafted and junk tokens of arbitraries.ts; in the nf_jwt cookie, a
 * Bearer header, or both), the method (mostly the right one; others, lower case, HEAD,
 * OPTIONS), the path (both prefixes, trailing and double slashes, dot segments, backslashes,
 * extra segments, upper case), the id (a target user as is, upper-cased, percent-encoded; the
 * admin's own in every spelling, a random UUID, no UUID, malformed %-escapes), the Origin
 * (the site's, an allowed sibling's, another, `null`, empty, absent), the query (valid and
 * hostile q/role/page/per_page/user/before/limit, duplicates, huge, non-ASCII, %-malformed)
 * and the body (roles as arrays, comma strings, too many, too long, invalid, non-arrays,
 * `__proto__`; invite addresses new, taken, password-less, invalid; invalid JSON, forms,
 * base64, oversized, any content type).
 *
 * For every answer:
 * - never a 5xx, a stack trace or a file path; JSON with `Cache-Control: no-store`; a refusal
 *   is exactly `{error: {code, message}}` with a known code and its status (405 with Allow);
 * - the status follows from the tables before the request, derived here independently of the
 *   handler: the API off or a path naming no route 404, a method the route has not 405, a
 *   change (or any request with an Origin) from an origin not allowed 403 bad_origin, then
 *   the token (401/403), then the caller's session and roles in the database now, then the
 *   route's own checks; success only for the admin's live session with the admin role held
 *   now and, for changes, an allowed Origin;
 * - a success changes exactly the rows its route names (TableSpec below), writes exactly its
 *   audit rows (with `detail.by` the admin and the client address), and answers what the
 *   database then holds; a refusal changes no table and writes no audit row (an invitation
 *   the store counted changes its two mail throttle rows, nothing else);
 * - reads change nothing at all, and no answer carries a password hash;
 * - the admin's own account is never disabled, deleted or demoted.
 *
 * Each case starts from the same tables: the fixture users as made, the same audit rows, one
 * unrelated throttle row, and no session, identity, link or mail but those the case makes
 * just before its request (in the statement that takes the picture before it). The seed is
 * fixed (FUZZ_SEED overrides it) and fast-check prints it with the shrunk counterexample.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHandler } from '../../src/auth/admin-handler.js';
import type { AuthDeps } from '../../src/auth/deps.js';
import { loginHandler } from '../../src/auth/handlers.js';
import { requestedRoles } from '../../src/auth/invite.js';
import { requestedAddress } from '../../src/auth/mailed-link.js';
import { checkAccessToken } from '../../src/auth/require-role.js';
import { signAccessToken } from '../../src/core/access-token-node.js';
import { AuthError } from '../../src/core/auth-errors.js';
import { emailTokenHash } from '../../src/core/email-token.js';
import type { PasswordHasher } from '../../src/core/password.js';
import { newRefreshToken } from '../../src/core/refresh-token.js';
import { Secret } from '../../src/core/secret.js';
import { ACCESS_COOKIE, fingerprintCookieName } from '../../src/http/cookies.js';
import { clientIp, cookiesOf, header, parseBody } from '../../src/http/request.js';
import { STATUS } from '../../src/http/respond.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, linkLifetime, type AccountSettings } from '../../src/site-config/account-settings.js';
import { isUuid } from '../../src/store/sql-store.js';
import { PASSWORD, SECRET, makeDeps } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { captureLogs, leakedSecrets } from '../support/log-capture.js';
import { SITE, bodyEnvelope, codeOf, cookieValueArb, encodeLoosely, formEncode, headerValue, mangle, nastyString, type BodyRecipe, type CookieValueRecipe, type Mangle } from './arbitraries.js';
import { diff, rolegateTables, type Snapshot, type TableDiff } from './tables.js';

const logs = captureLogs();

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
/** Requests in all, shared among the routes by SHARE (2000 take about 10 s; 2000 a route would take about 85 s). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const BASE = '/auth/admin';
const FUNCTION_BASE = '/.netlify/functions/admin';
/** An allowed sibling origin (ALLOWED_ORIGINS): a change from it is the site's own. */
const SIBLING = 'https://app.site.example';
const WRONG_SECRET = 'another-secret-that-rolegate-never-signs-with-000';
const STACK_TRACE = /\n\s+at\s|\bat\s+\S+\s+\(|\.[cm]?[jt]s:\d+|node_modules|\/work\/|file:\/\/|Error:\s/;
const PASSWORD_HASH = /\$2[aby]\$|password_hash/;
const IP = '203.0.113.10';
const MAIL_PER_ADDRESS = 3;
const MAIL_PER_SENDER = 50;
/** A throttle row no admin request has any business with. */
const UNRELATED_THROTTLE = `ip:${IP}`;
/** Every code the admin API may refuse with; anything else is a bug. */
const KNOWN_CODES = ['not_found', 'method_not_allowed', 'bad_origin', 'unauthenticated', 'session_expired', 'forbidden', 'bad_request',
  'payload_too_large', 'unsupported_media_type', 'own_account', 'user_exists', 'throttled'];

/** A hash in bcrypt's form (the schema checks it) that costs nothing: the admin API never checks a password. */
const fakeHash = (password: string) => `$2b$04$${createHash('sha512').update(`fuzz stand-in\n${password}`).digest('base64').replace(/\+/g, '.').slice(0, 53)}`;
const hasher: PasswordHasher = { hash: async (p) => fakeHash(p), compare: async (p, h) => h === fakeHash(p) };

// ------------------------------------------------------------ the routes

type Route = 'list' | 'detail' | 'delete' | 'roles' | 'disable' | 'enable' | 'sessions' | 'invite' | 'audit';
const ROUTES: Record<Route, { method: string; path: string; allow: string[] }> = {
  list: { method: 'GET', path: '/users', allow: ['GET'] },
  detail: { method: 'GET', path: '/users/:id', allow: ['GET', 'DELETE'] },
  delete: { method: 'DELETE', path: '/users/:id', allow: ['GET', 'DELETE'] },
  roles: { method: 'PUT', path: '/users/:id/roles', allow: ['PUT'] },
  disable: { method: 'POST', path: '/users/:id/disable', allow: ['POST'] },
  enable: { method: 'POST', path: '/users/:id/enable', allow: ['POST'] },
  sessions: { method: 'DELETE', path: '/users/:id/sessions', allow: ['DELETE'] },
  invite: { method: 'POST', path: '/invite', allow: ['POST'] },
  audit: { method: 'GET', path: '/audit', allow: ['GET'] },
};
/** Each route's part of RUNS: more for the changes that read a body, whose inputs vary most. */
const SHARE: Record<Route, number> = { list: 0.11, detail: 0.1, delete: 0.11, roles: 0.16, disable: 0.1, enable: 0.09, sessions: 0.09, invite: 0.14, audit: 0.1 };
const OTHER_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'get', 'post', 'put', 'delete', '', 'TRACE'];

// ------------------------------------------------------------ arbitraries

/** Who calls: the admin's live session most, then everyone who must be refused. */
type Who = 'admin' | 'none' | 'member' | 'ended' | 'stale' | 'demoted' | 'disabled-admin' | 'wrong-secret' | 'expired' | 'alg-none' | 'foreign-sid' | 'garbage' | 'raw';
/** How the token travels: a Bearer header, the nf_jwt cookie, or the cookie with a header that is no Bearer (the header wins). */
type Transport = 'bearer' | 'cookie' | 'cookie-and-header';
interface CallerRecipe { who: Who; transport: Transport; scheme: string; garbage?: string; raw?: CookieValueRecipe }

const callerArb: fc.Arbitrary<CallerRecipe> = fc.record({
  who: fc.oneof(
    { weight: 20, arbitrary: fc.constant<Who>('admin') },
    { weight: 10, arbitrary: fc.constantFrom<Who>('none', 'member', 'member', 'demoted', 'ended', 'stale', 'demoted', 'disabled-admin', 'wrong-secret', 'expired', 'alg-none', 'foreign-sid', 'garbage', 'raw') },
  ),
  transport: fc.constantFrom<Transport>('bearer', 'bearer', 'cookie', 'cookie', 'cookie-and-header'),
  scheme: fc.oneof({ weight: 12, arbitrary: fc.constant('Bearer ') }, { weight: 2, arbitrary: fc.constantFrom('bearer ', 'BEARER\t', 'Bearer  ') }, { weight: 1, arbitrary: fc.constantFrom('Basic ', 'Bearer', 'Token ', '', ' Bearer ') }),
  garbage: fc.option(headerValue, { nil: undefined }),
  raw: fc.option(cookieValueArb, { nil: undefined }),
});

type PathMangle = 'exact' | 'function' | 'trailing' | 'trailing2' | 'dot' | 'dotdot' | 'backslash' | 'upper' | 'double' | 'extra' | 'prefix' | 'encoded-slash';
/** The spellings the URL parser (or the handler's trailing-slash rule) brings back to the route; every other one names nothing. */
const ROUTING: ReadonlySet<PathMangle> = new Set<PathMangle>(['exact', 'function', 'trailing', 'trailing2', 'dot', 'dotdot', 'backslash']);
const pathMangleArb = fc.oneof(
  { weight: 30, arbitrary: fc.constant<PathMangle>('exact') },
  { weight: 6, arbitrary: fc.constantFrom<PathMangle>('function', 'trailing', 'trailing2', 'dot', 'dotdot', 'backslash') },
  { weight: 3, arbitrary: fc.constantFrom<PathMangle>('upper', 'double', 'extra', 'prefix', 'encoded-slash') },
);

function pathOf(endpoint: string, mangle: PathMangle): string {
  switch (mangle) {
    case 'exact': return `${BASE}${endpoint}`;
    case 'function': return `${FUNCTION_BASE}${endpoint}`;
    case 'trailing': return `${BASE}${endpoint}/`;
    case 'trailing2': return `${BASE}${endpoint}//`;
    case 'dot': return `${BASE}/.${endpoint}`;
    case 'dotdot': return `${BASE}/zz/..${endpoint}`;
    case 'backslash': return `${BASE}\\${endpoint.slice(1)}`;
    case 'upper': return `${BASE}${endpoint.replace(/\/[a-z]+/g, (s) => s.toUpperCase())}`;
    case 'double': return `${BASE}/${endpoint}`;
    case 'extra': return `${BASE}${endpoint}/x/y`;
    case 'prefix': return `${BASE}x${endpoint}`;
    case 'encoded-slash': return `${BASE}%2F${endpoint.slice(1)}`;
  }
}

/**
 * The `{id}` of the user routes: the fixture users (the victim as is, upper case, with an
 * escaped first character), the admin's own in every spelling (a UUID PostgreSQL would
 * read in braces or without hyphens is no id here, so it must not reach the store either),
 * a UUID nobody has, what is no UUID, and malformed %-escapes (which name nobody).
 */
type IdRecipe = { kind: 'victim' | 'victim-upper' | 'victim-encoded' | 'peer' | 'invitee' | 'member' | 'disabled' | 'self' | 'self-upper' | 'self-encoded' | 'self-braces' | 'self-bare' | 'random' | 'nil' }
  | { kind: 'junk'; value: string } | { kind: 'malformed'; value: string };
const idArb: fc.Arbitrary<IdRecipe> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<IdRecipe>({ kind: 'victim' }) },
  { weight: 6, arbitrary: fc.constantFrom<IdRecipe>({ kind: 'victim-upper' }, { kind: 'victim-encoded' }, { kind: 'peer' }, { kind: 'invitee' }, { kind: 'member' }, { kind: 'disabled' }) },
  // A disabled user, so that disabling again and enabling are reached too.
  { weight: 2, arbitrary: fc.constant<IdRecipe>({ kind: 'disabled' }) },
  { weight: 5, arbitrary: fc.constantFrom<IdRecipe>({ kind: 'self' }, { kind: 'self' }, { kind: 'self-upper' }, { kind: 'self-encoded' }, { kind: 'self-braces' }, { kind: 'self-bare' }) },
  { weight: 2, arbitrary: fc.constantFrom<IdRecipe>({ kind: 'random' }, { kind: 'nil' }) },
  { weight: 2, arbitrary: fc.oneof(
    fc.constantFrom('not-a-uuid', 'abc', '0', 'null', 'undefined', "1' or '1'='1", '00000000-0000-4000-8000-00000000000g', 'a/b', ' ', '\u3000', '\ud800', 'ドキュメント', 'x'.repeat(300)),
    fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }),
  ).filter((v) => v !== '' && !/^\.+$/.test(v)).map((value): IdRecipe => ({ kind: 'junk', value })) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', '%ED%A0%80', 'ab%', '%%').map((value): IdRecipe => ({ kind: 'malformed', value })) },
);
const wellFormed = (s: string) => s.replace(/[\ud800-\udfff]/gu, '\ufffd');

const originArb = fc.oneof(
  { weight: 14, arbitrary: fc.constantFrom<string | undefined>(SITE, SITE, SITE, SIBLING, 'HTTPS://SITE.EXAMPLE') },
  { weight: 2, arbitrary: fc.constant<string | undefined>(undefined) },
  { weight: 2, arbitrary: fc.constantFrom<string | undefined>('null', 'https://evil.example', `${SITE}/`, 'https://site.example.evil.example', 'http://site.example', '', ' https://site.example', 'https://app.site.example.evil') },
);

/** The client address header: Netlify's, a long or odd one (the audit row keeps 64 characters), or none. */
const ipArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Array<[string, string]>>([['x-nf-client-connection-ip', IP]]) },
  { weight: 1, arbitrary: fc.constantFrom<Array<[string, string]>>([], [['x-forwarded-for', '198.51.100.7, 10.0.0.1']], [['client-ip', '2001:db8::1']], [['x-nf-client-connection-ip', `${'9'.repeat(70)}`]], [['x-nf-client-connection-ip', ' ']]) },
  { weight: 1, arbitrary: headerValue.map((v): Array<[string, string]> => [['x-nf-client-connection-ip', v]]) },
);

const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', 'APPLICATION/JSON') },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'multipart/form-data; boundary=x', 'application/xml', '', ';;;') },
  { weight: 1, arbitrary: headerValue },
);

/** A body of `fields`: mostly as the admin page sends it (JSON), else a form, junk JSON, oversized, or any envelope. */
function apiBody(fields: fc.Arbitrary<Record<string, unknown>>, formPair: fc.Arbitrary<[string, string]>, duplicated: string[]): fc.Arbitrary<BodyRecipe> {
  const clean = fields.map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)));
  const json = fc.oneof(
    { weight: 8, arbitrary: clean.map((f) => JSON.stringify(f)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"roles":', 'null', '[]', '"str"', '1', ...duplicated) },
    { weight: 1, arbitrary: clean.chain((f) => fc.integer({ min: 16 * 1024 - 64, max: 40_000 }).map((n) => JSON.stringify({ ...f, padding: 'p'.repeat(n) }))) },
  );
  const asForm = clean.map((f) => Object.entries(f).map(([k, v]): [string, string] => [k, Array.isArray(v) ? v.join(',') : String(v)]));
  const form = fc.tuple(fc.oneof(asForm, fc.array(formPair, { maxLength: 5 })), fc.boolean()).map(([pairs, raw]) => formEncode(pairs, raw));
  const asSent = fc.oneof(
    { weight: 4, arbitrary: clean.map((f): BodyRecipe => ({ body: JSON.stringify(f), contentType: 'application/json', isBase64Encoded: false })) },
    { weight: 1, arbitrary: asForm.map((pairs): BodyRecipe => ({ body: formEncode(pairs, false), contentType: 'application/x-www-form-urlencoded', isBase64Encoded: false })) },
    // The same JSON without its content type, or under another (415), and past the 16 KiB limit (413): a script's mistakes.
    { weight: 1, arbitrary: fc.tuple(clean, fc.constantFrom(undefined, 'text/plain', 'application/xml', 'multipart/form-data; boundary=x')).map(([f, contentType]): BodyRecipe => ({ body: JSON.stringify(f), contentType, isBase64Encoded: false })) },
    { weight: 1, arbitrary: fc.tuple(clean, fc.integer({ min: 16 * 1024 + 1, max: 70_000 })).map(([f, n]): BodyRecipe => ({ body: JSON.stringify({ ...f, padding: 'p'.repeat(n) }), contentType: 'application/json', isBase64Encoded: false })) },
  );
  return fc.oneof({ weight: 4, arbitrary: asSent }, { weight: 1, arbitrary: bodyEnvelope(json, form) });
}

/** A body for a route that reads none: nothing mostly, or anything. */
const anyBody: fc.Arbitrary<BodyRecipe> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<BodyRecipe>({ body: null, isBase64Encoded: false }) },
  { weight: 1, arbitrary: bodyEnvelope(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 30 })) },
);

const nonString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 2 }), fc.constant([['admin']]), fc.constant({ roles: ['admin'] }));

const rolesArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.constantFrom('member', 'editor', 'admin', 'staff.v2', 'a-b_c', 'A1', 'r'.repeat(64)), { maxLength: 4 }) },
  { weight: 3, arbitrary: fc.constantFrom('member', 'editor, member', 'admin,editor', 'member,,admin', ' , ', '', 'admin') },
  { weight: 2, arbitrary: fc.array(fc.oneof(fc.constantFrom('', ' member', 'a,b', 'x'.repeat(65), '.x', '-x', 'ドキュメント', '__proto__', 'admin\u0000', 'a b', ':admin', 'Admin'), nastyString), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 36 }).map((n) => Array.from({ length: n }, (_, i) => `r${i}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 7, max: 9 }).map((n) => Array.from({ length: n }, (_, i) => `${'r'.repeat(63)}${i}`)) },
  { weight: 1, arbitrary: nonString },
);
const rolesBody = apiBody(
  fc.oneof({ weight: 12, arbitrary: fc.record({ roles: rolesArb }) }, { weight: 1, arbitrary: fc.record({ role: rolesArb, roles: fc.constant(undefined) }) }, { weight: 1, arbitrary: fc.constant({}) }),
  fc.tuple(fc.constantFrom('roles', 'Roles', 'roles[]', ''), fc.constantFrom('member', 'admin,editor', 'a b', '')),
  ['{"roles":["admin"],"roles":["member"]}', '{"roles":["member"],"roles":["admin"]}', '{"__proto__":{"roles":["member"]}}', '{"roles":{"0":"admin","length":1}}'],
);

/** Invitation addresses: new ones (in any case, padded, not NFC), the fixtures' (taken, disabled, and `waiting`'s: invited, no password yet), and what is no address. */
function addressArb(known: string[], waiting: string): fc.Arbitrary<unknown> {
  const fresh = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.constantFrom('plain', 'plain', 'upper', 'padded', 'nfd', 'unicode')).map(([n, how]) => {
    const address = `invitee${n}@fuzz.example`;
    if (how === 'upper') return address.toUpperCase();
    if (how === 'padded') return ` ${address}\t`;
    if (how === 'nfd') return `jose\u0301-${address}`;
    if (how === 'unicode') return `ÉLODIE${n}@fuzz.example`;
    return address;
  });
  return fc.oneof(
    { weight: 6, arbitrary: fresh },
    { weight: 3, arbitrary: fc.constantFrom(...known, ...known.map((k) => k.toUpperCase()), ...known.map((k) => ` ${k} `)) },
    { weight: 2, arbitrary: fc.constantFrom(waiting, waiting.toUpperCase(), ` ${waiting}`) },
    { weight: 2, arbitrary: fc.oneof(nastyString, fc.constantFrom('a@b', '@fuzz.example', 'x@', 'a@@fuzz.example', 'a b@fuzz.example', `${'x'.repeat(250)}@fuzz.example`, 'new\u0000@fuzz.example', 'new\ud800@fuzz.example', 'new@fuzz.example\r\n')) },
    { weight: 1, arbitrary: nonString },
  );
}
const inviteBody = (known: string[], waiting: string) => apiBody(
  fc.record({ email: fc.oneof({ weight: 12, arbitrary: addressArb(known, waiting) }, { weight: 1, arbitrary: fc.constant(undefined) }), roles: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: rolesArb }) }),
  fc.tuple(fc.constantFrom('email', 'roles', 'Email', ''), fc.constantFrom('invitee1@fuzz.example', 'member', 'admin,editor', '')),
  ['{"email":"invitee1@fuzz.example","email":"admin@fuzz.example"}', '{"__proto__":{"email":"invitee1@fuzz.example"}}'],
);

const pageValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('1', '2', '3', '5', '100') },
  { weight: 2, arbitrary: fc.constantFrom('0', '-1', '', 'abc', '1e2', '101', '999999', '1000000', '000001', ' 1', '1.5', '\u0661', '0x10', 'Infinity') },
);
/** A query from `pairs` (each value present or not), encoded or raw, sometimes with junk of its own. */
function queryArb(pairs: Record<string, fc.Arbitrary<string>>, raw: string[]): fc.Arbitrary<string> {
  const record = fc.record(Object.fromEntries(Object.entries(pairs).map(([k, v]) => [k, fc.option(v, { nil: undefined })])) as Record<string, fc.Arbitrary<string | undefined>>);
  const built = fc.tuple(record, fc.boolean()).map(([values, loose]) => Object.entries(values).filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${loose ? encodeLoosely(v!).replace(/%25/g, '%') : encodeLoosely(v!)}`).join('&'));
  return fc.oneof({ weight: 2, arbitrary: fc.constant('') }, { weight: 8, arbitrary: built }, { weight: 1, arbitrary: fc.constantFrom(...raw) }, { weight: 1, arbitrary: fc.webQueryParameters() });
}
const listQueryArb = queryArb({
  q: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('fuzz', 'VICTIM', 'example', '@', '.', 'admin', 'nobody', 'i', 'PEER@FUZZ', 'e', '_', '%', "'; drop table rolegate.users; --", '\\') },
    { weight: 2, arbitrary: fc.constantFrom('ドキュメント', '\u212a', 'x'.repeat(320), 'x'.repeat(321), 'é'.repeat(321), '\u0000', 'a\u0000b', '\ud800', ' ', '\t') },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  ),
  role: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('member', 'admin', 'editor', 'staff.v2', 'nobody-has-it') }, { weight: 1, arbitrary: fc.constantFrom('', 'a b', 'x'.repeat(65), ',', 'member,admin', '__proto__', '\u0000', 'Admin') }),
  page: pageValue,
  per_page: pageValue,
}, ['q=a&q=victim', 'page=1&page=abc', 'per_page=2&per_page=1', 'q=%zz', 'q=%', 'q=%E0%A4%A', 'q=%00', 'role=%ZZ', 'Q=victim', 'page', 'q', '__proto__=1&q=peer', 'constructor=1']);

type FixtureName = 'admin' | 'member' | 'victim' | 'peer' | 'invitee' | 'disabled' | 'demoted' | 'disabledAdmin' | 'closed' | 'searcher1' | 'searcher2';

// ------------------------------------------------------------ the request recipe

interface Knobs {
  /** The admin API off in the config: every request is a 404. */
  apiOff: boolean;
  /** Sessions (live, ended), linked providers, links and mails of the user the request is about, made before it. */
  live: number;
  ended: number;
  identities: boolean;
  links: boolean;
  mails: boolean;
  /** The inviting admin's mail limit reached already: an invitation the store counts is throttled. */
  throttled: boolean;
}
const knobsArb = (route: Route): fc.Arbitrary<Knobs> => fc.record({
  apiOff: fc.integer({ min: 0, max: 40 }).map((n) => n === 0),
  live: fc.integer({ min: 0, max: 2 }),
  ended: fc.integer({ min: 0, max: 1 }),
  identities: fc.boolean(),
  links: fc.boolean(),
  mails: fc.boolean(),
  throttled: route === 'invite' ? fc.integer({ min: 0, max: 7 }).map((n) => n === 0) : fc.constant(false),
});

interface CaseRecipe {
  method: string;
  mangle: PathMangle;
  id: IdRecipe;
  query: string;
  origin: string | undefined;
  ip: Array<[string, string]>;
  caller: CallerRecipe;
  body: BodyRecipe;
  knobs: Knobs;
}

function caseArb(route: Route, body: fc.Arbitrary<BodyRecipe>, query: fc.Arbitrary<string>): fc.Arbitrary<CaseRecipe> {
  const r = ROUTES[route];
  const others = OTHER_METHODS.filter((m) => m === r.method || !r.allow.includes(m));
  return fc.record({
    method: fc.oneof({ weight: 18, arbitrary: fc.constant(r.method) }, { weight: 1, arbitrary: fc.constantFrom(...others) }),
    mangle: pathMangleArb,
    id: idArb,
    query,
    origin: originArb,
    ip: ipArb,
    caller: callerArb,
    body,
    knobs: knobsArb(route),
  });
}

// ------------------------------------------------------------ what the tables must show

type Row = Record<string, any>;
interface TableSpecRow { columns: string[]; check?: (after: Row) => void }
/** What a table must show after a request: rows added (each matched), removed (by key), changed (by key: exactly those columns). */
interface TableSpec { added?: Array<Record<string, unknown>>; removed?: string[]; changed?: Record<string, TableSpecRow> }
type Spec = Record<string, TableSpec>;
const keyOf = (row: Row) => String(row.id ?? row.key ?? row.token_hash ?? JSON.stringify(row));
const EMPTY: TableDiff = { added: [], removed: [], changed: [] };

function expectSpec(changes: Record<string, TableDiff>, spec: Spec, label: string): void {
  for (const table of Object.keys(changes)) expect(Object.keys(spec), `${label}: ${table} changed ${JSON.stringify(changes[table]).slice(0, 600)}`).toContain(table);
  for (const [table, t] of Object.entries(spec)) {
    const d = changes[table] ?? EMPTY;
    const added = t.added ?? [];
    expect(d.added.length, `${label}: rows added to ${table}: ${JSON.stringify(d.added).slice(0, 600)}`).toBe(added.length);
    for (const m of added) expect(d.added, `${label}: ${table} added`).toContainEqual(expect.objectContaining(m));
    expect(d.removed.map(keyOf).sort(), `${label}: removed from ${table}`).toEqual([...new Set(t.removed ?? [])].sort());
    const want = t.changed ?? {};
    for (const c of d.changed) {
      const k = keyOf(c.before);
      const w = want[k];
      expect(w, `${label}: ${table} row ${k} changed ${c.columns.join(',')}: ${JSON.stringify(c.after).slice(0, 400)}`).toBeDefined();
      expect([...c.columns].sort(), `${label}: ${table} row ${k}`).toEqual([...w!.columns].sort());
      w!.check?.(c.after);
    }
    for (const [k, w] of Object.entries(want)) expect(d.changed.some((c) => keyOf(c.before) === k), `${label}: ${table} row ${k} should have changed (${w.columns.join(',')})`).toBe(true);
  }
}

/** A timestamptz as PostgreSQL's JSON writes it, in microseconds (Date.parse alone would drop three digits). */
function micros(value: unknown): number {
  const text = String(value);
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
  return Date.parse(text) * 1000 + Number(fraction.padEnd(6, '0').slice(3, 6));
}
/** The same instant (PostgreSQL's JSON and jsonb both write timestamptz; null stays null). */
const sameTime = (a: unknown, b: unknown) => (a === null || b === null ? a === b : micros(a) === micros(b));
/** lower() under the test cluster's C locale: ASCII letters only. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
/** `pageNumber` of src/auth/admin.ts as the API documents it: a whole number from 1, six digits at most; `fallback` when absent or empty. */
function pageOf(value: string | undefined, fallback: number): number | 'bad' {
  if (value === undefined || value === '') return fallback;
  return /^\d{1,6}$/.test(value) && Number(value) >= 1 ? Number(value) : 'bad';
}

const counts = {} as Record<Route, { cases: number; outcomes: Record<string, number> }>;
for (const route of Object.keys(ROUTES) as Route[]) counts[route] = { cases: 0, outcomes: {} };
const countOutcome = (route: Route, key: string) => { counts[route].outcomes[key] = (counts[route].outcomes[key] ?? 0) + 1; };

describe('fuzzing the admin API', () => {
  let t: TestStore;
  let sql: TestStore['sql'];
  let deps: AuthDeps;
  let fx: Record<FixtureName, Row>;
  let tables: string[];
  /** The last audit row made with the fixtures: every later one is a case's and goes after it. */
  let baseAudit = 0;
  let handler: (e: HandlerEvent) => Promise<HandlerResponse>;
  let offHandler: (e: HandlerEvent) => Promise<HandlerResponse>;
  let inviteBodyArb: fc.Arbitrary<BodyRecipe>;
  let auditQueryArb: fc.Arbitrary<string>;
  let userColumns: string[];
  /** The users as made, as the picture shows them (JSON by id). */
  let fixtureUsers: Map<string, string>;
  /** Every table as each case starts. */
  let basePicture: Snapshot;

  const accounts: AccountSettings = { ...DEFAULT_ACCOUNT_SETTINGS, newUserRoles: ['member'], admin: { ...DEFAULT_ACCOUNT_SETTINGS.admin, enabled: true } };

  beforeAll(async () => {
    t = await openTestStore({ maxConnections: 4 });
    sql = t.sql;
    const make = async (email: string, roles: string[], password: string | null): Promise<Row> => {
      const r = await t.store.createUser({ email, passwordHash: password === null ? null : fakeHash(password), roles });
      if (r.status !== 'created') throw new Error('fixture');
      return r.user as unknown as Row;
    };
    fx = {
      admin: await make('admin@fuzz.example', ['admin'], PASSWORD),
      member: await make('member@fuzz.example', ['member'], PASSWORD),
      victim: await make('victim@fuzz.example', ['member', 'editor'], PASSWORD),
      peer: await make('peer@fuzz.example', ['admin', 'editor'], PASSWORD),
      invitee: await make('invitee@fuzz.example', ['editor'], null),
      disabled: await make('disabled@fuzz.example', ['member'], PASSWORD),
      demoted: await make('demoted@fuzz.example', ['member'], PASSWORD),
      disabledAdmin: await make('disabled-admin@fuzz.example', ['admin'], PASSWORD),
      closed: await make('closed@fuzz.example', ['member'], null),
      searcher1: await make('a.searcher@example.com', ['staff.v2'], PASSWORD),
      searcher2: await make('z_searcher@example.com', [], PASSWORD),
    };
    await t.store.setUserDisabled(String(fx.disabled.id), true);
    await t.store.setUserDisabled(String(fx.disabledAdmin.id), true);
    await t.store.setUserDisabled(String(fx.closed.id), true);
    await sql.query('update rolegate.users set email_confirmed_at = null where id = any($1::uuid[])', [[fx.invitee.id, fx.closed.id]]);
    // Audit rows of every kind to read back: the fixtures' own, and some of users gone, of nobody, of a session.
    await sql.query(`insert into rolegate.audit_log (event, user_id, session_id, ip, detail)
      select (array['roles_changed', 'login_succeeded', 'user_deleted', 'sessions_revoked', 'login_failed'])[1 + g % 5],
        case g % 4 when 0 then null when 1 then $1::uuid when 2 then $2::uuid else gen_random_uuid() end,
        case when g % 3 = 0 then gen_random_uuid() end, case when g % 2 = 0 then '198.51.100.' || g end,
        jsonb_build_object('n', g, 'by', $1::uuid)
      from generate_series(1, 40) g`, [fx.admin.id, fx.victim.id]);
    baseAudit = Number((await sql.query('select max(id)::int as n from rolegate.audit_log')).rows[0].n);
    // The users as made, kept beside the schema, so each case's reset is one statement.
    await sql.query('create schema fuzz; create table fuzz.users as select * from rolegate.users');
    userColumns = (await sql.query(`select column_name from information_schema.columns where table_schema = 'rolegate' and table_name = 'users' order by ordinal_position`)).rows.map((r) => String(r.column_name));
    for (const name of Object.keys(fx) as FixtureName[]) fx[name] = (await sql.query('select * from rolegate.users where id = $1', [fx[name].id])).rows[0];

    const base = makeDeps(t.store, { ALLOWED_ORIGINS: SIBLING });
    deps = {
      ...base, passwords: hasher, kickMail: async () => undefined, accounts,
      mail: { from: 'no-reply@site.example', maxPerAddress: MAIL_PER_ADDRESS, maxPerIp: MAIL_PER_SENDER, throttleWindowSeconds: 60 },
    };
    expect(deps.config.allowedOrigins).toEqual([SITE, SIBLING]);
    expect(deps.config.tokenFingerprint).toBe(false);
    handler = adminHandler(async () => deps);
    const off = { ...deps, accounts: DEFAULT_ACCOUNT_SETTINGS };
    offHandler = adminHandler(async () => off);
    tables = await rolegateTables(sql);
    expect(tables).toEqual(expect.arrayContaining(['users', 'sessions', 'refresh_tokens', 'identities', 'email_tokens', 'mail_outbox', 'audit_log', 'login_throttle']));
    const known = [fx.admin, fx.member, fx.victim, fx.invitee, fx.disabled, fx.closed].map((u) => String(u.email));
    inviteBodyArb = inviteBody(known, String(fx.invitee.email));
    const auditUser = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(String(fx.victim.id), String(fx.admin.id), String(fx.victim.id).toUpperCase(), String(fx.member.id)) },
      { weight: 1, arbitrary: fc.constantFrom('', 'not-a-uuid', randomUUID(), '00000000-0000-0000-0000-000000000000', `{${String(fx.admin.id)}}`, String(fx.admin.id).replace(/-/g, ''), "' or 1=1 --") },
    );
    const before = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: baseAudit + 2 }).map(String) },
      { weight: 1, arbitrary: fc.constantFrom('', '0', '-1', 'abc', '999999', '1000000', '9223372036854775808', '1.5', ' 5') },
    );
    auditQueryArb = queryArb({ user: auditUser, before, limit: pageValue }, ['user=a&user=b', 'limit=1&limit=x', 'before=%zz', 'user=%', 'user', 'LIMIT=1']);
    fixtureUsers = new Map(rows(await picture(), 'users').map((u) => [String(u.id), JSON.stringify(u)]));
    await reset();
  });
  afterAll(async () => {
    await t?.close();
  });

  // ------------------------------------------------------------ the tables before and after

  /** A prepared statement: parsed and planned once per connection, as every round trip of a case is. */
  const named = (name: string, text: string, values: unknown[] = []) => sql.query({ name, text, values });

  /**
   * Every row of every table, one JSON list each, in one statement so the picture is consistent;
   * with `clean`, the same statement also empties what each case makes (its CTEs see, and the
   * picture shows, the tables as the request left them): sessions (refresh tokens go with them),
   * identities, links, mails, throttles but the unrelated one, audit rows but the fixtures'.
   */
  async function picture(clean = false): Promise<Snapshot> {
    const wipe = clean ? `with s as (delete from rolegate.sessions), i as (delete from rolegate.identities), e as (delete from rolegate.email_tokens),
      m as (delete from rolegate.mail_outbox), l as (delete from rolegate.login_throttle where key <> $1), a as (delete from rolegate.audit_log where id > $2::bigint) ` : '';
    const text = `${wipe}select ${tables.map((table, i) => `(select coalesce(json_agg(x), '[]') from rolegate.${table} x)::text as t${i}`).join(', ')}`;
    const row = (await named(clean ? 'fuzz-picture-clean' : 'fuzz-picture', text, clean ? [UNRELATED_THROTTLE, baseAudit] : [])).rows[0] as Record<string, string>;
    return new Map(tables.map((table, i) => [table, new Map((JSON.parse(row[`t${i}`]!) as Row[]).map((r) => [keyOf(r), r]))]));
  }

  /** The users as made, after a case that changed them: one it added deleted, one it deleted or changed put back. */
  async function restoreUsers(after: Snapshot) {
    const users = after.get('users')!;
    if (users.size === fixtureUsers.size && [...fixtureUsers].every(([id, row]) => JSON.stringify(users.get(id)) === row)) return;
    const set = userColumns.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ');
    await named('fuzz-restore-users', `with d as (delete from rolegate.users u where not exists (select 1 from fuzz.users f where f.id = u.id))
      insert into rolegate.users as u select * from fuzz.users on conflict (id) do update set ${set} where u::text is distinct from excluded::text`);
  }

  /** The whole reset, for the start and for the tests that are no fuzz; the fixtures' picture taken again. */
  async function reset() {
    await restoreUsers(await picture(true));
    await named('fuzz-unrelated-throttle', `insert into rolegate.login_throttle (key, window_started_at, failures) values ($1, now(), 2)
      on conflict (key) do update set window_started_at = excluded.window_started_at, failures = 2`, [UNRELATED_THROTTLE]);
    basePicture = await picture();
  }

  /**
   * The case's rows in one statement, which answers them as PostgreSQL wrote them (the picture
   * before the request is the fixtures' and these): the caller's session, and for the user the
   * request is about live and ended sessions, two linked providers, links (the invitee's
   * pending invitation among them) and mails; two refresh tokens for every session (the first
   * used, the second its successor) so that ending and deleting reach both; the inviter's mail
   * limit reached when the case says so.
   */
  const SETUP_SQL = `with caller as (
      insert into rolegate.sessions (id, user_id, token_version, user_agent, ip, revoked_at, revoked_reason)
      select $1::uuid, id, token_version - $3::int, 'fuzz caller', '${IP}', case when $4::boolean then now() end, case when $4::boolean then 'fixture' end
      from rolegate.users where id = $2::uuid and $1::uuid is not null returning *),
    extra as (
      insert into rolegate.sessions (user_id, token_version, created_at, user_agent, ip, revoked_at, revoked_reason)
      select u.id, u.token_version, now() - make_interval(mins => g), 'agent ' || g, '198.51.100.' || g,
        case when g > $6::int then now() - interval '1 minute' end, case when g > $6::int then 'logout' end
      from rolegate.users u, generate_series(1, $6::int + $7::int) g where u.id = $5::uuid returning *),
    s as (select * from caller union all select * from extra),
    first as (
      insert into rolegate.refresh_tokens (token_hash, session_id, expires_at, used_at, revoked_at)
      select encode(sha256(convert_to(s.id::text || 'a', 'UTF8')), 'hex'), s.id, now() + interval '1 hour', now() - interval '5 minutes', s.revoked_at from s
      returning *),
    second as (
      insert into rolegate.refresh_tokens (token_hash, session_id, parent_id, expires_at, revoked_at)
      select encode(sha256(convert_to(first.session_id::text || 'b', 'UTF8')), 'hex'), first.session_id, first.id, now() + interval '1 hour', first.revoked_at from first
      returning *),
    providers as (
      insert into rolegate.identities (user_id, provider, subject, email, created_at)
      select $5::uuid, p, gen_random_uuid()::text, case when p = 'github' then $11::text end, now() - make_interval(days => n)
      from (values ('github', 1), ('example-sso', 0)) v(p, n) where $8::boolean returning *),
    links as (
      insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at, used_at)
      select encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), purpose, who, address, now() + make_interval(hours => h), used
      from (values ('recovery', $5::uuid, $11::text, 1, null::timestamptz), ('invite', $5::uuid, $11::text, -1, now() - interval '2 hours'),
        ('invite', $12::uuid, $13::text, 1, null::timestamptz)) v(purpose, who, address, h, used) where $9::boolean returning *),
    mails as (
      insert into rolegate.mail_outbox (recipient, template, sent_at)
      select recipient, template, sent from (values ($11::text, 'recovery', null::timestamptz), (upper($11::text), 'invite', null::timestamptz),
        ($11::text, 'recovery', now()), ('someone@fuzz.example', 'recovery', null::timestamptz)) v(recipient, template, sent) where $10::boolean returning *),
    limited as (
      insert into rolegate.login_throttle (key, window_started_at, failures) select 'mail:inviter:' || $14::text, now(), ${MAIL_PER_SENDER} where $15::boolean returning *)
    select (select coalesce(json_agg(x), '[]') from s x)::text as sessions,
      (select coalesce(json_agg(x), '[]') from (select * from first union all select * from second) x)::text as refresh_tokens,
      (select coalesce(json_agg(x), '[]') from providers x)::text as identities, (select coalesce(json_agg(x), '[]') from links x)::text as email_tokens,
      (select coalesce(json_agg(x), '[]') from mails x)::text as mail_outbox, (select coalesce(json_agg(x), '[]') from limited x)::text as login_throttle`;

  /** The picture before a case: the fixtures' (as reset leaves them) and the rows its setup wrote. */
  function withRows(base: Snapshot, written: Record<string, string>): Snapshot {
    const out: Snapshot = new Map([...base].map(([table, r]) => [table, new Map(r)]));
    for (const [table, json] of Object.entries(written)) for (const row of JSON.parse(json) as Row[]) out.get(table)!.set(keyOf(row), row);
    return out;
  }

  // ------------------------------------------------------------ making a recipe real

  interface CaseState {
    /** Subjects of tokens signed with our secret: the only ones that may ever be honoured. */
    rightSigned: Set<unknown>;
    /** The caller's session, made with the case's other rows (one at most). */
    session?: { id: string; userId: string; delta: number; revoked: boolean };
  }

  const sign = (user: Row, sessionId: string, o: { secret?: Secret; now?: number; roles?: string[] } = {}) => signAccessToken({
    subject: { id: String(user.id), email: String(user.email), roles: o.roles ?? (user.roles as string[]) }, sessionId,
    secret: o.secret ?? deps.config.jwtSecret, issuer: deps.config.jwtIssuer, ttlSeconds: 900, now: o.now ?? deps.now(),
  }).token;

  /** A session row of `user` (its token_version `delta` behind, maybe ended), written with the case's other rows. */
  function session(cs: CaseState, user: Row, o: { delta?: number; revoked?: boolean } = {}): string {
    expect(cs.session, 'one caller session a case').toBeUndefined();
    cs.session = { id: randomUUID(), userId: String(user.id), delta: o.delta ?? 0, revoked: o.revoked ?? false };
    return cs.session.id;
  }

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');
  const hmac = (secret: string, input: string) => createHmac('sha256', secret).update(input).digest('base64url');

  /** A token of arbitraries.ts's recipes (crafted, signed, raw, the admin's live one mangled) made real. */
  function rawToken(recipe: CookieValueRecipe, cs: CaseState): string {
    const now = deps.now();
    const substitute = (value: unknown): unknown => value === 'NOW' ? now : value === 'NOW+900' ? now + 900 : value === 'NOW-900' ? now - 900
      : Array.isArray(value) ? value.map(substitute)
        : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)])) : value;
    switch (recipe.kind) {
      case 'raw': return recipe.value;
      case 'jwt-shaped': return recipe.parts.join('.');
      case 'signed': {
        const claims = substitute(recipe.claims) as Record<string, unknown>;
        const input = `${b64({ ...recipe.header })}.${b64(claims)}`;
        if (recipe.secret === 'right') cs.rightSigned.add(claims.sub);
        return `${input}.${hmac(recipe.secret === 'right' ? SECRET : WRONG_SECRET, input)}`;
      }
      case 'crafted': {
        const input = `${b64(substitute(recipe.header))}.${b64(substitute(recipe.payload))}`;
        const signature = recipe.signature === 'right' ? hmac(SECRET, input) : recipe.signature === 'wrong' ? hmac(WRONG_SECRET, input) : recipe.signature === 'junk' ? 'AAAA' : '';
        if (recipe.signature === 'right') cs.rightSigned.add((recipe.payload as { sub?: unknown } | null)?.sub);
        return `${input}.${signature}`;
      }
      case 'live-access': {
        cs.rightSigned.add(fx.admin.id);
        return mangle(sign(fx.admin, session(cs, fx.admin)), recipe.mangle);
      }
      case 'live-refresh':
      case 'rotated-refresh':
      case 'revoked-refresh': return newRefreshToken();
    }
  }

  /** The token the caller holds, its session made. */
  function callerToken(r: CallerRecipe, cs: CaseState): string | undefined {
    const signed = (user: Row, o: { delta?: number; revoked?: boolean; roles?: string[] } = {}) => {
      cs.rightSigned.add(user.id);
      return sign(user, session(cs, user, o), { roles: o.roles });
    };
    switch (r.who) {
      case 'none': return undefined;
      case 'admin': return signed(fx.admin);
      case 'member': return signed(fx.member);
      case 'ended': return signed(fx.admin, { revoked: true });
      case 'stale': return signed(fx.admin, { delta: 1 });
      // The token says admin (as it did when issued); the database says member now.
      case 'demoted': return signed(fx.demoted, { roles: ['admin'] });
      case 'disabled-admin': return signed(fx.disabledAdmin);
      case 'wrong-secret': return sign(fx.admin, session(cs, fx.admin), { secret: new Secret(WRONG_SECRET) });
      case 'expired': {
        cs.rightSigned.add(fx.admin.id);
        return sign(fx.admin, session(cs, fx.admin), { now: deps.now() - 1000 });
      }
      case 'alg-none': {
        const [, payload] = sign(fx.admin, session(cs, fx.admin)).split('.');
        return `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`;
      }
      case 'foreign-sid': {
        // Signed by us for the admin, naming the member's live session.
        cs.rightSigned.add(fx.admin.id);
        return sign(fx.admin, session(cs, fx.member));
      }
      case 'garbage': return r.garbage ?? 'x.y.z';
      case 'raw': return r.raw ? rawToken(r.raw, cs) : undefined;
    }
  }

  function callerHeaders(r: CallerRecipe, cs: CaseState): Record<string, string> {
    const token = callerToken(r, cs);
    if (token === undefined) return {};
    if (r.who === 'garbage') return r.transport === 'cookie' ? { cookie: `${ACCESS_COOKIE}=${token.replace(/[;\s]/g, '')}` } : { authorization: token };
    if (r.transport === 'bearer') return { authorization: `${r.scheme}${token}` };
    const cookie = { cookie: `theme=dark; ${ACCESS_COOKIE}=${token.replace(/[;\s]/g, '')}` };
    return r.transport === 'cookie' ? cookie : { ...cookie, authorization: r.scheme === 'Bearer ' ? 'Basic YWRtaW46YWRtaW4=' : r.scheme };
  }

  /** The id as sent in the path, the id the handler must read from it, and the fixture it names (if any). */
  function idOf(id: IdRecipe): { text: string; decoded: string; user?: Row } {
    const victim = String(fx.victim.id);
    const self = String(fx.admin.id);
    switch (id.kind) {
      case 'victim': return { text: victim, decoded: victim, user: fx.victim };
      case 'victim-upper': return { text: victim.toUpperCase(), decoded: victim.toUpperCase(), user: fx.victim };
      case 'victim-encoded': return { text: `%${victim.charCodeAt(0).toString(16)}${victim.slice(1)}`, decoded: victim, user: fx.victim };
      case 'peer': case 'invitee': case 'member': case 'disabled': {
        const user = fx[id.kind];
        return { text: String(user.id), decoded: String(user.id), user };
      }
      case 'self': return { text: self, decoded: self, user: fx.admin };
      case 'self-upper': return { text: self.toUpperCase(), decoded: self.toUpperCase(), user: fx.admin };
      case 'self-encoded': return { text: `%${self.charCodeAt(0).toString(16).toUpperCase()}${self.slice(1)}`, decoded: self, user: fx.admin };
      case 'self-braces': return { text: encodeURIComponent(`{${self}}`), decoded: `{${self}}`, user: fx.admin };
      case 'self-bare': return { text: self.replace(/-/g, ''), decoded: self.replace(/-/g, ''), user: fx.admin };
      case 'random': {
        const u = randomUUID();
        return { text: u, decoded: u };
      }
      case 'nil': return { text: '00000000-0000-0000-0000-000000000000', decoded: '00000000-0000-0000-0000-000000000000' };
      case 'junk': return { text: encodeURIComponent(wellFormed(id.value)), decoded: wellFormed(id.value) };
      // decodeURIComponent refuses these: the id names nobody.
      case 'malformed': return { text: id.value, decoded: '' };
    }
  }

  function toEvent(r: CaseRecipe, path: string, auth: Record<string, string>): HandlerEvent {
    const headers: Record<string, string> = {};
    for (const [name, value] of r.ip) headers[name] = value;
    if (r.origin !== undefined) headers.origin = r.origin;
    if (r.body.contentType !== undefined) headers['content-type'] = r.body.contentType;
    Object.assign(headers, auth);
    return {
      rawUrl: `${SITE}${path}${r.query ? `?${r.query}` : ''}`,
      rawQuery: r.query,
      path,
      httpMethod: r.method,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: Object.fromEntries(new URLSearchParams(r.query)),
      multiValueQueryStringParameters: null,
      body: r.body.body,
      isBase64Encoded: r.body.isBase64Encoded,
    };
  }

  // ------------------------------------------------------------ the oracle

  interface Ctx {
    route: Route;
    r: CaseRecipe;
    event: HandlerEvent;
    response: HandlerResponse;
    body: any;
    code?: string;
    before: Snapshot;
    after: Snapshot;
    all: Record<string, TableDiff>;
    /** Changes of every table but the log tables. */
    changes: Record<string, TableDiff>;
    audit?: TableDiff;
    throttle?: TableDiff;
    ip: string;
    /** The id the path names, decoded, and whether it is the admin's own (in any case). */
    id: string;
    own: boolean;
    cs: CaseState;
  }

  const rows = (snap: Snapshot, table: string) => [...snap.get(table)!.values()] as Row[];
  const userRow = (snap: Snapshot, id: string) => (isUuid(id) ? snap.get('users')!.get(id.toLowerCase()) as Row | undefined : undefined);

  function expectError(x: Ctx, code: string, why: string) {
    expect([x.response.statusCode, x.code], `${why} (got ${x.response.body?.slice(0, 200)})`).toEqual([STATUS[code as keyof typeof STATUS], code]);
  }

  function nothingAtAll(x: Ctx, why: string) {
    expect(x.all, `${why}: must change nothing at all, not the log nor a throttle`).toEqual({});
  }

  /** The answer's form, whatever it says: no 5xx, no stack trace, no hash; JSON, no-store; a refusal's exact shape. */
  function checkAnswer(x: Ctx) {
    const { response } = x;
    expect(response.statusCode, `status (${response.body?.slice(0, 200)})`).toBeLessThan(500);
    expect(response.headers?.['Cache-Control']).toBe('no-store');
    expect(String(response.headers?.['Content-Type'])).toMatch(/^application\/json/);
    const text = response.body ?? '';
    expect(text).not.toMatch(STACK_TRACE);
    expect(text, 'no password hash in any answer').not.toMatch(PASSWORD_HASH);
    expect(JSON.stringify([response.headers, response.multiValueHeaders])).not.toMatch(STACK_TRACE);
    expect(response.multiValueHeaders?.['Set-Cookie'], 'the admin API sets no cookie').toBeUndefined();
    x.body = JSON.parse(text);
    if (response.statusCode >= 400) {
      expect(Object.keys(x.body)).toEqual(['error']);
      expect(Object.keys(x.body.error).sort()).toEqual(['code', 'message']);
      expect(KNOWN_CODES).toContain(x.body.error.code);
      expect(STATUS[x.body.error.code as keyof typeof STATUS]).toBe(response.statusCode);
      expect(typeof x.body.error.message === 'string' && x.body.error.message.length > 0).toBe(true);
      if (response.statusCode === 405) expect(response.headers?.Allow).toBe(ROUTES[x.route].allow.join(', '));
      if (response.statusCode === 429) expect(Number(response.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
      x.code = x.body.error.code;
    } else {
      expect(x.body?.error).toBeUndefined();
    }
  }

  /**
   * Who the token is, from the tables before the request: the code of a refusal, or the admin
   * with their session. A bearer header is read first (anything else in it is no token), else
   * the nf_jwt cookie; then the session must be live and an admin role held, in the database.
   */
  function callerOf(x: Ctx): { code: string } | { user: Row; session: Row } {
    const authorization = header(x.event, 'authorization');
    const token = authorization ? /^Bearer\s+(\S+)$/iu.exec(authorization)?.[1] : cookiesOf(x.event)[ACCESS_COOKIE];
    const checked = checkAccessToken(token, cookiesOf(x.event)[fingerprintCookieName({ domain: deps.config.cookieDomain })], { roles: accounts.admin.roles, config: deps.config, now: deps.now() });
    if (typeof checked === 'string') return { code: checked };
    expect(x.cs.rightSigned, 'a token honoured that we never signed').toContain(checked.id);
    const user = userRow(x.before, checked.id);
    const s = isUuid(checked.sessionId) ? x.before.get('sessions')!.get(checked.sessionId.toLowerCase()) as Row | undefined : undefined;
    if (!user || !s || s.user_id !== user.id || s.revoked_at !== null || user.disabled_at !== null || s.token_version !== user.token_version) return { code: 'session_expired' };
    if (!accounts.admin.roles.some((role) => (user.roles as string[]).includes(role))) return { code: 'forbidden' };
    return { user, session: s };
  }

  /** The body's fields as the route reads them, or the code of why it cannot be read. */
  function fieldsOf(x: Ctx): { fields?: Record<string, unknown>; error?: string } {
    try {
      return { fields: parseBody(x.event).fields };
    } catch (error) {
      if (error instanceof AuthError) return { error: error.code };
      throw error;
    }
  }

  /** A refusal of a change: no table changed, no audit row written, no throttle counted. */
  function refused(x: Ctx, code: string, why: string): string {
    expectError(x, code, why);
    nothingAtAll(x, why);
    return `(refused: ${code})`;
  }

  /** A user as the changes answer it (user_json), matching its row. */
  function checkUserJson(json: any, row: Row) {
    expect(Object.keys(json).sort()).toEqual(['created_at', 'disabled_at', 'email', 'email_confirmed_at', 'id', 'roles', 'updated_at']);
    expect([json.id, json.email, json.roles]).toEqual([row.id, row.email, row.roles]);
    for (const k of ['created_at', 'updated_at', 'disabled_at', 'email_confirmed_at']) expect(sameTime(json[k], row[k]), `${k}: ${json[k]} vs ${row[k]}`).toBe(true);
  }

  /** A user as the reads answer it (admin_user_json): user_json, whether a password is set, and the last sign-in (the newest session). */
  function checkAdminUserJson(json: any, row: Row, snap: Snapshot) {
    const { has_password: hasPassword, last_sign_in_at: lastSignIn, ...rest } = json;
    checkUserJson(rest, row);
    expect(hasPassword).toBe(row.password_hash !== null);
    const times = rows(snap, 'sessions').filter((s) => s.user_id === row.id).map((s) => micros(s.created_at));
    expect(lastSignIn === null ? null : micros(lastSignIn)).toBe(times.length ? Math.max(...times) : null);
  }

  /** The audit rows an admin change must add, exactly (and nothing else in the log). */
  function expectAudit(x: Ctx, want: Array<Record<string, unknown>>) {
    expect(x.audit?.removed ?? [], 'audit rows removed').toEqual([]);
    expect(x.audit?.changed ?? [], 'audit rows changed').toEqual([]);
    const added = (x.audit?.added ?? []).map((a) => ({ event: a.event, user_id: a.user_id, session_id: a.session_id, ip: a.ip, detail: a.detail }));
    const byEvent = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.event).localeCompare(String(b.event));
    expect(added.sort(byEvent)).toEqual(want.map((w) => ({ session_id: null, ip: x.ip, ...w })).sort(byEvent));
  }

  /** Every session of `userId` still open ends with `reason`, and every refresh token of theirs not revoked yet is. */
  function endSessionsSpec(x: Ctx, userId: string, reason: string): { spec: Spec; ended: number } {
    const sessions: Record<string, TableSpecRow> = {};
    const mine = new Set<string>();
    for (const s of rows(x.before, 'sessions')) {
      if (s.user_id !== userId) continue;
      mine.add(s.id);
      if (s.revoked_at === null) sessions[s.id] = { columns: ['revoked_at', 'revoked_reason'], check: (a) => expect(a.revoked_reason).toBe(reason) };
    }
    const tokens: Record<string, TableSpecRow> = {};
    for (const tok of rows(x.before, 'refresh_tokens')) if (mine.has(tok.session_id) && tok.revoked_at === null) tokens[String(tok.id)] = { columns: ['revoked_at'] };
    return { spec: { sessions: { changed: sessions }, refresh_tokens: { changed: tokens } }, ended: Object.keys(sessions).length };
  }

  /** A user route that names nobody (no UUID, or no such user): 404 and nothing else. */
  function target(x: Ctx): Row | undefined {
    return userRow(x.before, x.id);
  }

  async function listOracle(x: Ctx): Promise<string> {
    const has = (name: string) => (Object.hasOwn(x.event.queryStringParameters ?? {}, name) ? x.event.queryStringParameters![name] : undefined);
    const q = has('q') ?? '';
    const role = has('role');
    const perPage = pageOf(has('per_page'), 50);
    const page = pageOf(has('page'), 1);
    const badRole = role !== undefined && role !== '' && codeOf(() => requestedRoles([role], [])) !== undefined;
    // FOUND BUG (fixed in src/auth/admin.ts; the regression test below): a U+0000 in q was a 500 (PostgreSQL text cannot hold it).
    if (q.length > 320 || q.includes('\u0000') || badRole || perPage === 'bad' || page === 'bad') return refused(x, 'bad_request', 'a bad search');
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    nothingAtAll(x, 'a read');
    const limit = Math.min(perPage, 100);
    const matched = rows(x.before, 'users')
      .filter((u) => asciiLower(u.email).includes(asciiLower(q)) && (role === undefined || role === '' || (u.roles as string[]).includes(role)))
      .sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
    const shown = matched.slice((page - 1) * limit, page * limit);
    expect(Object.keys(x.body).sort()).toEqual(['page', 'per_page', 'total', 'users']);
    expect([x.body.total, x.body.page, x.body.per_page]).toEqual([matched.length, page, limit]);
    expect(x.body.users.map((u: Row) => u.id), `search ${JSON.stringify({ q, role, page, limit })}`).toEqual(shown.map((u) => u.id));
    x.body.users.forEach((u: Row, i: number) => checkAdminUserJson(u, shown[i]!, x.before));
    return shown.length ? '(a page of users)' : '(an empty page)';
  }

  async function detailOracle(x: Ctx): Promise<string> {
    const user = target(x);
    if (!user) return `${refused(x, 'not_found', 'nobody')} nobody`;
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    nothingAtAll(x, 'a read');
    expect(Object.keys(x.body).sort()).toEqual(['identities', 'sessions', 'user']);
    checkAdminUserJson(x.body.user, user, x.before);
    const sessions = rows(x.before, 'sessions').filter((s) => s.user_id === user.id)
      .sort((a, b) => micros(b.created_at) - micros(a.created_at) || (a.id < b.id ? -1 : 1)).slice(0, 20);
    expect(x.body.sessions.map((s: Row) => s.id)).toEqual(sessions.map((s) => s.id));
    x.body.sessions.forEach((s: Row, i: number) => {
      const row = sessions[i]!;
      expect(Object.keys(s).sort()).toEqual(['created_at', 'id', 'ip', 'last_seen_at', 'live', 'revoked_at', 'revoked_reason', 'user_agent']);
      expect([s.user_agent, s.ip, s.revoked_reason, s.live]).toEqual([row.user_agent, row.ip, row.revoked_reason,
        row.revoked_at === null && row.token_version === user.token_version && user.disabled_at === null]);
      for (const k of ['created_at', 'last_seen_at', 'revoked_at']) expect(sameTime(s[k], row[k])).toBe(true);
    });
    const identities = rows(x.before, 'identities').filter((i) => i.user_id === user.id)
      .sort((a, b) => micros(a.created_at) - micros(b.created_at) || (a.id < b.id ? -1 : 1));
    expect(x.body.identities.map((i: Row) => [i.id, i.provider, i.email])).toEqual(identities.map((i) => [i.id, i.provider, i.email]));
    return `(read${sessions.length ? ', sessions' : ''}${identities.length ? ', identities' : ''})`;
  }

  async function auditOracle(x: Ctx): Promise<string> {
    const has = (name: string) => (Object.hasOwn(x.event.queryStringParameters ?? {}, name) ? x.event.queryStringParameters![name] : undefined);
    const limit = pageOf(has('limit'), 50);
    const before = pageOf(has('before'), Number.POSITIVE_INFINITY);
    if (limit === 'bad' || before === 'bad') return refused(x, 'bad_request', 'a bad page of the log');
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    nothingAtAll(x, 'a read');
    const user = has('user');
    const entries = user !== undefined && user !== '' && !isUuid(user) ? [] : rows(x.before, 'audit_log')
      .filter((a) => (user === undefined || user === '' || a.user_id === user.toLowerCase()) && Number(a.id) < before)
      .sort((a, b) => Number(b.id) - Number(a.id)).slice(0, Math.min(limit, 100));
    expect(Object.keys(x.body)).toEqual(['entries']);
    expect(x.body.entries.map((e: Row) => e.id)).toEqual(entries.map((a) => Number(a.id)));
    x.body.entries.forEach((e: Row, i: number) => {
      const row = entries[i]!;
      expect(Object.keys(e).sort()).toEqual(['at', 'detail', 'event', 'id', 'ip', 'session_id', 'user_id']);
      expect([e.event, e.user_id, e.session_id, e.ip, e.detail]).toEqual([row.event, row.user_id, row.session_id, row.ip, row.detail]);
      expect(sameTime(e.at, row.at)).toBe(true);
    });
    return entries.length ? '(entries)' : '(no entries)';
  }

  async function rolesOracle(x: Ctx, admin: Row): Promise<string> {
    const read = fieldsOf(x);
    if (read.error) return refused(x, read.error, 'an unreadable body');
    const value = read.fields!.roles;
    if (value === undefined) return refused(x, 'bad_request', 'no roles');
    const invalid = codeOf(() => requestedRoles(value, []));
    if (invalid) return refused(x, invalid, `roles ${JSON.stringify(value)?.slice(0, 80)}`);
    const roles = requestedRoles(value, []);
    if (x.own && !accounts.admin.roles.some((r) => roles.includes(r))) return refused(x, 'own_account', 'an admin demoting themselves');
    const user = target(x);
    if (!user) return `${refused(x, 'not_found', 'nobody')} nobody`;
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    const same = JSON.stringify(roles) === JSON.stringify(user.roles);
    expectSpec(x.changes, { users: { changed: { [user.id]: { columns: same ? ['updated_at'] : ['roles', 'updated_at'], check: (a) => expect(a.roles).toEqual(roles) } } } }, 'set roles');
    expectAudit(x, [{ event: 'roles_changed', user_id: user.id, detail: { roles, by: admin.id } }]);
    expect(Object.keys(x.body)).toEqual(['user']);
    checkUserJson(x.body.user, userRow(x.after, user.id)!);
    return `(roles set${x.own ? ', own' : ''}${same ? ', same' : ''})`;
  }

  async function disableOracle(x: Ctx, admin: Row): Promise<string> {
    if (x.own) return refused(x, 'own_account', 'an admin disabling themselves');
    const user = target(x);
    if (!user) return `${refused(x, 'not_found', 'nobody')} nobody`;
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    const ended = endSessionsSpec(x, user.id, 'user_disabled');
    const columns = ['token_version', 'updated_at', ...(user.disabled_at === null ? ['disabled_at'] : [])];
    expectSpec(x.changes, {
      ...ended.spec,
      users: { changed: { [user.id]: { columns, check: (a) => expect([a.disabled_at !== null, a.token_version]).toEqual([true, user.token_version + 1]) } } },
    }, 'disable');
    expectAudit(x, [
      { event: 'sessions_revoked', user_id: user.id, detail: { reason: 'user_disabled', sessions: ended.ended, by: admin.id } },
      { event: 'user_disabled', user_id: user.id, detail: { by: admin.id } },
    ]);
    checkUserJson(x.body.user, userRow(x.after, user.id)!);
    return `(disabled${user.disabled_at === null ? '' : ' again'})`;
  }

  async function enableOracle(x: Ctx, admin: Row): Promise<string> {
    const user = target(x);
    if (!user) return `${refused(x, 'not_found', 'nobody')} nobody`;
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    expectSpec(x.changes, { users: { changed: { [user.id]: { columns: user.disabled_at === null ? ['updated_at'] : ['disabled_at', 'updated_at'], check: (a) => expect(a.disabled_at).toBeNull() } } } }, 'enable');
    expectAudit(x, [{ event: 'user_enabled', user_id: user.id, detail: { by: admin.id } }]);
    checkUserJson(x.body.user, userRow(x.after, user.id)!);
    return `(enabled${user.disabled_at === null ? ', was enabled' : ''}${x.own ? ', own' : ''})`;
  }

  async function sessionsOracle(x: Ctx, admin: Row): Promise<string> {
    const user = target(x);
    if (!user) return `${refused(x, 'not_found', 'nobody')} nobody`;
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    const ended = endSessionsSpec(x, user.id, 'revoked_by_admin');
    expectSpec(x.changes, {
      ...ended.spec,
      users: { changed: { [user.id]: { columns: ['token_version', 'updated_at'], check: (a) => expect(a.token_version).toBe(user.token_version + 1) } } },
    }, 'end sessions');
    expectAudit(x, [{ event: 'sessions_revoked', user_id: user.id, detail: { reason: 'revoked_by_admin', sessions: ended.ended, by: admin.id } }]);
    expect(x.body).toEqual({ sessions_ended: ended.ended });
    return `(sessions ended${x.own ? ', own' : ''})`;
  }

  async function deleteOracle(x: Ctx, admin: Row): Promise<string> {
    if (x.own) return refused(x, 'own_account', 'an admin deleting themselves');
    const user = target(x);
    if (!user) return `${refused(x, 'not_found', 'nobody')} nobody`;
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(200);
    const sessions = rows(x.before, 'sessions').filter((s) => s.user_id === user.id).map((s) => String(s.id));
    expectSpec(x.changes, {
      users: { removed: [user.id] },
      sessions: { removed: sessions },
      refresh_tokens: { removed: rows(x.before, 'refresh_tokens').filter((tok) => sessions.includes(tok.session_id)).map(keyOf) },
      identities: { removed: rows(x.before, 'identities').filter((i) => i.user_id === user.id).map(keyOf) },
      email_tokens: { removed: rows(x.before, 'email_tokens').filter((e) => e.user_id === user.id).map(keyOf) },
      mail_outbox: { removed: rows(x.before, 'mail_outbox').filter((m) => asciiLower(m.recipient) === user.email && m.sent_at === null).map(keyOf) },
    }, 'delete');
    expectAudit(x, [{ event: 'user_deleted', user_id: user.id, detail: { by: admin.id } }]);
    expect(JSON.stringify(x.audit?.added), 'the audit log keeps no address of a deleted user').not.toContain(user.email);
    expect(x.body).toEqual({ ok: true });
    return '(deleted)';
  }

  /** The store counted the invitation: its address and its inviter, once each, nothing else. */
  function checkMailCounted(x: Ctx, email: string, admin: Row) {
    expect(x.throttle?.removed ?? []).toEqual([]);
    for (const c of x.throttle?.changed ?? []) expect(c.columns.filter((k) => k !== 'window_started_at')).toEqual(['failures']);
    for (const c of x.throttle?.changed ?? []) expect(c.after.failures).toBe(Number(c.before.failures) + 1);
    for (const a of x.throttle?.added ?? []) expect(a.failures).toBe(1);
    const touched = [...x.throttle?.added ?? [], ...(x.throttle?.changed ?? []).map((c) => c.after)].map((row) => String(row.key)).sort();
    expect(touched, 'an invitation counts for its address and its inviter').toEqual([`mail:address:${email}`, `mail:inviter:${admin.id}`].sort());
  }

  async function inviteOracle(x: Ctx, admin: Row): Promise<string> {
    const read = fieldsOf(x);
    if (read.error) return refused(x, read.error, 'an unreadable body');
    const badAddress = codeOf(() => requestedAddress(read.fields!));
    if (badAddress) return refused(x, badAddress, `address ${JSON.stringify(read.fields!.email)?.slice(0, 80)}`);
    const badRoles = codeOf(() => requestedRoles(read.fields!.roles, accounts.newUserRoles));
    if (badRoles) return refused(x, badRoles, `roles ${JSON.stringify(read.fields!.roles)?.slice(0, 80)}`);
    const email = requestedAddress(read.fields!);
    const roles = requestedRoles(read.fields!.roles, accounts.newUserRoles);
    checkMailCounted(x, email, admin);
    if (x.r.knobs.throttled) {
      expectError(x, 'throttled', 'the inviter at their limit');
      expect(x.changes).toEqual({});
      expect(x.audit).toBeUndefined();
      return '(refused: throttled, counted)';
    }
    const existing = rows(x.before, 'users').find((u) => u.email === email);
    if (existing && (existing.password_hash !== null || existing.disabled_at !== null)) {
      expectError(x, 'user_exists', 'an address with a password or disabled');
      expect(x.changes).toEqual({});
      expect(x.audit).toBeUndefined();
      return '(refused: user_exists, counted)';
    }
    expect(x.response.statusCode, x.response.body?.slice(0, 300)).toBe(existing ? 200 : 201);
    const user = existing ?? x.changes.users?.added[0];
    expect(user, 'the invited user').toBeDefined();
    const retired: Record<string, TableSpecRow> = {};
    for (const tok of rows(x.before, 'email_tokens')) if (tok.user_id === user!.id && tok.purpose === 'invite' && tok.used_at === null) retired[tok.token_hash] = { columns: ['used_at'] };
    expectSpec(x.changes, {
      ...(existing ? {} : { users: { added: [{ email, roles, password_hash: null, email_confirmed_at: null, disabled_at: null, token_version: 0 }] } }),
      email_tokens: { added: [{ purpose: 'invite', user_id: user!.id, email, used_at: null }], changed: retired },
      mail_outbox: { added: [{ recipient: email, template: 'invite', sent_at: null, attempts: 0 }] },
    }, existing ? 'an invitation resent' : 'an invitation');
    const link = x.changes.email_tokens!.added[0]!;
    expect(Date.parse(String(link.expires_at)) - Date.parse(String(link.created_at))).toBe(linkLifetime(accounts, 'invite') * 1000);
    const mail = x.changes.mail_outbox!.added[0]!;
    const opened = JSON.parse(openMailSecret([deps.config.jwtSecret], String(mail.sealed))!) as { url: string; token: string };
    expect(emailTokenHash(opened.token), 'the mail carries the very link stored').toBe(link.token_hash);
    expect(opened.url.startsWith(`${SITE}/`)).toBe(true);
    expectAudit(x, [{ event: existing ? 'invitation_resent' : 'user_invited', user_id: user!.id, detail: { invited_by: admin.id } }]);
    expect(Object.keys(x.body).sort()).toEqual(['status', 'user']);
    expect(x.body.status).toBe(existing ? 'resent' : 'invited');
    checkUserJson(x.body.user, userRow(x.after, user!.id)!);
    return existing ? '(resent)' : '(invited)';
  }

  const ORACLES: Record<Route, (x: Ctx, admin: Row) => Promise<string>> = {
    list: listOracle, detail: detailOracle, audit: auditOracle, roles: rolesOracle, disable: disableOracle,
    enable: enableOracle, sessions: sessionsOracle, delete: deleteOracle, invite: inviteOracle,
  };

  // ------------------------------------------------------------ one case

  let casesSinceVacuum = 0;

  async function runCase(route: Route, r: CaseRecipe): Promise<void> {
    counts[route].cases += 1;
    const spec = ROUTES[route];
    const cs: CaseState = { rightSigned: new Set() };
    const id = idOf(r.id);
    const auth = callerHeaders(r.caller, cs);
    const about = id.user ?? fx.victim;
    const k = r.knobs;
    const event = toEvent(r, pathOf(spec.path.replace(':id', id.text), r.mangle), auth);
    let response: HandlerResponse | undefined;
    let before: Snapshot | undefined;
    let after: Snapshot;
    try {
      const written = await named('fuzz-setup', SETUP_SQL, [cs.session?.id ?? null, cs.session?.userId ?? null, cs.session?.delta ?? 0, cs.session?.revoked ?? false,
        about.id, k.live, k.ended, k.identities, k.links, k.mails, about.email, fx.invitee.id, fx.invitee.email, fx.admin.id, k.throttled]);
      before = withRows(basePicture, written.rows[0] as Record<string, string>);
      response = await (k.apiOff ? offHandler : handler)(event);
    } finally {
      // Also after a failed request: shrinking runs the next case on the tables as they were made.
      after = await picture(true);
      await restoreUsers(after);
      // Thousands of rows made and deleted: without a vacuum now and then every scan reads their dead tuples. And the
      // reset is shown complete: the tables are the fixtures' picture again, or the pictures before the next cases would lie.
      if (++casesSinceVacuum >= 250) {
        casesSinceVacuum = 0;
        await sql.query(`vacuum ${tables.map((table) => `rolegate.${table}`).join(', ')}`);
        expect(diff(basePicture, await picture()), 'the reset between cases left something behind').toEqual({});
      }
    }
    const all = diff(before!, after);
    const { audit_log: audit, login_throttle: throttle, ...changes } = all;
    const x: Ctx = {
      route, r, event, response: response!, body: undefined, before: before!, after, all, changes, audit, throttle, ip: clientIp(event),
      id: id.decoded, own: id.decoded.toLowerCase() === String(fx.admin.id), cs,
    };
    checkAnswer(x);
    const origin = header(event, 'origin');
    const originOk = origin !== undefined && origin !== '' && origin !== 'null' && deps.config.allowedOrigins.includes(origin.toLowerCase());
    let outcome: string;
    if (r.knobs.apiOff) {
      outcome = `${refused(x, 'not_found', 'the API off')} api off`;
    } else if (!ROUTING.has(r.mangle)) {
      outcome = `${refused(x, 'not_found', `the path ${event.path}`)} no such path`;
    } else if (!spec.allow.includes(r.method)) {
      outcome = refused(x, 'method_not_allowed', `method ${JSON.stringify(r.method)}`);
    } else if ((r.method !== 'GET' || origin !== undefined) && !originOk) {
      outcome = refused(x, 'bad_origin', `Origin ${JSON.stringify(origin)}`);
    } else {
      const caller = callerOf(x);
      if ('code' in caller) {
        outcome = `${refused(x, caller.code, `the caller ${r.caller.who}`)} ${r.caller.who}`;
      } else {
        expect(caller.user.id, 'only the admin gets through').toBe(fx.admin.id);
        outcome = await ORACLES[route](x, caller.user);
      }
    }
    // Whatever happened, the admin is still an admin, enabled, and there.
    const admin = userRow(after, String(fx.admin.id)) ?? userRow(x.after, String(fx.admin.id));
    expect(admin, 'the admin deleted').toBeDefined();
    expect(admin!.disabled_at, 'the admin disabled').toBeNull();
    expect(admin!.roles, 'the admin demoted').toContain('admin');
    if (x.response.statusCode < 400) expect(r.method === 'GET' || originOk, 'a change succeeded without the site\'s Origin').toBe(true);
    if (r.method === 'GET') nothingAtAll(x, 'a read');
    countOutcome(route, `${x.response.statusCode}${x.code ? ` ${x.code}` : ''}`);
    countOutcome(route, outcome);
  }

  /** The outcomes each route must reach in RUNS cases (and the whole run must, between them). */
  const REACHED: Record<Route, string[]> = {
    list: ['200', '(a page of users)', '(an empty page)', '400 bad_request', '401 unauthenticated', '401 session_expired', '403 forbidden', '403 bad_origin', '404 not_found', '405 method_not_allowed'],
    detail: ['200', '(read, sessions)', '(read, sessions, identities)', '(refused: not_found) nobody', '401 unauthenticated', '403 bad_origin', '405 method_not_allowed'],
    delete: ['200', '(deleted)', '(refused: own_account)', '(refused: not_found) nobody', '401 unauthenticated', '403 bad_origin', '405 method_not_allowed'],
    roles: ['200', '(roles set)', '(refused: bad_request)', '(refused: unsupported_media_type)', '(refused: payload_too_large)', '(refused: not_found) nobody', '403 bad_origin'],
    disable: ['200', '(disabled)', '(disabled again)', '(refused: own_account)', '(refused: not_found) nobody', '403 bad_origin'],
    enable: ['200', '(enabled)', '(enabled, was enabled)', '(enabled, was enabled, own)', '(refused: not_found) nobody', '403 bad_origin'],
    sessions: ['200', '(sessions ended)', '(sessions ended, own)', '(refused: not_found) nobody', '403 bad_origin'],
    invite: ['201', '200', '(invited)', '(resent)', '(refused: user_exists, counted)', '(refused: throttled, counted)', '(refused: bad_request)', '(refused: unsupported_media_type)', '403 bad_origin'],
    audit: ['200', '(entries)', '(no entries)', '400 bad_request', '403 bad_origin', '405 method_not_allowed'],
  };

  function fuzz(route: Route, arb: () => fc.Arbitrary<CaseRecipe>) {
    const runs = Math.max(1, Math.round(RUNS * SHARE[route]));
    it(`${route}: ${runs} requests, never a 5xx, a stack trace, an unknown code, a hash, or a write its answer does not explain`, async () => {
      const started = Date.now();
      const start = counts[route].cases;
      await fc.assert(fc.asyncProperty(arb(), (r) => runCase(route, r)), { seed: SEED, numRuns: runs });
      console.log(`fuzz admin-api ${route}: ${counts[route].cases - start} cases in ${Date.now() - started} ms (seed ${SEED}); outcomes ${JSON.stringify(counts[route].outcomes)}`);
      expect(counts[route].cases - start).toBeGreaterThanOrEqual(runs);
      if (RUNS >= 2000) expect(Object.keys(counts[route].outcomes)).toEqual(expect.arrayContaining(REACHED[route]));
    }, 300_000);
  }

  const noQuery = fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.webQueryParameters() });
  fuzz('list', () => caseArb('list', anyBody, listQueryArb));
  fuzz('detail', () => caseArb('detail', anyBody, noQuery));
  fuzz('delete', () => caseArb('delete', anyBody, noQuery));
  fuzz('roles', () => caseArb('roles', rolesBody, noQuery));
  fuzz('disable', () => caseArb('disable', anyBody, noQuery));
  fuzz('enable', () => caseArb('enable', anyBody, noQuery));
  fuzz('sessions', () => caseArb('sessions', anyBody, noQuery));
  fuzz('invite', () => caseArb('invite', inviteBodyArb, noQuery));
  fuzz('audit', () => caseArb('audit', anyBody, auditQueryArb));

  it('reached, between the routes, every kind of answer: 200 and 201, 400, 401, 403 forbidden and bad_origin, 404, 405, 409 own_account', () => {
    if (RUNS < 2000) return;
    const all = new Set(Object.values(counts).flatMap((c) => Object.keys(c.outcomes)));
    expect([...all]).toEqual(expect.arrayContaining(['200', '201', '400 bad_request', '401 unauthenticated', '401 session_expired', '403 forbidden', '403 bad_origin',
      '404 not_found', '405 method_not_allowed', '409 own_account', '409 user_exists', '413 payload_too_large', '415 unsupported_media_type', '429 throttled']));
  });

  /** A request as the admin page sends one: JSON, the site's Origin, Netlify's client address. */
  const plainEvent = (method: string, path: string, o: { query?: string; headers?: Record<string, string>; body?: string } = {}): HandlerEvent => ({
    rawUrl: `${SITE}${path}${o.query ? `?${o.query}` : ''}`, rawQuery: o.query ?? '', path, httpMethod: method,
    headers: { origin: SITE, 'content-type': 'application/json', 'x-nf-client-connection-ip': IP, ...o.headers }, multiValueHeaders: {},
    queryStringParameters: Object.fromEntries(new URLSearchParams(o.query ?? '')), multiValueQueryStringParameters: null, body: o.body ?? null, isBase64Encoded: false,
  });

  it('a session signed in through the login function is what the fuzz makes: the admin reads, a change is audited', async () => {
    await reset();
    const login = await loginHandler(async () => deps)(plainEvent('POST', '/.netlify/functions/login', { body: JSON.stringify({ email: fx.admin.email, password: PASSWORD }) }));
    expect(login.statusCode).toBe(200);
    const jwt = ((login.multiValueHeaders?.['Set-Cookie'] ?? []) as string[]).map((c) => c.split(';')[0]!).find((c) => c.startsWith(`${ACCESS_COOKIE}=`))!;
    const call = (method: string, path: string, body?: string) => handler(plainEvent(method, `${BASE}${path}`, { headers: { cookie: jwt }, body }));
    expect((await call('GET', '/users')).statusCode).toBe(200);
    const set = await call('PUT', `/users/${fx.victim.id}/roles`, JSON.stringify({ roles: ['member'] }));
    expect([set.statusCode, JSON.parse(set.body!).user.roles]).toEqual([200, ['member']]);
    const audit = (await sql.query(`select detail, ip from rolegate.audit_log where id > $1 and event = 'roles_changed'`, [baseAudit])).rows;
    expect(audit).toEqual([{ detail: { roles: ['member'], by: fx.admin.id }, ip: IP }]);
    await reset();
  });

  // FOUND BUG (fixed in src/auth/admin.ts, findUsers): PostgreSQL text cannot hold U+0000, so a search for one
  // failed in the store and was answered 500 ("internal") with an unexpected error logged.
  it('regression: a search with U+0000 in q (q=a%00b, q=%00) is a 400 that touches nothing, not a 500', async () => {
    await reset();
    const sessionId = randomUUID();
    await named('fuzz-setup', SETUP_SQL, [sessionId, fx.admin.id, 0, false, fx.victim.id, 0, 0, false, false, false, fx.victim.email, fx.invitee.id, fx.invitee.email, fx.admin.id, false]);
    const token = sign(fx.admin, sessionId);
    const logged = logs.text().length;
    for (const query of ['q=a%00b', 'q=%00', 'q=victim%00&role=member']) {
      const response = await handler(plainEvent('GET', `${BASE}/users`, { query, headers: { authorization: `Bearer ${token}` } }));
      expect([query, response.statusCode, JSON.parse(response.body!).error?.code]).toEqual([query, 400, 'bad_request']);
    }
    expect(logs.text().slice(logged)).not.toMatch(/rolegate: unexpected/);
    await reset();
  });

  it('logged no secret and nothing unexpected during the whole run', () => {
    const text = logs.text();
    expect(leakedSecrets(text, new Map([['JWT_SECRET', SECRET], ['password', PASSWORD], ['password hash', fakeHash(PASSWORD)]]))).toEqual([]);
    expect(text, 'no unexpected error was logged').not.toMatch(/rolegate: unexpected/);
  });
});
