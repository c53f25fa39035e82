/**
 * Property-based fuzzing of every endpoint of the Identity-compatible API
 * (src/auth/identity-api-handler.ts) with fast-check over one real PostgreSQL database,
 * in the spirit of fuzz.test.ts. Each endpoint gets RUNS hostile requests (FUZZ_RUNS,
 * 2000 unless told): any method, its path under both prefixes with trailing slashes, dot
 * segments, backslashes, percent-encodings and suffixes, bodies as JSON, form, junk, base64
 * (honest or lying), oversized, with any content type, every field of any type (huge, NUL,
 * lone surrogates), Authorization absent, garbage, or a Bearer token that is live, of an
 * ended, stale or too old session, of a disabled or deleted user, expired, signed with
 * another secret, `alg: none`, naming another user's session or no UUID, a member's for an
 * admin endpoint, or only in the nf_jwt cookie (which the API must never read); X-Use-Cookie
 * in any value; Origin absent, the site's, an allowed sibling's, foreign or `null`; refresh
 * tokens live, replayed within the grace interval, reused, rotated elsewhere, revoked,
 * expired, stale, of a disabled user or unknown; mailed tokens of every purpose and state.
 *
 * For every case:
 * - never a 5xx, never a stack trace or an internal path in the body, always `no-store`;
 * - an error is `{code, msg, error_code}` (and OAuth's `{error, error_description}` on
 *   /token), `code` the HTTP status and `error_code` a key of STATUS with that status, and
 *   it sets no cookie; a success has its documented shape (the token answer, a user JSON
 *   matching the row, `{}`, 204 with no body, the settings, `{aud, users}`);
 * - every access token answered or set as nf_jwt verifies with our secret and names the
 *   user and session the tables say; only a token we signed is ever honoured;
 * - CORS headers only for an allowed Origin; a foreign Origin (or `null`) is 403 bad_origin and
 *   changes nothing at all, not even the audit log or a throttle; so does whatever the gate
 *   answers (the API off: 404; a preflight: 204; a path that names no endpoint: 404; a
 *   method the endpoint has not: 405 with Allow);
 * - every other answer changes exactly what the oracle of its endpoint derives from the
 *   tables before the request (TableSpec below): a refusal nothing but the audit log and the
 *   throttle rows it counts (a wrong password at /token: its account and client keys, once
 *   each; a mail request the store took: its address and sender keys; nothing for anything
 *   refused before that), with the refusals that write by design spelled out (reuse detection
 *   ends the session, a refresh of a stale or disabled session ends it, a link to a disabled
 *   user or to an address taken since is used up);
 * - no raw refresh or mailed token in any row a request wrote, nor in any table at the end;
 *   nothing secret (the JWT secret, passwords, any refresh, mailed or access token) in the log,
 *   and no "unexpected" error logged at all.
 *
 * Each case starts from the same tables: the fixture users as made, no session, link, mail,
 * audit row or throttle row (the case's own are written just before the request, and the
 * throttles at their limit only when a knob says so, so a 429 is expected exactly then).
 * Passwords are hashed by a counting stand-in in bcrypt's form, so the 30,000 cases take
 * 100-125 s on two cores. Not fuzzed: TOKEN_FINGERPRINT=on (every request is a 503 by design),
 * and users at the size limits of roles and user_metadata (identity-api-regressions.test.ts, 5).
 *
 * The bugs the fuzzer found are reproduced in identity-api-regressions.test.ts and fixed; the
 * arbitrary or oracle each concerned says so ("FOUND BUG") and sends those inputs again. The seed is fixed (FUZZ_SEED
 * overrides it) and fast-check prints it with the shrunk counterexample on failure.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthDeps } from '../../src/auth/deps.js';
import { identityApiHandler } from '../../src/auth/identity-api-handler.js';
import { requestedRoles } from '../../src/auth/invite.js';
import { chosenPassword, requestedAddress } from '../../src/auth/mailed-link.js';
import { checkAccessToken } from '../../src/auth/require-role.js';
import { verifyAccessToken } from '../../src/core/access-token.js';
import { signAccessToken } from '../../src/core/access-token-node.js';
import { AuthError } from '../../src/core/auth-errors.js';
import { normalizeEmail } from '../../src/core/email.js';
import { emailTokenHash, looksLikeEmailToken, newEmailToken } from '../../src/core/email-token.js';
import type { PasswordHasher } from '../../src/core/password.js';
import { looksLikeRefreshToken, newRefreshToken, refreshTokenHash, successorRefreshToken } from '../../src/core/refresh-token.js';
import { Secret } from '../../src/core/secret.js';
import { clientIp, header, parseBody } from '../../src/http/request.js';
import { STATUS } from '../../src/http/respond.js';
import { openMailSecret } from '../../src/mail/seal.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../../src/site-config/account-settings.js';
import { isUuid } from '../../src/store/sql-store.js';
import type { Store } from '../../src/store/store.js';
import { PASSWORD, SECRET, makeDeps } from '../auth/support.js';
import { openTestStore, type TestStore } from '../support/databases.js';
import { captureLogs, leakedSecrets } from '../support/log-capture.js';
import {
  EMAIL_TOKEN_PLACEHOLDER, GOOD_NEW_PASSWORD, SITE, bodyEnvelope, codeOf, cookieValueArb, emailTokenPlaceholder, encodeLoosely, formEncode, headerValue, mangle, nastyString,
  type BodyRecipe, type CookieValueRecipe, type Mangle,
} from './arbitraries.js';
import { diff, rawTokensAtRest, rolegateTables, tokensIn, type Snapshot, type TableDiff } from './tables.js';

const logs = captureLogs();

const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
/**
 * The input classes of the bugs this fuzzer found (identity-api-regressions.test.ts), once left
 * out while they were open and sent again since they were fixed: all of them, unless
 * FUZZ_FOUND_BUGS names fewer (a comma-separated list of `id-escape`, `metadata-nul`,
 * `put-user-writes`, `verify-type`; `none` for none).
 */
const ALL_FOUND = ['id-escape', 'metadata-nul', 'put-user-writes', 'verify-type'];
const KNOWN_BUGS = new Set(process.env.FUZZ_FOUND_BUGS === undefined ? ALL_FOUND : process.env.FUZZ_FOUND_BUGS.split(',').map((b) => b.trim()));
const BASE = '/auth/identity';
const FUNCTION_BASE = '/.netlify/functions/identity-api';
/** An allowed sibling origin (ALLOWED_ORIGINS): served, with CORS headers. */
const SIBLING = 'https://app.site.example';
const ALLOWED = [SITE, SIBLING];
const WRONG_SECRET = 'another-secret-that-rolegate-never-signs-with-000';
const STACK_TRACE = /\n\s+at\s|\bat\s+\S+\s+\(|\.[cm]?[jt]s:\d+|node_modules|\/work\/|file:\/\/|Error:\s/;
const ACCOUNT_LIMIT = 5;
const IP_LIMIT = 10;
const MAIL_LIMIT = 5;
const LINK_NEW_ADDRESS = 'moved-by-link@fuzz.example';
const OTHER_NEW_ADDRESS = 'moved-other@fuzz.example';
const IP = '203.0.113.10';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

// ------------------------------------------------------------ a cheap, counting bcrypt stand-in

/**
 * A hash in bcrypt's form at cost 4 (so the schema's check, bcryptCost and needsRehash read it
 * as one) that is only a SHA-512 of the password: thousands of password checks cost nothing,
 * and the code paths are bcrypt's (the work factor is a number, not a different path).
 */
const fakeHash = (password: string) => `$2b$04$${createHash('sha512').update(`fuzz stand-in\n${password}`).digest('base64').replace(/\+/g, '.').slice(0, 53)}`;
let hashes = 0;
const hasher: PasswordHasher = {
  hash: async (password) => { hashes += 1; return fakeHash(password); },
  compare: async (password, hash) => hash === fakeHash(password),
};

// ------------------------------------------------------------ what the endpoints are

type Kind = 'settings' | 'token-password' | 'token-refresh' | 'user-get' | 'user-put' | 'logout' | 'signup' | 'verify' | 'recover' | 'invite'
  | 'admin-list' | 'admin-create' | 'admin-get' | 'admin-update' | 'admin-delete';
type Group = 'public' | 'user' | 'admin';
const ENDPOINTS: Record<Kind, { path: string; method: string; allow: string[]; group: Group }> = {
  settings: { path: '/settings', method: 'GET', allow: ['GET'], group: 'public' },
  'token-password': { path: '/token', method: 'POST', allow: ['POST'], group: 'public' },
  'token-refresh': { path: '/token', method: 'POST', allow: ['POST'], group: 'public' },
  'user-get': { path: '/user', method: 'GET', allow: ['GET', 'PUT'], group: 'user' },
  'user-put': { path: '/user', method: 'PUT', allow: ['GET', 'PUT'], group: 'user' },
  logout: { path: '/logout', method: 'POST', allow: ['POST'], group: 'user' },
  signup: { path: '/signup', method: 'POST', allow: ['POST'], group: 'public' },
  verify: { path: '/verify', method: 'POST', allow: ['POST'], group: 'public' },
  recover: { path: '/recover', method: 'POST', allow: ['POST'], group: 'public' },
  invite: { path: '/invite', method: 'POST', allow: ['POST'], group: 'admin' },
  'admin-list': { path: '/admin/users', method: 'GET', allow: ['GET', 'POST'], group: 'admin' },
  'admin-create': { path: '/admin/users', method: 'POST', allow: ['GET', 'POST'], group: 'admin' },
  'admin-get': { path: '/admin/users/:id', method: 'GET', allow: ['GET', 'PUT', 'DELETE'], group: 'admin' },
  'admin-update': { path: '/admin/users/:id', method: 'PUT', allow: ['GET', 'PUT', 'DELETE'], group: 'admin' },
  'admin-delete': { path: '/admin/users/:id', method: 'DELETE', allow: ['GET', 'PUT', 'DELETE'], group: 'admin' },
};

/** The registration policies sign-up is fuzzed under, open most often. */
type SignupPolicy = 'open' | 'open-domains' | 'open-no-confirmation' | 'invite';
const SIGNUP_POLICIES: Record<SignupPolicy, Partial<AccountSettings>> = {
  open: {},
  'open-domains': { allowedDomains: ['fuzz.example'] },
  'open-no-confirmation': { requireConfirmation: false },
  invite: { registration: 'invite' },
};

// ------------------------------------------------------------ arbitraries (copied from arbitraries.ts where they had to change)

const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', 'APPLICATION/JSON', ' application/x-www-form-urlencoded ; charset=latin1') },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'multipart/form-data; boundary=x', 'application/xml', '', ';;;', 'application/json, application/x-www-form-urlencoded') },
  { weight: 1, arbitrary: headerValue },
);

const dropUndefined = (fields: Record<string, unknown>) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

/**
 * JSON and form texts for `fields`: half the time as a client sends them (JSON, or the form
 * gotrue-js posts to /token, each with its content type), else in every envelope.
 */
function apiBody(fieldsArb: fc.Arbitrary<Record<string, unknown>>, formPair: fc.Arbitrary<[string, string]>, duplicated: string[]): fc.Arbitrary<BodyRecipe> {
  const fields = fieldsArb.map(dropUndefined);
  const json = fc.oneof(
    { weight: 8, arbitrary: fields.map((f) => JSON.stringify(f)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom('{', 'null', '[]', '"str"', '1', ...duplicated) },
    { weight: 1, arbitrary: fields.chain((f) => fc.integer({ min: 16 * 1024 - 64, max: 40_000 }).map((n) => JSON.stringify({ ...f, padding: 'p'.repeat(n) }))) },
  );
  const credibleForm = fields.map((f) => Object.entries(f).filter((pair): pair is [string, string] => typeof pair[1] === 'string'));
  const form = fc.tuple(fc.oneof(credibleForm, fc.array(formPair, { maxLength: 6 })), fc.boolean()).map(([pairs, raw]) => formEncode(pairs, raw));
  const asSent = fc.oneof(
    { weight: 2, arbitrary: fields.map((f): BodyRecipe => ({ body: JSON.stringify(f), contentType: 'application/json', isBase64Encoded: false })) },
    { weight: 1, arbitrary: credibleForm.map((pairs): BodyRecipe => ({ body: formEncode(pairs, false), contentType: 'application/x-www-form-urlencoded', isBase64Encoded: false })) },
  );
  return fc.oneof({ weight: 3, arbitrary: asSent }, { weight: 2, arbitrary: bodyEnvelope(json, form) });
}

/** A body for an endpoint that reads none: anything, or nothing. */
const anyBody: fc.Arbitrary<BodyRecipe> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<BodyRecipe>({ body: null, isBase64Encoded: false }) },
  { weight: 1, arbitrary: bodyEnvelope(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 30 })) },
);

const nonString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.object({ maxDepth: 2 }));

/**
 * FOUND BUG (identity-api-regressions.test.ts, 2; fixed): a U+0000 or a lone surrogate anywhere in user_metadata is
 * refused by PostgreSQL's jsonb and answered 500 (PUT /user, POST /signup, POST /admin/users,
 * and PUT /admin/users/:id after it has set the roles). Metadata here
 * carries neither: NUL becomes U+2400 and a lone surrogate U+FFFD, keys and values alike.
 * (Every other field keeps them.)
 */
function jsonbSafe(value: unknown): unknown {
  if (KNOWN_BUGS.has('metadata-nul')) return value;
  const text = (s: string) => s.replace(/\u0000/g, '\u2400').replace(/[\ud800-\udfff]/gu, '\ufffd');
  if (typeof value === 'string') return text(value);
  if (Array.isArray(value)) return value.map(jsonbSafe);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), jsonbSafe(v)]));
  return value;
}

const metadataKey = fc.oneof(
  fc.constantFrom('full_name', 'avatar_url', 'theme', '__proto__', 'constructor', 'toString', '', 'a.b', 'ドキュメント', 'x'.repeat(100), 'roles'),
  fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }),
);
const metadataValue = fc.oneof(
  fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.constantFrom(1e308, -0, 0.1, 2 ** 53 + 1, '\u0000', '\ud800', '<script>', ''), fc.jsonValue({ maxDepth: 3 }),
);
/** `data` / `user_metadata`: objects mostly (around the 1024-byte limit too), and what is no object. */
const metadataArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(metadataKey, metadataValue, { maxKeys: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1006, max: 1046 }).map((n) => ({ blob: 'x'.repeat(n - 11) })) },
  { weight: 1, arbitrary: fc.constantFrom({ full_name: null }, { theme: 'dark', full_name: 'Ada' }, {}) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom(null, 'str', '{"a":1}', 1, true, [], [{ a: 1 }]), nastyString) },
).map(jsonbSafe);

const GOOD_PASSWORDS = [GOOD_NEW_PASSWORD, 'exactly8', 'p'.repeat(72), 'ünïcödé pässwörd'];
const newPasswordArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...GOOD_PASSWORDS) },
  { weight: 2, arbitrary: fc.constantFrom('', 'short', '1234567', 'é'.repeat(37), 'p'.repeat(73), 'x'.repeat(1025), 'x'.repeat(20_000), '\u0000'.repeat(8), '\ud800'.repeat(8), ' '.repeat(8)) },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: nonString },
);

/** A new address at `domain`, one of 40 (so the per-address mail limit is reached too), as a visitor may type it. */
function freshAddress(domain: string, local: string): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 0, max: 39 }), fc.constantFrom('plain', 'plain', 'upper', 'padded', 'nfd')).map(([n, how]) => {
    const address = `${local}${n}@${domain}`;
    if (how === 'upper') return address.toUpperCase();
    if (how === 'padded') return ` ${address}\t`;
    if (how === 'nfd') return `jose\u0301-${address}`;
    return address;
  });
}

function addressArb(known: string[], local: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: freshAddress('fuzz.example', local) },
    { weight: 1, arbitrary: fc.oneof(freshAddress('elsewhere.example', local), fc.constantFrom(`${local}@sub.fuzz.example`, `${local}@fuzz.example.evil.test`, `${local}@FUZZ.EXAMPLE`)) },
    { weight: 4, arbitrary: fc.constantFrom(...known, ...known.map((k) => k.toUpperCase()), ...known.map((k) => ` ${k} `)) },
    { weight: 2, arbitrary: fc.oneof(nastyString, fc.constantFrom('a@b', '@fuzz.example', 'x@', 'a@@fuzz.example', 'a b@fuzz.example', `${'x'.repeat(250)}@fuzz.example`, 'new\u0000@fuzz.example', '\u202enew@fuzz.example', 'new@fuzz.example\r\n', 'new\ud800@fuzz.example')) },
    { weight: 1, arbitrary: nonString },
  );
}

const rolesArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.constantFrom('member', 'editor', 'admin', 'staff.v2', 'a-b_c', 'constructor', 'A1', 'r'.repeat(64)), { maxLength: 4 }) },
  { weight: 2, arbitrary: fc.constantFrom('member', 'editor, member', 'member,,admin', ' , ', '', 'admin') },
  { weight: 2, arbitrary: fc.array(fc.oneof(fc.constantFrom('', ' member', 'a,b', 'x'.repeat(65), '.x', '-x', 'ドキュメント', '__proto__', 'admin\u0000', 'a b', ':admin'), nastyString), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 36 }).map((n) => Array.from({ length: n }, (_, i) => `r${i}`)) },
  { weight: 1, arbitrary: nonString },
);

// Mailed tokens: placeholders the test replaces by a token it makes in the state named, just before the request.
type EmailKind = 'live' | 'used' | 'expired' | 'unknown' | 'magic' | 'disabled' | 'signup-live' | 'signup-used' | 'signup-expired'
  | 'invite-live' | 'invite-used' | 'invite-expired' | 'change-live' | 'change-used' | 'change-expired' | 'change-taken' | 'change-other';
const EMAIL_KINDS: EmailKind[] = ['live', 'used', 'expired', 'unknown', 'magic', 'disabled', 'signup-live', 'signup-used', 'signup-expired',
  'invite-live', 'invite-used', 'invite-expired', 'change-live', 'change-used', 'change-expired', 'change-taken', 'change-other'];
const MANGLES: Mangle[] = ['truncate', 'extend', 'flip', 'upper', 'quote', 'percent', 'space'];
const tokenChars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
const lookalikeToken = fc.integer({ min: 42, max: 44 }).chain((n) => fc.string({ unit: tokenChars, minLength: n, maxLength: n }));
const tokenJunk = fc.oneof(nastyString, headerValue, fc.constantFrom('', 'null', '%00', `${'A'.repeat(43)}=`, `${'A'.repeat(42)}+`, `${'A'.repeat(42)}/`));

function emailTokenText(favourite: EmailKind[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...favourite).map((k) => emailTokenPlaceholder(k as never, 'none')) },
    { weight: 3, arbitrary: fc.constantFrom(...EMAIL_KINDS).map((k) => emailTokenPlaceholder(k as never, 'none')) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...favourite), fc.constantFrom(...MANGLES)).map(([k, m]) => emailTokenPlaceholder(k as never, m)) },
    { weight: 1, arbitrary: lookalikeToken },
    { weight: 1, arbitrary: tokenJunk },
    { weight: 1, arbitrary: nonString },
  );
}

/** Refresh tokens in the state named (see refreshToken), placeholders as for mailed tokens. */
type RefreshKind = 'live' | 'grace' | 'grace-child-used' | 'conflict' | 'old-used' | 'revoked' | 'expired' | 'stale' | 'disabled' | 'unknown';
const REFRESH_KINDS: RefreshKind[] = ['live', 'grace', 'grace-child-used', 'conflict', 'old-used', 'revoked', 'expired', 'stale', 'disabled', 'unknown'];
const refreshPlaceholder = (kind: RefreshKind, mangle: Mangle) => `~rt~${kind}~${mangle}~`;
const REFRESH_PLACEHOLDER = /~rt~([a-z-]+)~([a-z]+)~/g;
const refreshTokenText: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(refreshPlaceholder('live', 'none')) },
  { weight: 5, arbitrary: fc.constantFrom(...REFRESH_KINDS).map((k) => refreshPlaceholder(k, 'none')) },
  { weight: 2, arbitrary: fc.constantFrom(...MANGLES).map((m) => refreshPlaceholder('live', m)) },
  { weight: 1, arbitrary: lookalikeToken },
  { weight: 1, arbitrary: tokenJunk },
  { weight: 1, arbitrary: nonString },
);

// ------------------------------------------------------------ the request recipe

/** Who sends the request, by the Authorization header (or, `cookie-only`, only the nf_jwt cookie). */
type Caller = 'none' | 'live' | 'other' | 'ended' | 'stale' | 'disabled-user' | 'deleted-user' | 'expired' | 'wrong-secret' | 'alg-none'
  | 'foreign-sid' | 'non-uuid-sub' | 'non-uuid-sid' | 'old-session' | 'cookie-only' | 'raw' | 'garbage';
interface CallerRecipe { who: Caller; scheme: string; tail: string; raw?: CookieValueRecipe; garbage?: string }

const HOSTILE_CALLERS: Caller[] = ['ended', 'stale', 'disabled-user', 'deleted-user', 'expired', 'wrong-secret', 'alg-none', 'foreign-sid', 'non-uuid-sub', 'non-uuid-sid', 'cookie-only', 'raw', 'raw', 'garbage'];
function callerArb(group: Group): fc.Arbitrary<CallerRecipe> {
  const who: fc.Arbitrary<Caller> = group === 'public'
    ? fc.oneof({ weight: 12, arbitrary: fc.constant<Caller>('none') }, { weight: 2, arbitrary: fc.constantFrom<Caller>('live', 'raw', 'garbage', 'expired') })
    : fc.oneof(
      { weight: 14, arbitrary: fc.constant<Caller>('live') },
      { weight: 3, arbitrary: fc.constantFrom<Caller>('other', 'old-session', 'none') },
      { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_CALLERS) },
    );
  const scheme = fc.oneof({ weight: 14, arbitrary: fc.constant('Bearer ') }, { weight: 2, arbitrary: fc.constantFrom('bearer ', 'BEARER\t', 'Bearer  ') }, { weight: 1, arbitrary: fc.constantFrom('Basic ', 'Bearer', 'Token ', '', ' Bearer ') });
  const tail = fc.oneof({ weight: 14, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', ' extra', ',Bearer x', '\t') });
  // Only the parts a caller uses, so a counterexample shows no others.
  return who.chain((w): fc.Arbitrary<CallerRecipe> => w === 'garbage' ? fc.record({ who: fc.constant(w), scheme: fc.constant(''), tail: fc.constant(''), garbage: headerValue })
    : w === 'raw' ? fc.record({ who: fc.constant(w), scheme, tail, raw: cookieValueArb })
      : fc.record({ who: fc.constant(w), scheme, tail }));
}

type PathMangle = 'exact' | 'function' | 'trailing' | 'trailing2' | 'dot' | 'dotdot' | 'encoded-dotdot' | 'backslash'
  | 'upper' | 'percent' | 'encoded-slash' | 'extra' | 'escape' | 'prefix' | 'inner-slash' | 'nul' | 'semicolon' | 'space';
/** The spellings the URL parser brings back to the endpoint; every other one names nothing (404). */
/** On /admin/users/:id these suffixes stay in the id's segment: the id is then no UUID. */
const ID_SUFFIXES: Partial<Record<PathMangle, string>> = { nul: '%00', semicolon: ';x', space: '%20' };
const ROUTING: ReadonlySet<PathMangle> = new Set<PathMangle>(['exact', 'function', 'trailing', 'trailing2', 'dot', 'dotdot', 'encoded-dotdot', 'backslash']);
const pathMangleArb: fc.Arbitrary<PathMangle> = fc.oneof(
  { weight: 24, arbitrary: fc.constant<PathMangle>('exact') },
  { weight: 6, arbitrary: fc.constantFrom<PathMangle>('function', 'trailing', 'trailing2', 'dot', 'dotdot', 'encoded-dotdot', 'backslash') },
  { weight: 3, arbitrary: fc.constantFrom<PathMangle>('upper', 'percent', 'encoded-slash', 'extra', 'escape', 'prefix', 'inner-slash', 'nul', 'semicolon', 'space') },
);

function pathOf(endpoint: string, mangle: PathMangle): string {
  switch (mangle) {
    case 'exact': return `${BASE}${endpoint}`;
    case 'function': return `${FUNCTION_BASE}${endpoint}`;
    case 'trailing': return `${BASE}${endpoint}/`;
    case 'trailing2': return `${BASE}${endpoint}//`;
    case 'dot': return `${BASE}/.${endpoint}`;
    case 'dotdot': return `${BASE}/zz/..${endpoint}`;
    case 'encoded-dotdot': return `${BASE}/zz/%2e%2E${endpoint}`;
    case 'backslash': return `${BASE}\\${endpoint.slice(1)}`;
    case 'upper': return `${BASE}${endpoint.toUpperCase()}`;
    case 'percent': return `${BASE}/%${endpoint.charCodeAt(1).toString(16).toUpperCase()}${endpoint.slice(2)}`;
    case 'encoded-slash': return `${BASE}%2F${endpoint.slice(1)}`;
    case 'extra': return `${BASE}${endpoint}/x/y`;
    case 'escape': return `${BASE}/..${endpoint}`;
    case 'prefix': return `${BASE}x${endpoint}`;
    case 'inner-slash': return `${BASE}/${endpoint}`;
    case 'nul': return `${BASE}${endpoint}%00`;
    case 'semicolon': return `${BASE}${endpoint};x`;
    case 'space': return `${BASE}${endpoint}%20`;
  }
}

/** The `:id` of /admin/users/:id: fixture users (as is, upper case, percent-encoded), a UUID nobody has, and what is no UUID. */
type IdRecipe = { kind: 'victim' | 'admin' | 'member' | 'holder' | 'victim-upper' | 'victim-encoded' | 'victim-slash' | 'random' } | { kind: 'junk'; value: string };
const idArb: fc.Arbitrary<IdRecipe> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<IdRecipe>({ kind: 'victim' }) },
  { weight: 4, arbitrary: fc.constantFrom<IdRecipe>({ kind: 'admin' }, { kind: 'member' }, { kind: 'holder' }, { kind: 'victim-upper' }, { kind: 'victim-encoded' }, { kind: 'victim-slash' }, { kind: 'random' }) },
  // FOUND BUG (identity-api-regressions.test.ts, 1; fixed): a malformed %-escape in the id (`%zz`, a lone `%`) is
  // answered 500 (decodeURIComponent throws): the id is always sent well-formed, encoded.
  { weight: 2, arbitrary: fc.oneof(
    fc.constantFrom('abc', '0', 'null', 'undefined', "1' or '1'='1", '00000000000040008000000000000001', '00000000-0000-4000-8000-00000000000g', '%', 'a/b', ' ', '\u3000', '\ud800'),
    fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }),
  ).filter((v) => v !== '' && !/^\.+$/.test(v)).map((value) => ({ kind: 'junk' as const, value })) },
);
const wellFormed = (s: string) => s.replace(/[\ud800-\udfff]/gu, '\ufffd');

const ORIGINS = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | undefined>(undefined) },
  { weight: 4, arbitrary: fc.constantFrom<string | undefined>(SITE, SIBLING, 'HTTPS://SITE.EXAMPLE') },
  { weight: 2, arbitrary: fc.constantFrom<string | undefined>('null', 'https://evil.example', `${SITE}/`, 'https://site.example.evil.example', 'http://site.example', '', ' https://site.example', 'https://app.site.example.evil') },
);
const extraHeaderArb = fc.tuple(
  fc.constantFrom('accept', 'user-agent', 'User-Agent', 'x-forwarded-for', 'x-nf-client-connection-ip', 'client-ip', 'content-length', 'Content-Type', 'ORIGIN', 'Authorization', 'X-USE-COOKIE', 'x-jwt-aud', 'x-random'),
  fc.oneof(headerValue, fc.constantFrom('text/html', 'application/json', '203.0.113.99', '198.51.100.7, 10.0.0.1', 'Bearer x.y.z', 'gotrue-js', '1')),
);

interface Knobs {
  disabledApi: boolean;
  /** /token: the login throttle at its limit for the account asked, or the client; a mail request: the mail limit for the address asked. */
  preThrottle: 'none' | 'account' | 'ip' | 'mail';
  policy: SignupPolicy;
  /** Other live sessions of the caller (a new password ends them, a delete removes them), and an ended one. */
  others: number;
  endedOther: boolean;
  /** Links of the user concerned waiting (a recovery link, an address change) and mails in the outbox. */
  links: boolean;
}
const knobsArb = (kind: Kind): fc.Arbitrary<Knobs> => fc.record({
  disabledApi: fc.integer({ min: 0, max: 24 }).map((n) => n === 0),
  preThrottle: kind === 'token-password' ? fc.constantFrom<Knobs['preThrottle']>('none', 'none', 'none', 'none', 'none', 'none', 'none', 'account', 'ip')
    : ['signup', 'recover', 'invite', 'user-put'].includes(kind) ? fc.constantFrom<Knobs['preThrottle']>('none', 'none', 'none', 'none', 'none', 'none', 'none', 'none', 'none', 'mail')
      : fc.constant<Knobs['preThrottle']>('none'),
  policy: kind === 'signup' ? fc.constantFrom<SignupPolicy>('open', 'open', 'open', 'open', 'open-domains', 'open-no-confirmation', 'open-no-confirmation', 'invite') : fc.constant<SignupPolicy>('open'),
  others: fc.integer({ min: 0, max: 2 }),
  endedOther: fc.boolean(),
  links: fc.boolean(),
});

interface CaseRecipe {
  method: string;
  mangle: PathMangle;
  id: IdRecipe;
  query: string;
  origin: string | undefined;
  headers: Array<[string, string]>;
  useCookie: string | undefined;
  caller: CallerRecipe;
  body: BodyRecipe;
  knobs: Knobs;
}

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'post', 'get', '', 'TRACE'];
function caseArb(kind: Kind, body: fc.Arbitrary<BodyRecipe>, query: fc.Arbitrary<string> = fc.oneof(fc.constant(''), fc.webQueryParameters())): fc.Arbitrary<CaseRecipe> {
  const ep = ENDPOINTS[kind];
  const others = OTHER_METHODS.filter((m) => m === ep.method || !ep.allow.includes(m));
  return fc.record({
    method: fc.oneof({ weight: 16, arbitrary: fc.constant(ep.method) }, { weight: 1, arbitrary: fc.constantFrom(...others) }),
    mangle: pathMangleArb,
    id: idArb,
    query,
    origin: ORIGINS,
    headers: fc.array(extraHeaderArb, { maxLength: 3 }),
    useCookie: fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 2, arbitrary: fc.constantFrom<string | undefined>('1', 'session', '', 'false', 'persistent', 'SESSION') }),
    caller: callerArb(ep.group),
    body,
    knobs: knobsArb(kind),
  });
}

// ------------------------------------------------------------ the bodies of each endpoint

function bodies(fx: Fixtures) {
  const known = [fx.member, fx.admin, fx.disabled, fx.nopass, fx.unconfirmed, fx.holder, fx.victim, fx.reset, fx.confirm, fx.invitee, fx.pending].map((u) => u.email);
  const grant = (main: string) => fc.oneof({ weight: 12, arbitrary: fc.constant<unknown>(main) }, { weight: 1, arbitrary: fc.constantFrom<unknown>('Password', 'password ', 'client_credentials', '', 'refresh_token', 'password') }, { weight: 1, arbitrary: nonString });
  const username = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom<unknown>(fx.member.email, fx.member.email, fx.member.email.toUpperCase(), ` ${fx.member.email} `, fx.admin.email, fx.unconfirmed.email, fx.disabled.email, fx.nopass.email, 'nobody@fuzz.example', fx.victim.email) },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: nonString },
  );
  const loginPassword = fc.oneof(
    { weight: 8, arbitrary: fc.constant<unknown>(PASSWORD) },
    { weight: 3, arbitrary: fc.constantFrom<unknown>('wrong password', `${PASSWORD} `, PASSWORD.toUpperCase(), 'é'.repeat(40), 'p'.repeat(73), '', 'x'.repeat(1025)) },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: nonString },
  );
  const tokenPair = fc.tuple(
    fc.constantFrom('grant_type', 'username', 'password', 'refresh_token', 'Username', 'grant_type[]', '__proto__', 'constructor', ''),
    fc.oneof(fc.constantFrom('password', 'refresh_token', fx.member.email, PASSWORD, refreshPlaceholder('live', 'none')), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 })),
  );
  const tokenDuplicated = [
    `{"grant_type":"password","grant_type":"refresh_token","username":"${fx.member.email}","password":"${PASSWORD}"}`,
    `{"grant_type":"password","username":"nobody@fuzz.example","username":"${fx.member.email}","password":"${PASSWORD}"}`,
    `{"__proto__":{"grant_type":"password"},"username":"${fx.member.email}","password":"${PASSWORD}"}`,
  ];
  const tokenPassword = apiBody(fc.oneof(
    { weight: 5, arbitrary: fc.record({ grant_type: grant('password'), username, password: loginPassword }) },
    { weight: 1, arbitrary: fc.record({ grant_type: grant('password'), username, password: loginPassword, scope: fc.oneof(fc.constant<unknown>('openid'), nastyString), refresh_token: refreshTokenText }, { requiredKeys: [] }) },
  ), tokenPair, tokenDuplicated);
  const tokenRefresh = apiBody(fc.oneof(
    { weight: 6, arbitrary: fc.record({ grant_type: grant('refresh_token'), refresh_token: refreshTokenText }) },
    { weight: 1, arbitrary: fc.record({ grant_type: grant('refresh_token'), refresh_token: refreshTokenText, username, password: loginPassword }, { requiredKeys: [] }) },
  ), tokenPair, [`{"grant_type":"refresh_token","refresh_token":"x","refresh_token":"${refreshPlaceholder('live', 'none')}"}`]);

  const currentPassword = fc.oneof(
    { weight: 6, arbitrary: fc.constant<unknown>(PASSWORD) },
    { weight: 3, arbitrary: fc.constantFrom<unknown>('wrong password', `${PASSWORD} `, PASSWORD.toUpperCase(), GOOD_NEW_PASSWORD, 'é'.repeat(40)) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('', 'x'.repeat(1025)) },
    { weight: 1, arbitrary: nonString },
  );
  const newAddress = addressArb([fx.holder.email, fx.admin.email, fx.member.email, LINK_NEW_ADDRESS], 'moved');
  const changeToken = emailTokenText(['change-live', 'change-live', 'change-live', 'change-taken', 'change-other', 'change-used', 'change-expired', 'live']);
  /** The field present `present` times in `present + absent` (fc.option's freq cannot make a field rarer than half). */
  const option = <T>(arb: fc.Arbitrary<T>, present = 1, absent = 1) => fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: present, arbitrary: arb });
  const userPut = apiBody(fc.oneof(
    { weight: 3, arbitrary: fc.record({ data: metadataArb }) },
    { weight: 3, arbitrary: fc.record({ password: newPasswordArb, current_password: option(currentPassword) }) },
    { weight: 3, arbitrary: fc.record({ email: newAddress, current_password: option(currentPassword) }) },
    { weight: 2, arbitrary: fc.record({ email_change_token: changeToken }) },
    { weight: 3, arbitrary: fc.record({ data: metadataArb, password: newPasswordArb, email: newAddress, email_change_token: changeToken, current_password: currentPassword, password_confirm: newPasswordArb }, { requiredKeys: [] }) },
  ), fc.tuple(fc.constantFrom('data', 'password', 'email', 'current_password', 'email_change_token', ''), fc.oneof(fc.constantFrom(PASSWORD, GOOD_NEW_PASSWORD, 'moved0@fuzz.example'), fc.string({ maxLength: 20 }))),
  [`{"password":"${GOOD_NEW_PASSWORD}","password":"short"}`, `{"__proto__":{"password":"${GOOD_NEW_PASSWORD}"},"data":{"a":1}}`]);

  const signupFields = fc.record({
    email: option(addressArb(known, 'new'), 11),
    password: option(newPasswordArb, 9),
    data: option(metadataArb, 1, 2),
  });
  const signup = apiBody(signupFields, fc.tuple(fc.constantFrom('email', 'password', 'data', 'Email', '__proto__', ''), fc.oneof(freshAddress('fuzz.example', 'new'), fc.constantFrom(GOOD_NEW_PASSWORD, ...known), fc.string({ maxLength: 20 }))),
    [`{"email":"new0@fuzz.example","email":"${fx.member.email}","password":"${GOOD_NEW_PASSWORD}"}`]);

  /** A type and a token that go together half the time (the success paths), else any of each. */
  const MATCHING: Array<[string, EmailKind]> = [['recovery', 'live'], ['signup', 'signup-live'], ['signup', 'invite-live'], ['invite', 'invite-live'], ['email_change', 'change-live'], ['recovery', 'disabled'], ['email_change', 'change-taken']];
  // FOUND BUG (identity-api-regressions.test.ts, 4; fixed): a `type` that names a member of Object.prototype
  // (`toString`, `constructor`, `__proto__`, …) is answered 500 (VERIFY_TYPES[type] is then no
  // list): no such type is sent. Other unknown types are.
  const verifyType = fc.oneof({ weight: 8, arbitrary: fc.constantFrom<unknown>('signup', 'recovery', 'invite', 'email_change') }, { weight: 1, arbitrary: fc.constantFrom<unknown>('magic_link', 'Recovery', '', 'sms', 'signup ', 'hasOwn', ...(KNOWN_BUGS.has('verify-type') ? ['toString', 'constructor', '__proto__'] : [])) }, { weight: 1, arbitrary: nonString });
  const verifyPair = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...MATCHING), fc.constantFrom<Mangle>('none', 'none', 'none', 'none', ...MANGLES)).map(([[type, kind], mangle]) => ({ type: type as unknown, token: emailTokenPlaceholder(kind as never, mangle) as unknown })) },
    { weight: 2, arbitrary: fc.record({ type: verifyType, token: emailTokenText(['live', 'signup-live', 'invite-live', 'change-live']) }) },
  );
  const verify = apiBody(fc.tuple(verifyPair, option(newPasswordArb), fc.constantFrom('absent', 'absent', 'absent', 'same', 'other')).map(([pair, password, confirm]) => ({
    ...pair, password, ...(confirm === 'same' ? { password_confirm: password } : confirm === 'other' ? { password_confirm: `${String(password)}x` } : {}),
  })), fc.tuple(fc.constantFrom('token', 'type', 'password', 'Token', ''), fc.oneof(fc.constantFrom('recovery', 'signup', emailTokenPlaceholder('live', 'none'), GOOD_NEW_PASSWORD), fc.string({ maxLength: 20 }))),
  [`{"type":"recovery","token":"x","token":"${emailTokenPlaceholder('live', 'none')}"}`, `{"__proto__":{"type":"recovery"},"token":"${emailTokenPlaceholder('live', 'none')}"}`]);

  const recover = apiBody(fc.record({ email: addressArb(known, 'nobody') }, { requiredKeys: [] }),
    fc.tuple(fc.constantFrom('email', 'Email', 'email[]', ''), fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 20 }))), [`{"email":"nobody@fuzz.example","email":"${fx.reset.email}"}`]);

  const appMetadataRoles = fc.oneof({ weight: 4, arbitrary: fc.record({ roles: rolesArb }, { requiredKeys: [] }) }, { weight: 1, arbitrary: fc.oneof(nonString, fc.constant<unknown>({ roles: undefined, provider: 'github' })) });
  const invite = apiBody(fc.record({
    email: option(addressArb(known, 'invitee'), 11),
    roles: option(rolesArb, 1, 2),
    app_metadata: option(appMetadataRoles, 1, 2),
    data: option(metadataArb, 1, 2),
  }), fc.tuple(fc.constantFrom('email', 'roles', 'Email', ''), fc.oneof(freshAddress('fuzz.example', 'invitee'), fc.constantFrom('member', 'editor,admin', ...known), fc.string({ maxLength: 20 }))),
  [`{"email":"invitee0@fuzz.example","roles":["member"],"roles":"admin"}`]);

  const adminCreate = apiBody(fc.record({
    email: option(addressArb(known, 'created'), 11),
    password: option(newPasswordArb, 1, 2),
    app_metadata: option(appMetadataRoles),
    user_metadata: option(metadataArb, 1, 2),
    data: option(metadataArb, 1, 2),
  }), fc.tuple(fc.constantFrom('email', 'password', 'app_metadata', ''), fc.oneof(freshAddress('fuzz.example', 'created'), fc.constantFrom(GOOD_NEW_PASSWORD, ...known), fc.string({ maxLength: 20 }))),
  [`{"email":"created0@fuzz.example","app_metadata":{"roles":["member"]},"app_metadata":{"roles":["admin"]}}`]);

  const adminUpdate = apiBody(fc.record({
    app_metadata: option(appMetadataRoles, 3),
    user_metadata: option(metadataArb),
    email: option(addressArb(known, 'moved'), 1, 8),
    password: option(newPasswordArb, 1, 8),
  }), fc.tuple(fc.constantFrom('app_metadata', 'user_metadata', 'email', ''), fc.oneof(fc.constantFrom('admin', '{}'), fc.string({ maxLength: 20 }))),
  ['{"app_metadata":{"roles":["admin"]},"app_metadata":{"roles":["member"]}}', '{"user_metadata":{"a":1},"user_metadata":"x"}']);

  const page = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('1', '2', '3', '5', '100') }, { weight: 2, arbitrary: fc.constantFrom('0', '-1', '', 'abc', '1e2', '101', '999999', '1000000', '01', ' 1', '1.5', '%zz', '\u0661') });
  const listQuery = fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 4, arbitrary: fc.record({ page: fc.option(page, { nil: undefined }), per_page: fc.option(page, { nil: undefined }) }).map(({ page: p, per_page: pp }) => [p === undefined ? '' : `page=${encodeLoosely(p)}`, pp === undefined ? '' : `per_page=${encodeLoosely(pp)}`].filter(Boolean).join('&')) },
    { weight: 1, arbitrary: fc.constantFrom('page=1&page=2', 'per_page=2&per_page=abc', 'page', 'page=%zz&per_page=1', 'PAGE=2') },
    { weight: 1, arbitrary: fc.webQueryParameters() },
  );

  return { tokenPassword, tokenRefresh, userPut, signup, verify, recover, invite, adminCreate, adminUpdate, listQuery };
}

// ------------------------------------------------------------ the fixtures

interface Fixture { id: string; email: string; roles: string[] }
interface Fixtures {
  member: Fixture; admin: Fixture; disabled: Fixture; nopass: Fixture; unconfirmed: Fixture;
  /** Recovery links: `reset` the live one and a sign-in link, `old` used and expired ones, `gone` one of a user disabled since. */
  reset: Fixture; old: Fixture; gone: Fixture;
  /** `confirm` waits for its sign-up link, `invitee` for its invitation (no password), `pending` signed up and never confirmed. */
  confirm: Fixture; invitee: Fixture; pending: Fixture;
  /** PUT /user's and /logout's caller; its address change links. */
  holder: Fixture;
  /** The admin endpoints' target. */
  victim: Fixture;
}

type Row = Record<string, any>;

interface TableSpecRow { columns: string[]; check?: (after: Row) => void; optional?: boolean }
/** What a table may and must show after a request: rows added (each matched), removed (by key), changed (by key: exactly those columns). */
interface TableSpec { added?: Array<Record<string, unknown>>; removed?: string[]; changed?: Record<string, TableSpecRow> }
type Spec = Record<string, TableSpec>;

const keyOf = (row: Row) => String(row.id ?? row.key ?? row.token_hash);
const EMPTY: TableDiff = { added: [], removed: [], changed: [] };

/** Two specs in one: rows added and removed by either, and a row changed by both changed in the union of their columns. */
function mergeSpec(a: Spec, b: Spec): Spec {
  const out: Spec = { ...a };
  for (const [table, t] of Object.entries(b)) {
    const s = out[table] ?? {};
    const changed = { ...(s.changed ?? {}) };
    for (const [k, row] of Object.entries(t.changed ?? {})) {
      const prev = changed[k];
      changed[k] = prev ? {
        columns: [...new Set([...prev.columns, ...row.columns])],
        check: (after) => { prev.check?.(after); row.check?.(after); },
        optional: prev.optional && row.optional,
      } : row;
    }
    out[table] = { added: [...(s.added ?? []), ...(t.added ?? [])], removed: [...(s.removed ?? []), ...(t.removed ?? [])], changed };
  }
  return out;
}

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
    for (const [k, w] of Object.entries(want)) {
      if (!w.optional) expect(d.changed.some((c) => keyOf(c.before) === k), `${label}: ${table} row ${k} should have changed (${w.columns.join(',')})`).toBe(true);
    }
  }
}

/** JSON with sorted keys, to compare jsonb (which orders keys its own way) with what was sent. */
function canon(value: unknown): string {
  return JSON.stringify(value, (_, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

/** update_user_metadata's merge: the patch over what is there, a key set to null removed. */
function mergedMetadata(current: unknown, patch: unknown): unknown {
  const sent = JSON.parse(JSON.stringify(patch)) as Record<string, unknown>;
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...(current as Record<string, unknown>) })) merged[k] = v;
  for (const [k, v] of Object.entries(sent)) Object.defineProperty(merged, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const k of Object.keys(merged)) if (merged[k] === null) delete merged[k];
  return merged;
}

/** The patch a `data`/`user_metadata` field is, as metadataPatch reads it: absent, a bad_request, or an object. */
function metadataOf(value: unknown): { patch?: Record<string, unknown>; error?: string } {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return { error: 'bad_request' };
  const unstorable = (t: string) => t.includes('\u0000') || /\p{Cs}/u.test(t);
  let bad = false;
  const text = JSON.stringify(value, (k, v: unknown) => {
    if (unstorable(k) || (typeof v === 'string' && unstorable(v))) bad = true;
    return v;
  });
  if (bad || Buffer.byteLength(text) > 1024) return { error: 'bad_request' };
  return { patch: value as Record<string, unknown> };
}

const counts = {} as Record<Kind, { cases: number; outcomes: Record<string, number> }>;
for (const kind of Object.keys(ENDPOINTS) as Kind[]) counts[kind] = { cases: 0, outcomes: {} };
const countOutcome = (kind: Kind, key: string) => { counts[kind].outcomes[key] = (counts[kind].outcomes[key] ?? 0) + 1; };
/** Every refresh token, mailed token and access token that existed: none may be logged or stored raw. */
const issuedTokens = new Set<string>();
const emailTokens = new Set<string>();
const accessTokens = new Set<string>();

describe('fuzzing every endpoint of the Identity API', () => {
  let t: TestStore;
  let store: Store;
  let sql: TestStore['sql'];
  let deps: AuthDeps;
  let fx: Fixtures;
  let fixtureRows: Map<string, Row>;
  let tables: string[];
  let arbs: ReturnType<typeof bodies>;
  const handlers = {} as { main: (e: HandlerEvent) => Promise<HandlerResponse>; off: (e: HandlerEvent) => Promise<HandlerResponse> } & Record<SignupPolicy, (e: HandlerEvent) => Promise<HandlerResponse>>;
  const policyAccounts = {} as Record<SignupPolicy, AccountSettings>;

  const accountSettings = (settings: Partial<AccountSettings>, enabled = true): AccountSettings => ({
    ...DEFAULT_ACCOUNT_SETTINGS, registration: 'open', newUserRoles: ['member'], ...settings,
    identityApi: { ...DEFAULT_ACCOUNT_SETTINGS.identityApi, enabled },
  });

  beforeAll(async () => {
    t = await openTestStore({ maxConnections: 4 });
    ({ store, sql } = t);
    const make = async (email: string, roles: string[], password: string | null): Promise<Fixture> => {
      const r = await store.createUser({ email, passwordHash: password === null ? null : fakeHash(password), roles });
      if (r.status !== 'created') throw new Error('fixture');
      return { id: r.user.id, email: r.user.email, roles: r.user.roles };
    };
    fx = {
      member: await make('member@fuzz.example', ['member'], PASSWORD),
      admin: await make('admin@fuzz.example', ['admin'], PASSWORD),
      disabled: await make('disabled@fuzz.example', ['admin'], PASSWORD),
      nopass: await make('nopass@fuzz.example', ['admin'], null),
      unconfirmed: await make('unconfirmed@fuzz.example', ['member'], PASSWORD),
      reset: await make('reset@fuzz.example', ['member'], PASSWORD),
      old: await make('reset-old@fuzz.example', ['member'], PASSWORD),
      gone: await make('reset-gone@fuzz.example', ['member'], PASSWORD),
      confirm: await make('confirm@fuzz.example', ['member'], PASSWORD),
      invitee: await make('invitee@fuzz.example', ['editor'], null),
      pending: await make('pending@fuzz.example', ['member'], PASSWORD),
      holder: await make('holder@fuzz.example', ['member'], PASSWORD),
      victim: await make('victim@fuzz.example', ['editor'], PASSWORD),
    };
    await store.setUserDisabled(fx.disabled.id, true);
    await store.setUserDisabled(fx.gone.id, true);
    await sql.query('update rolegate.users set email_confirmed_at = null where id = any($1::uuid[])', [[fx.unconfirmed.id, fx.confirm.id, fx.invitee.id, fx.pending.id]]);
    await sql.query(`update rolegate.users set user_metadata = '{"full_name":"Holder","theme":"light"}' where id = $1`, [fx.holder.id]);
    await sql.query('delete from rolegate.audit_log');

    const base = makeDeps(store, {
      LOGIN_MAX_FAILURES_PER_ACCOUNT: String(ACCOUNT_LIMIT), LOGIN_MAX_FAILURES_PER_IP: String(IP_LIMIT), LOGIN_THROTTLE_WINDOW_SECONDS: '60', ALLOWED_ORIGINS: SIBLING,
    });
    deps = {
      ...base, config: { ...base.config, bcryptCost: 4 }, passwords: hasher, kickMail: async () => undefined,
      mail: { from: 'no-reply@site.example', maxPerAddress: MAIL_LIMIT, maxPerIp: 100_000, throttleWindowSeconds: 2 },
      accounts: accountSettings({}),
    };
    expect(deps.config.allowedOrigins).toEqual(ALLOWED);
    handlers.main = identityApiHandler(async () => deps);
    const offDeps = { ...deps, accounts: accountSettings({}, false) };
    handlers.off = identityApiHandler(async () => offDeps);
    for (const [policy, settings] of Object.entries(SIGNUP_POLICIES) as Array<[SignupPolicy, Partial<AccountSettings>]>) {
      policyAccounts[policy] = accountSettings(settings);
      const policyDeps = { ...deps, accounts: policyAccounts[policy] };
      handlers[policy] = identityApiHandler(async () => policyDeps);
    }
    tables = await rolegateTables(sql);
    expect(tables).toEqual(expect.arrayContaining(['users', 'sessions', 'refresh_tokens', 'email_tokens', 'mail_outbox', 'audit_log', 'login_throttle']));
    fixtureRows = (await picture()).get('users')!;
    arbs = bodies(fx);
  });
  afterAll(async () => {
    await t?.close();
  });

  // ------------------------------------------------------------ making a recipe real

  interface Live { user: Fixture; sessionId: string; refreshToken: string; accessToken: string }
  interface MadeRefresh { kind: RefreshKind; token: string; tokenId?: string; sessionId?: string; userId?: string; childHash?: string }
  interface CaseState {
    rightSigned: Set<unknown>;
    email: Map<EmailKind, string>;
    refresh: Map<RefreshKind, MadeRefresh>;
    /** The session the caller's token names, when it is one the test made. */
    callerSession?: string;
    /** The reset user's own session before a recovery link is used (it must end). */
    resetSession?: string;
  }

  /** A prepared statement: parsed once per connection, as most of each case's round trips are. */
  const named = (name: string, text: string, values: unknown[]) => sql.query({ name, text, values });

  const sign = (user: { id: string; email: string; roles: string[] }, sessionId: string, options: { secret?: Secret; now?: number } = {}) => signAccessToken({
    subject: { id: user.id, email: user.email, roles: user.roles }, sessionId, secret: options.secret ?? deps.config.jwtSecret,
    issuer: deps.config.jwtIssuer, ttlSeconds: 900, now: options.now ?? deps.now(),
  }).token;

  /** A session of `user` with one refresh token, written as the store leaves them, in one statement. */
  async function insertSession(user: Fixture, o: { version?: number; age?: number; revoked?: boolean; used?: 'now' | 'old'; expired?: boolean } = {}) {
    const token = newRefreshToken();
    issuedTokens.add(token);
    const r = await named('fuzz-session', `with s as (
        insert into rolegate.sessions (user_id, token_version, created_at, revoked_at, revoked_reason)
        select id, token_version + $2::int, now() - make_interval(secs => $3::int), case when $4::boolean then now() end, case when $4::boolean then 'fixture' end
        from rolegate.users where id = $1 returning id)
      insert into rolegate.refresh_tokens (token_hash, session_id, expires_at, used_at, revoked_at)
      select $5, s.id, now() + make_interval(secs => case when $6::boolean then -1 else 3600 end),
        case $7::text when 'now' then clock_timestamp() when 'old' then now() - interval '1 hour' end, case when $4::boolean then now() end from s
      returning id, session_id`, [user.id, o.version ?? 0, o.age ?? 0, o.revoked ?? false, refreshTokenHash(token), o.expired ?? false, o.used ?? null]);
    return { sessionId: String(r.rows[0].session_id), tokenId: String(r.rows[0].id), token };
  }

  async function live(user: Fixture, o: Parameters<typeof insertSession>[1] = {}): Promise<Live> {
    const s = await insertSession(user, o);
    return { user, sessionId: s.sessionId, refreshToken: s.token, accessToken: sign(user, s.sessionId) };
  }

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');
  const hmac = (secret: string, input: string) => createHmac('sha256', secret).update(input).digest('base64url');

  /** A token recipe of arbitraries.ts (crafted, signed, raw, a live one mangled) made real; the subjects signed with our secret go into rightSigned. */
  async function rawToken(recipe: CookieValueRecipe, subject: Fixture, cs: CaseState): Promise<string> {
    const now = deps.now();
    const substitute = (value: unknown): unknown => value === 'NOW' ? now : value === 'NOW+900' ? now + 900 : value === 'NOW-900' ? now - 900
      : Array.isArray(value) ? value.map(substitute)
        : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)])) : value;
    switch (recipe.kind) {
      case 'raw': return recipe.value;
      case 'jwt-shaped': return recipe.parts.join('.');
      case 'signed': {
        const claims = substitute(recipe.claims) as Record<string, unknown>;
        const header = { ...recipe.header };
        const input = `${b64(header)}.${b64(claims)}`;
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
        const l = await live(subject);
        cs.rightSigned.add(subject.id);
        cs.callerSession = l.sessionId;
        return mangle(l.accessToken, recipe.mangle);
      }
      case 'live-refresh': return mangle((await live(subject)).refreshToken, recipe.mangle);
      case 'rotated-refresh':
      case 'revoked-refresh': return newRefreshToken();
    }
  }

  /** The Authorization header (and Cookie) the caller recipe sends, its sessions made. */
  async function materialiseCaller(r: CallerRecipe, subject: Fixture, other: Fixture, cs: CaseState): Promise<{ authorization?: string; cookie?: string }> {
    const bearer = (token: string) => ({ authorization: `${r.scheme}${token}${r.tail}` });
    const signedLive = async (user: Fixture, o: Parameters<typeof insertSession>[1] = {}) => {
      const l = await live(user, o);
      cs.rightSigned.add(user.id);
      cs.callerSession = l.sessionId;
      return l;
    };
    switch (r.who) {
      case 'none': return {};
      case 'garbage': return { authorization: r.garbage! };
      case 'live': return bearer((await signedLive(subject)).accessToken);
      case 'other': return bearer((await signedLive(other)).accessToken);
      case 'ended': return bearer((await signedLive(subject, { revoked: true })).accessToken);
      case 'stale': return bearer((await signedLive(subject, { version: -1 })).accessToken);
      case 'disabled-user': return bearer((await signedLive(fx.disabled)).accessToken);
      case 'old-session': return bearer((await signedLive(subject, { age: 1200 })).accessToken);
      case 'cookie-only': return { cookie: `nf_jwt=${(await signedLive(subject)).accessToken}` };
      case 'deleted-user': {
        const ghost = { id: randomUUID(), email: 'ghost@fuzz.example', roles: ['admin'] };
        cs.rightSigned.add(ghost.id);
        return bearer(sign(ghost, randomUUID()));
      }
      case 'expired': {
        const l = await live(subject);
        cs.rightSigned.add(subject.id);
        return bearer(sign(subject, l.sessionId, { now: deps.now() - 1000 }));
      }
      case 'wrong-secret': {
        const l = await live(subject);
        return bearer(sign(subject, l.sessionId, { secret: new Secret(WRONG_SECRET) }));
      }
      case 'alg-none': {
        const l = await live(subject);
        const [, payload] = sign(subject, l.sessionId).split('.');
        return bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`);
      }
      case 'foreign-sid': {
        // Signed by us for the subject, naming another user's live session.
        const l = await live(other);
        cs.rightSigned.add(subject.id);
        return bearer(sign(subject, l.sessionId));
      }
      case 'non-uuid-sub': {
        const l = await live(subject);
        cs.rightSigned.add('not-a-uuid');
        return bearer(sign({ ...subject, id: 'not-a-uuid' }, l.sessionId));
      }
      case 'non-uuid-sid':
        cs.rightSigned.add(subject.id);
        return bearer(sign(subject, 'not-a-session'));
      case 'raw': return bearer(await rawToken(r.raw!, subject, cs));
    }
  }

  /** Where each mailed token kind lives: purpose, user, the address it was mailed to, its state. */
  function emailKindSpec(kind: Exclude<EmailKind, 'unknown'>): { purpose: string; user: Fixture; email: string; state: 'live' | 'used' | 'expired' } {
    const [head, tail] = kind.split('-') as [string, string | undefined];
    if (head === 'signup' || head === 'invite') return { purpose: head, user: head === 'signup' ? fx.confirm : fx.invitee, email: (head === 'signup' ? fx.confirm : fx.invitee).email, state: tail as 'live' };
    if (head === 'change') {
      if (tail === 'taken') return { purpose: 'email_change', user: fx.holder, email: fx.admin.email, state: 'live' };
      if (tail === 'other') return { purpose: 'email_change', user: fx.reset, email: OTHER_NEW_ADDRESS, state: 'live' };
      return { purpose: 'email_change', user: fx.holder, email: LINK_NEW_ADDRESS, state: tail as 'live' };
    }
    if (kind === 'magic') return { purpose: 'magic_link', user: fx.reset, email: fx.reset.email, state: 'live' };
    if (kind === 'disabled') return { purpose: 'recovery', user: fx.gone, email: fx.gone.email, state: 'live' };
    if (kind === 'live') return { purpose: 'recovery', user: fx.reset, email: fx.reset.email, state: 'live' };
    return { purpose: 'recovery', user: fx.old, email: fx.old.email, state: kind as 'used' | 'expired' };
  }

  async function emailToken(kind: EmailKind): Promise<string> {
    const token = newEmailToken();
    emailTokens.add(token);
    if (kind === 'unknown') return token;
    const s = emailKindSpec(kind);
    await named('fuzz-email-token', `insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at, used_at)
      values ($1, $2, $3, $4, now() + make_interval(secs => $5::int), case when $6::boolean then now() end)`,
    [emailTokenHash(token), s.purpose, s.user.id, s.email, s.state === 'expired' ? -1 : 3600, s.state === 'used']);
    return token;
  }

  /** A refresh token in the state named: live, replayed within the grace interval (its successor unused, or used), rotated elsewhere (`conflict`), used long ago, revoked, expired, stale, its user disabled, or unknown. */
  async function refreshToken(kind: RefreshKind, holderOf: Fixture): Promise<MadeRefresh> {
    if (kind === 'unknown') {
      const token = newRefreshToken();
      issuedTokens.add(token);
      return { kind, token };
    }
    const user = kind === 'disabled' ? fx.disabled : holderOf;
    const s = await insertSession(user, {
      revoked: kind === 'revoked', expired: kind === 'expired', version: kind === 'stale' ? -1 : 0,
      used: kind === 'grace' || kind === 'grace-child-used' || kind === 'conflict' ? 'now' : kind === 'old-used' ? 'old' : undefined,
    });
    const made: MadeRefresh = { kind, token: s.token, tokenId: s.tokenId, sessionId: s.sessionId, userId: user.id };
    if (kind === 'grace' || kind === 'grace-child-used' || kind === 'conflict' || kind === 'old-used') {
      const successor = kind === 'conflict' ? newRefreshToken() : successorRefreshToken(s.token, deps.config.jwtSecret);
      issuedTokens.add(successor);
      made.childHash = refreshTokenHash(successor);
      await named('fuzz-child-token', `insert into rolegate.refresh_tokens (token_hash, session_id, parent_id, expires_at, used_at)
        values ($1, $2, $3, now() + interval '1 hour', case when $4::boolean then clock_timestamp() end)`, [made.childHash, s.sessionId, s.tokenId, kind === 'grace-child-used']);
    }
    return made;
  }

  /** The body with every placeholder replaced by a token made for it (one per kind per case); a lying base64 body stays as it is. */
  async function materialiseBody(body: BodyRecipe, cs: CaseState, refreshOwner: Fixture): Promise<BodyRecipe> {
    if (body.body === null) return body;
    const spots = [body.body];
    let decoded: string | undefined;
    if (body.isBase64Encoded) {
      const bytes = Buffer.from(body.body, 'base64');
      if (bytes.toString('base64') === body.body) decoded = bytes.toString('utf8');
      if (decoded !== undefined) spots.push(decoded);
    }
    for (const spot of spots) {
      for (const [, kind] of spot.matchAll(EMAIL_TOKEN_PLACEHOLDER)) if (!cs.email.has(kind as EmailKind)) cs.email.set(kind as EmailKind, await emailToken(kind as EmailKind));
      for (const [, kind] of spot.matchAll(REFRESH_PLACEHOLDER)) if (!cs.refresh.has(kind as RefreshKind)) cs.refresh.set(kind as RefreshKind, await refreshToken(kind as RefreshKind, refreshOwner));
    }
    const replace = (text: string) => text
      .replace(EMAIL_TOKEN_PLACEHOLDER, (_, kind: EmailKind, how: Mangle) => mangle(cs.email.get(kind)!, how))
      .replace(REFRESH_PLACEHOLDER, (_, kind: RefreshKind, how: Mangle) => mangle(cs.refresh.get(kind)!.token, how));
    if (!body.isBase64Encoded) return { ...body, body: replace(body.body) };
    if (decoded !== undefined && decoded !== replace(decoded)) return { ...body, body: Buffer.from(replace(decoded)).toString('base64') };
    return body;
  }

  function idText(id: IdRecipe): string {
    switch (id.kind) {
      case 'victim': return fx.victim.id;
      case 'admin': return fx.admin.id;
      case 'member': return fx.member.id;
      case 'holder': return fx.holder.id;
      case 'victim-upper': return fx.victim.id.toUpperCase();
      case 'victim-encoded': return `%${fx.victim.id.charCodeAt(0).toString(16)}${fx.victim.id.slice(1)}`;
      case 'victim-slash': return `${fx.victim.id}/`;
      case 'random': return randomUUID();
      case 'junk': return KNOWN_BUGS.has('id-escape') ? encodeLoosely(id.value).replace(/%25/g, '%') : encodeURIComponent(wellFormed(id.value));
    }
  }

  function toEvent(r: CaseRecipe, path: string, body: BodyRecipe, auth: { authorization?: string; cookie?: string }): HandlerEvent {
    const headers: Record<string, string> = { 'x-nf-client-connection-ip': IP };
    if (r.origin !== undefined) headers.origin = r.origin;
    if (body.contentType !== undefined) headers['content-type'] = body.contentType;
    if (auth.authorization !== undefined) headers.authorization = auth.authorization;
    if (auth.cookie !== undefined) headers.cookie = auth.cookie;
    if (r.useCookie !== undefined) headers['x-use-cookie'] = r.useCookie;
    for (const [name, value] of r.headers) headers[name] = value;
    return {
      rawUrl: `${SITE}${path}${r.query ? `?${r.query}` : ''}`,
      rawQuery: r.query,
      path,
      httpMethod: r.method,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: Object.fromEntries(new URLSearchParams(r.query)),
      multiValueQueryStringParameters: null,
      body: body.body,
      isBase64Encoded: body.isBase64Encoded,
    };
  }

  // ------------------------------------------------------------ the generic oracle

  interface Ctx {
    kind: Kind;
    r: CaseRecipe;
    event: HandlerEvent;
    response: HandlerResponse;
    body: any;
    code?: string;
    cookies: Array<{ name: string; value: string; raw: string }>;
    before: Snapshot;
    after: Snapshot;
    /** Every table's changes, the log and the throttles included. */
    all: Record<string, TableDiff>;
    /** The tables' changes without the audit log and login_throttle. */
    changes: Record<string, TableDiff>;
    throttle?: TableDiff;
    audit: Row[];
    cs: CaseState;
    subject: Fixture;
    ip: string;
    hashesBefore: number;
    preThrottled: Set<string>;
  }

  const rows = (snap: Snapshot, table: string) => [...snap.get(table)!.values()] as Row[];
  const userRow = (snap: Snapshot, id: string) => snap.get('users')!.get(id) as Row | undefined;
  const userByEmail = (snap: Snapshot, email: string) => rows(snap, 'users').find((u) => String(u.email).toLowerCase() === email.toLowerCase());

  function setCookies(response: HandlerResponse) {
    return ((response.multiValueHeaders?.['Set-Cookie'] ?? []) as string[]).map((raw) => {
      const pair = raw.split(';')[0]!;
      const i = pair.indexOf('=');
      return { name: pair.slice(0, i), value: decodeURIComponent(pair.slice(i + 1)), raw };
    });
  }

  function expectError(x: Ctx, code: string, why: string) {
    expect([x.response.statusCode, x.code], `${why} (got ${x.response.body?.slice(0, 200)})`).toEqual([STATUS[code as keyof typeof STATUS], code]);
  }

  function nothingAtAll(x: Ctx, why: string) {
    expect(x.all, `${why}: must change nothing at all, not the log nor a throttle`).toEqual({});
  }

  /** A refusal: no table but the log and throttles, and no throttle row unless `counted` says which. */
  function refusedQuietly(x: Ctx, why: string) {
    expect(x.changes, `${why}: must change nothing`).toEqual({});
    expect(x.throttle, `${why}: counts nowhere`).toBeUndefined();
  }

  async function checkAnswer(x: Ctx, oauth: boolean): Promise<void> {
    const { response } = x;
    expect(response.statusCode, 'status').toBeLessThan(500);
    expect(response.headers?.['Cache-Control']).toBe('no-store');
    const text = response.body ?? '';
    expect(text).not.toMatch(STACK_TRACE);
    x.cookies = setCookies(response);
    if (response.statusCode === 204) {
      expect(text).toBe('');
      expect(response.headers?.['Content-Type']).toBeUndefined();
      x.body = undefined;
    } else {
      expect(String(response.headers?.['Content-Type'])).toMatch(/^application\/json/);
      x.body = JSON.parse(text);
    }
    if (response.statusCode >= 400) {
      const body = x.body;
      expect(Object.keys(body).sort()).toEqual(oauth ? ['code', 'error', 'error_code', 'error_description', 'msg'] : ['code', 'error_code', 'msg']);
      expect(body.code).toBe(response.statusCode);
      expect(Object.keys(STATUS)).toContain(body.error_code);
      expect(STATUS[body.error_code as keyof typeof STATUS]).toBe(response.statusCode);
      expect(typeof body.msg === 'string' && body.msg.length > 0).toBe(true);
      if (oauth) {
        expect(body.error).toBe(body.error_code === 'bad_request' ? 'invalid_request' : body.error_code === 'throttled' ? 'too_many_requests' : 'invalid_grant');
        expect(body.error_description).toBe(body.msg);
      }
      expect(x.cookies, 'an error sets no cookie').toEqual([]);
      if (response.statusCode === 405) expect(response.headers?.Allow).toBeTruthy();
      if (response.statusCode === 429) expect(Number(response.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
      x.code = body.error_code;
    } else if (x.body !== undefined) {
      expect(x.body?.error_code).toBeUndefined();
    }
    for (const c of x.cookies) {
      if (/Max-Age=0|Expires=Thu, 01 Jan 1970/.test(c.raw)) {
        expect(c.value, `deleted ${c.name}`).toBe('');
      } else if (c.name === 'nf_jwt') {
        await verifyAccessToken(c.value, { secrets: [deps.config.jwtSecret], issuer: deps.config.jwtIssuer, now: deps.now() });
      }
    }
  }

  /** The token answer of /token and /verify: its shape, an access token we signed for `user` in `sessionId`, and nf_jwt only on X-Use-Cookie. */
  async function checkTokenAnswer(x: Ctx, user: Row, sessionId: string | undefined): Promise<{ sid: string; refreshToken: string }> {
    expect(x.response.statusCode).toBe(200);
    const body = x.body;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_at', 'expires_in', 'refresh_token', 'token_type']);
    expect([body.token_type, body.expires_in]).toEqual(['bearer', deps.config.accessTokenTtlSeconds]);
    expect(looksLikeRefreshToken(body.refresh_token)).toBe(true);
    issuedTokens.add(body.refresh_token);
    accessTokens.add(body.access_token);
    const claims = await verifyAccessToken(body.access_token, { secrets: [deps.config.jwtSecret], issuer: deps.config.jwtIssuer, now: deps.now() }) as Row;
    expect(claims).toMatchObject({ sub: user.id, email: user.email, exp: body.expires_at, app_metadata: { roles: user.roles, authorization: { roles: user.roles } } });
    expect(canon(claims.user_metadata)).toBe(canon(user.user_metadata));
    if (sessionId !== undefined) expect(claims.sid).toBe(sessionId);
    const useCookie = header(x.event, 'x-use-cookie');
    if (useCookie === undefined) {
      expect(x.cookies, 'no X-Use-Cookie: no cookie').toEqual([]);
    } else {
      expect(x.cookies.map((c) => c.name).sort()).toEqual(['nf_jwt', 'rolegate_session']);
      const jwt = x.cookies.find((c) => c.name === 'nf_jwt')!;
      const session = x.cookies.find((c) => c.name === 'rolegate_session')!;
      expect(jwt.value).toBe(body.access_token);
      expect(JSON.parse(session.value)).toEqual({ email: user.email, roles: user.roles, exp: body.expires_at });
      for (const c of [jwt, session]) expect(/Max-Age=\d/.test(c.raw), `${c.name} persistent unless X-Use-Cookie: session`).toBe(useCookie !== 'session');
    }
    return { sid: String(claims.sid), refreshToken: body.refresh_token };
  }

  /** A user as Identity's clients read one, matching its row. */
  function checkUserJson(json: any, row: Row) {
    expect(Object.keys(json).sort()).toEqual(['app_metadata', 'aud', 'confirmed_at', 'created_at', 'email', 'id', 'role', 'updated_at', 'user_metadata']);
    expect(json).toMatchObject({ id: row.id, email: row.email, aud: '', role: '', app_metadata: { provider: 'email', roles: row.roles } });
    expect(canon(json.user_metadata)).toBe(canon(row.user_metadata));
    expect(json.confirmed_at === null ? null : Date.parse(json.confirmed_at)).toBe(row.email_confirmed_at === null ? null : Date.parse(row.email_confirmed_at));
    expect(Date.parse(json.updated_at)).toBe(Date.parse(row.updated_at));
  }

  /** Who the bearer token is, as the tables before the request say: the code of a refusal, or the live session's user. */
  function callerOf(x: Ctx, roles?: string[]): { code: string } | { user: Row; session: Row } {
    const token = /^Bearer\s+(\S+)$/iu.exec(header(x.event, 'authorization') ?? '')?.[1];
    const checked = checkAccessToken(token, undefined, { roles, config: deps.config, now: deps.now() });
    if (typeof checked === 'string') return { code: checked };
    expect(x.cs.rightSigned, 'a token honoured that we never signed').toContain(checked.id);
    if (!isUuid(checked.id) || !isUuid(checked.sessionId)) return { code: 'unauthenticated' };
    const user = userRow(x.before, checked.id);
    const session = x.before.get('sessions')!.get(checked.sessionId) as Row | undefined;
    const isLive = user && session && session.user_id === user.id && session.revoked_at === null && user.disabled_at === null && session.token_version === user.token_version;
    return isLive ? { user: user!, session: session! } : { code: 'session_expired' };
  }

  /** login_throttle after a wrong password: exactly `keys`, each one more (or a fresh window of 1). */
  function checkLoginCounted(throttle: TableDiff | undefined, keys: string[]) {
    expect(throttle?.removed ?? []).toEqual([]);
    const touched = [...throttle?.added ?? [], ...(throttle?.changed ?? []).map((c) => c.after)].map((row) => String(row.key)).sort();
    expect(touched, 'a wrong password counts once for its account and its client').toEqual([...keys].sort());
    for (const row of throttle?.added ?? []) expect(row.failures).toBe(1);
    for (const c of throttle?.changed ?? []) expect([Number(c.before.failures) + 1, 1]).toContain(c.after.failures);
  }

  /** login_throttle after a request the mail flows' store took: its address and its sender, nothing else. */
  function checkMailCounted(throttle: TableDiff | undefined, email: string, sender: string) {
    expect(throttle?.removed ?? []).toEqual([]);
    for (const c of throttle?.changed ?? []) for (const column of c.columns) expect(['failures', 'window_started_at']).toContain(column);
    const touched = [...throttle?.added ?? [], ...(throttle?.changed ?? []).map((c) => c.after)].map((row) => String(row.key)).sort();
    expect(touched, 'a mail request counts for its address and its sender').toEqual([`mail:address:${email}`, sender].sort());
  }

  function fieldsOf(x: Ctx): { fields?: Record<string, unknown>; error?: string } {
    try {
      return { fields: parseBody(x.event).fields };
    } catch (error) {
      if (error instanceof AuthError) return { error: error.code };
      throw error;
    }
  }

  const kindOfEmail = (x: Ctx, token: unknown) => [...x.cs.email].find(([, value]) => value === token)?.[0];

  /** One new link for `user` to `email` (older unused ones of `retire` retired) and its mail, the link sealed in Identity's form. */
  function linkSpec(x: Ctx, purpose: string, user: Row, email: string, mail: { template: string; retire: string[]; variables?: Record<string, unknown> }): Spec {
    const retired: Record<string, TableSpecRow> = {};
    for (const tok of rows(x.before, 'email_tokens')) if (tok.user_id === user.id && tok.used_at === null && mail.retire.includes(tok.purpose)) retired[tok.token_hash] = { columns: ['used_at'] };
    return {
      email_tokens: { added: [{ purpose, user_id: user.id, email, used_at: null }], changed: retired },
      mail_outbox: { added: [{ recipient: email, template: mail.template, sent_at: null, attempts: 0, ...(mail.variables ? { variables: mail.variables } : {}) }] },
    };
  }

  /** The sealed link of the mail just queued: in Identity's fragment form, and the very token stored. */
  function checkSealedLink(x: Ctx, fragment: string) {
    const mail = x.changes.mail_outbox!.added.find((m) => m.sealed !== null)!;
    const link = JSON.parse(openMailSecret([new Secret(SECRET)], String(mail.sealed))!) as { url: string; token: string };
    emailTokens.add(link.token);
    expect(x.changes.email_tokens!.added.map((t) => t.token_hash)).toContain(sha256(link.token));
    expect(link.url).toBe(`${SITE}/#${fragment}=${link.token}`);
  }

  /** A new session of `user` with its first refresh token, as the answer carries it. */
  const newSessionSpec = (user: Row, refreshToken: string | (() => string)): Spec => ({
    sessions: { added: [{ user_id: user.id, revoked_at: null }] },
    refresh_tokens: { added: [{ parent_id: null, revoked_at: null, ...(typeof refreshToken === 'string' ? { token_hash: sha256(refreshToken) } : {}) }] },
  });

  /** Every session of `user` (but `keep`) that is not revoked yet ends with `reason`, and every refresh token of theirs still live. */
  function endSessionsSpec(x: Ctx, userId: string, reason: string, keep?: string): Spec {
    const sessions: Record<string, TableSpecRow> = {};
    const ended = new Set<string>();
    for (const s of rows(x.before, 'sessions')) {
      if (s.user_id !== userId || s.id === keep) continue;
      ended.add(s.id);
      if (s.revoked_at === null) sessions[s.id] = { columns: ['revoked_at', 'revoked_reason'], check: (a) => expect(a.revoked_reason).toBe(reason) };
    }
    const tokens: Record<string, TableSpecRow> = {};
    for (const tok of rows(x.before, 'refresh_tokens')) if (ended.has(tok.session_id) && tok.revoked_at === null) tokens[String(tok.id)] = { columns: ['revoked_at'] };
    return { sessions: { changed: sessions }, refresh_tokens: { changed: tokens } };
  }

  /** The user's unused links of `purposes` retired (a new password's doing). */
  function retireLinksSpec(x: Ctx, userId: string, purposes: string[], except?: string): Spec {
    const changed: Record<string, TableSpecRow> = {};
    for (const tok of rows(x.before, 'email_tokens')) if (tok.user_id === userId && tok.used_at === null && purposes.includes(tok.purpose) && tok.token_hash !== except) changed[tok.token_hash] = { columns: ['used_at'] };
    return { email_tokens: { changed } };
  }

  // ------------------------------------------------------------ the oracles of each endpoint

  async function settingsOracle(x: Ctx): Promise<string> {
    expect(x.response.statusCode).toBe(200);
    expect(x.body).toEqual({
      external: { bitbucket: false, email: true, facebook: false, github: false, gitlab: false, google: false, saml: false },
      external_labels: {}, disable_signup: false, autoconfirm: false,
    });
    nothingAtAll(x, 'settings');
    return '(settings)';
  }

  async function tokenOracle(x: Ctx): Promise<string> {
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      refusedQuietly(x, 'an unreadable body');
      return '(unreadable body)';
    }
    if (fields.grant_type === 'password') return passwordGrantOracle(x, fields);
    if (fields.grant_type === 'refresh_token') return refreshGrantOracle(x, fields);
    expectError(x, 'bad_request', 'an unknown grant_type');
    refusedQuietly(x, 'an unknown grant_type');
    return '(no grant)';
  }

  async function passwordGrantOracle(x: Ctx, fields: Record<string, unknown>): Promise<string> {
    const { username, password } = fields;
    const valid = typeof username === 'string' && username.length >= 1 && username.length <= 320 && !username.includes('\u0000')
      && typeof password === 'string' && password.length >= 1 && password.length <= 1024;
    if (!valid) {
      expectError(x, 'bad_request', 'no username or password');
      refusedQuietly(x, 'no username or password');
      return '(password: malformed)';
    }
    const email = normalizeEmail(username);
    const keys = [`account:${email}`, `ip:${x.ip}`];
    if (keys.some((k) => x.preThrottled.has(k))) {
      expectError(x, 'throttled', 'a throttled account or client');
      refusedQuietly(x, 'throttled before any check');
      return '(password: throttled)';
    }
    const user = userByEmail(x.before, email);
    const right = user !== undefined && user.password_hash === fakeHash(password) && user.disabled_at === null && Buffer.byteLength(password) <= 72;
    if (!right) {
      expectError(x, 'invalid_credentials', 'a wrong password, an unknown, disabled or password-less account');
      expect(x.changes).toEqual({});
      checkLoginCounted(x.throttle, keys);
      expect(x.audit.map((a) => a.event)).toEqual(['login_failed']);
      return '(password: wrong, counted)';
    }
    if (user.email_confirmed_at === null) {
      expectError(x, 'email_not_confirmed', 'the right password of an unconfirmed account');
      refusedQuietly(x, 'unconfirmed');
      return '(password: unconfirmed)';
    }
    const { sid, refreshToken: issued } = await checkTokenAnswer(x, user, undefined);
    expectSpec(x.changes, {
      sessions: { added: [{ id: sid, user_id: user.id, revoked_at: null }] },
      refresh_tokens: { added: [{ token_hash: sha256(issued), session_id: sid, parent_id: null }] },
    }, 'a password grant: one session and one refresh token');
    expect(x.throttle?.added ?? []).toEqual([]);
    expect(x.throttle?.changed ?? []).toEqual([]);
    for (const row of x.throttle?.removed ?? []) expect(row.key).toBe(keys[0]);
    return '(password: signed in)';
  }

  async function refreshGrantOracle(x: Ctx, fields: Record<string, unknown>): Promise<string> {
    const made = [...x.cs.refresh.values()].find((m) => m.token === fields.refresh_token);
    expect(x.throttle, 'a refresh counts nowhere').toBeUndefined();
    const ended = (reason: string): Spec => ({
      sessions: { changed: { [made!.sessionId!]: { columns: ['revoked_at', 'revoked_reason'], check: (a) => expect(a.revoked_reason).toBe(reason) } } },
      refresh_tokens: { changed: Object.fromEntries(rows(x.before, 'refresh_tokens').filter((tok) => tok.session_id === made!.sessionId && tok.revoked_at === null).map((tok) => [String(tok.id), { columns: ['revoked_at'] }])) },
    });
    switch (made?.kind) {
      case 'live': {
        const user = userRow(x.after, made.userId!)!;
        const { sid, refreshToken: issued } = await checkTokenAnswer(x, user, made.sessionId);
        expect(sid).toBe(made.sessionId);
        expectSpec(x.changes, {
          refresh_tokens: { added: [{ token_hash: sha256(issued), session_id: made.sessionId, parent_id: Number(made.tokenId) }], changed: { [made.tokenId!]: { columns: ['rotated_for', 'used_at'] } } },
          sessions: { changed: { [made.sessionId!]: { columns: ['last_seen_at'], optional: true } } },
        }, 'a refresh grant: one successor');
        return '(refresh: rotated)';
      }
      case 'grace': {
        const { refreshToken: issued } = await checkTokenAnswer(x, userRow(x.after, made.userId!)!, made.sessionId);
        expect(sha256(issued), 'a replay within the grace interval gets the same successor').toBe(made.childHash);
        expect(x.changes).toEqual({});
        return '(refresh: replayed in grace)';
      }
      case 'grace-child-used':
      case 'old-used':
        expectError(x, 'refresh_token_reused', 'a used token past the grace interval or its successor used');
        // By design: reuse detection ends the session and its tokens.
        expectSpec(x.changes, ended('refresh_token_reused'), 'reuse ends the session');
        return '(refresh: reuse ends the session)';
      case 'stale':
      case 'disabled':
        expectError(x, 'session_expired', 'a stale session, or one of a disabled user');
        // By design: rotate_refresh_token ends a session that can no longer be live.
        expectSpec(x.changes, ended(made.kind === 'stale' ? 'revoked' : 'user_disabled'), 'a dead session ends');
        return `(refresh: ${made.kind} session ended)`;
      default:
        expectError(x, 'session_expired', 'no usable refresh token');
        expect(x.changes).toEqual({});
        return `(refresh: ${made?.kind ?? 'no token of ours'})`;
    }
  }

  async function userGetOracle(x: Ctx): Promise<string> {
    const caller = callerOf(x);
    nothingAtAll(x, 'GET /user');
    if ('code' in caller) {
      expectError(x, caller.code, 'no live session');
      return `(${x.r.caller.who}: ${caller.code})`;
    }
    expect(x.response.statusCode).toBe(200);
    checkUserJson(x.body, caller.user);
    return `(${x.r.caller.who}: read)`;
  }

  async function userPutOracle(x: Ctx): Promise<string> {
    const who = x.r.caller.who;
    const token = /^Bearer\s+(\S+)$/iu.exec(header(x.event, 'authorization') ?? '')?.[1];
    const checked = checkAccessToken(token, undefined, { config: deps.config, now: deps.now() });
    if (typeof checked === 'string') {
      expectError(x, checked, 'no token of ours');
      refusedQuietly(x, 'PUT /user without a token');
      return `(${who}: ${checked})`;
    }
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      refusedQuietly(x, 'an unreadable body');
      return '(unreadable body)';
    }
    const meta = metadataOf(fields.data);
    const early = meta.error ?? (fields.password !== undefined ? codeOf(() => chosenPassword(fields)) : undefined) ?? (fields.email !== undefined ? codeOf(() => requestedAddress(fields)) : undefined)
      ?? (fields.email_change_token !== undefined && !looksLikeEmailToken(fields.email_change_token) ? 'link_invalid' : undefined);
    if (early) {
      expectError(x, early, 'a field refused before anything is read');
      refusedQuietly(x, 'a field refused');
      return `(refused early: ${early})`;
    }
    const caller = callerOf(x);
    if ('code' in caller) {
      expectError(x, caller.code, 'no live session');
      refusedQuietly(x, 'no live session');
      return `(${who}: ${caller.code})`;
    }
    const subject = caller.user;
    // The steps updateCurrentUser takes, in its order; each adds what it writes, the first refusal stops.
    let spec: Spec = {};
    let failed: string | undefined;
    let email = String(subject.email);
    let counted: 'login' | 'mail' | undefined;
    const steps: string[] = [];
    const recent = Date.parse(caller.session.created_at) > Date.now() - 600_000;
    const proof = (): string | undefined => {
      if (typeof fields.current_password !== 'string') return recent ? undefined : 'reauthentication_required';
      const current = fields.current_password;
      if (current.length < 1 || current.length > 1024) return 'bad_request';
      if (subject.password_hash === fakeHash(current) && Buffer.byteLength(current) <= 72) return undefined;
      counted = 'login';
      return 'wrong_password';
    };
    // The proof of ownership is asked once, first, when the password or the address changes.
    const changesAddress = fields.email !== undefined && requestedAddress(fields) !== subject.email;
    let proofFailed = false;
    if (fields.password !== undefined || changesAddress) {
      failed = proof();
      proofFailed = failed !== undefined;
      if (proofFailed) steps.push('proof');
    }
    if (!failed && fields.email_change_token !== undefined) {
      steps.push('link');
      // change_email_in_session: only the caller's own link, used inside this session, starting none.
      const kind = kindOfEmail(x, fields.email_change_token);
      const s = kind && kind !== 'unknown' ? emailKindSpec(kind) : undefined;
      if (!s || s.user.id !== subject.id) failed = 'link_invalid';
      else if (s.state !== 'live') failed = s.state === 'used' ? 'link_used' : 'link_expired';
      else if (s.purpose !== 'email_change') failed = 'link_invalid';
      else {
        const hash = emailTokenHash(x.cs.email.get(kind!)!);
        spec = mergeSpec(spec, { email_tokens: { changed: { [hash]: { columns: ['used_at'] } } } });
        // By design: a link to an address another account holds by now is used up, and changes nothing else.
        if (kind === 'change-taken') failed = 'link_invalid';
        else {
          spec = mergeSpec(spec, { users: { changed: { [subject.id]: { columns: ['email', 'email_confirmed_at', 'updated_at'], check: (a) => expect(a.email).toBe(s.email) } } } });
          email = s.email;
        }
      }
    }
    if (!failed && meta.patch) {
      steps.push('data');
      const merged = canon(mergedMetadata(subject.user_metadata, meta.patch));
      spec = mergeSpec(spec, { users: { changed: { [subject.id]: { columns: merged === canon(subject.user_metadata) ? ['updated_at'] : ['user_metadata', 'updated_at'], check: (a) => expect(canon(a.user_metadata)).toBe(merged) } } } });
    }
    if (!failed && fields.password !== undefined) {
      steps.push('password');
      {
        const password = fields.password as string;
        spec = mergeSpec(spec, {
          users: { changed: { [subject.id]: { columns: ['password_hash', 'token_version', 'updated_at'], check: (a) => expect([a.password_hash, a.token_version]).toEqual([fakeHash(password), subject.token_version + 1]) } } },
          sessions: { changed: { [caller.session.id]: { columns: ['token_version'] } } },
        });
        const others = endSessionsSpec(x, subject.id, 'password_changed', caller.session.id);
        // Sessions already ended are not touched, only the live ones.
        for (const [id] of Object.entries(others.sessions!.changed!)) if (x.before.get('sessions')!.get(id)!.revoked_at !== null) delete others.sessions!.changed![id];
        spec = mergeSpec(spec, others);
        spec = mergeSpec(spec, retireLinksSpec(x, subject.id, ['recovery', 'magic_link', 'email_change'], fields.email_change_token === undefined ? undefined : emailTokenHash(String(fields.email_change_token))));
      }
    }
    if (!failed && fields.email !== undefined && requestedAddress(fields) !== subject.email) {
      steps.push('email');
      const wanted = requestedAddress(fields);
      {
        counted = 'mail';
        if (x.preThrottled.has(`mail:address:${wanted}`)) failed = 'throttled';
        else if (wanted === email) failed = 'bad_request';
        else {
          // An address another account holds gets nothing, with the same answer.
          const taken = userByEmail(x.before, wanted) !== undefined;
          if (!taken) {
            const hash = fields.email_change_token === undefined ? undefined : emailTokenHash(String(fields.email_change_token));
            const retire: Record<string, TableSpecRow> = {};
            for (const tok of rows(x.before, 'email_tokens')) if (tok.user_id === subject.id && tok.used_at === null && tok.purpose === 'email_change' && tok.token_hash !== hash) retire[tok.token_hash] = { columns: ['used_at'] };
            spec = mergeSpec(spec, {
              email_tokens: { added: [{ purpose: 'email_change', user_id: subject.id, email: wanted, used_at: null }], changed: retire },
              mail_outbox: { added: [{ recipient: wanted, template: 'email_change', sent_at: null }, { recipient: email, template: 'email_change_notice', sealed: null }] },
            });
          }
        }
      }
    }
    expectSpec(x.changes, spec, `PUT /user (${steps.join(', ')}${failed ? ` refused: ${failed}` : ''})`);
    if (counted === 'login') checkLoginCounted(x.throttle, [`account:${email}`, `ip:${x.ip}`]);
    else if (counted === 'mail') checkMailCounted(x.throttle, requestedAddress(fields), `mail:ip:${x.ip}`);
    else expect(x.throttle).toBeUndefined();
    if (x.changes.mail_outbox?.added.some((m) => m.template === 'email_change')) checkSealedLink(x, 'email_change_token');
    if (failed) {
      expectError(x, failed, `PUT /user steps ${steps.join(', ')}`);
      // FOUND BUG (identity-api-regressions.test.ts, 3; fixed): the address change link and the
      // data were written before the password or address change was checked. What a refusal may
      // write is asserted exactly above (and counted here); a link to an address taken since,
      // used up, is by design.
      const wrote = Object.keys(x.changes).filter((table) => table !== 'email_tokens' || x.changes.email_tokens!.changed.length !== 1 || kindOfEmail(x, fields.email_change_token) !== 'change-taken').length > 0;
      // A refused proof writes nothing; a link then found dead, or a mail throttle reached after
      // a link or data was used, stops a request that has already written those.
      if (KNOWN_BUGS.has('put-user-writes') && proofFailed) expect(wrote, `PUT /user refused (${failed}) after writing ${JSON.stringify(x.changes).slice(0, 400)}`).toBe(false);
      return `(${steps.join('+')}: ${failed}${wrote ? ', FOUND BUG: written before the refusal' : ''})`;
    }
    expect(x.response.statusCode).toBe(200);
    // An address change asked answers Identity's new_email (whether or not the address was free: the same answer).
    const { new_email: newEmail, email_change_sent_at: sentAt, ...user } = x.body;
    checkUserJson(user, userRow(x.after, subject.id)!);
    if (steps.includes('email')) {
      expect(newEmail).toBe(requestedAddress(fields));
      expect(Number.isNaN(Date.parse(sentAt))).toBe(false);
    } else {
      expect([newEmail, sentAt]).toEqual([undefined, undefined]);
    }
    return `(${steps.join('+') || 'nothing asked'}: done)`;
  }

  async function logoutOracle(x: Ctx): Promise<string> {
    const token = /^Bearer\s+(\S+)$/iu.exec(header(x.event, 'authorization') ?? '')?.[1];
    if (!token) {
      expectError(x, 'unauthenticated', 'no bearer token');
      nothingAtAll(x, 'logout without a bearer token (a cookie is never read)');
      return `(${x.r.caller.who}: no bearer)`;
    }
    expect(x.response.statusCode).toBe(204);
    if (header(x.event, 'x-use-cookie') === undefined) expect(x.cookies).toEqual([]);
    else for (const c of x.cookies) expect(c.raw).toMatch(/Max-Age=0/);
    expect(x.throttle).toBeUndefined();
    const checked = checkAccessToken(token, undefined, { config: deps.config, now: deps.now() });
    const session = typeof checked === 'string' || !isUuid(checked.sessionId) ? undefined : x.before.get('sessions')!.get(checked.sessionId) as Row | undefined;
    if (typeof checked !== 'string') expect(x.cs.rightSigned).toContain(checked.id);
    if (!session) {
      expect(x.changes, 'a logout with no session of ours ends nothing').toEqual({});
      return `(${x.r.caller.who}: nothing to end)`;
    }
    // The session the token's sid names ends (tokens are signed by us only with their own sid).
    expectSpec(x.changes, {
      sessions: { changed: session.revoked_at === null ? { [session.id]: { columns: ['revoked_at', 'revoked_reason'], check: (a) => expect(a.revoked_reason).toBe('logout') } } : {} },
      refresh_tokens: { changed: Object.fromEntries(rows(x.before, 'refresh_tokens').filter((tok) => tok.session_id === session.id && tok.revoked_at === null).map((tok) => [String(tok.id), { columns: ['revoked_at'] }])) },
    }, 'logout ends one session');
    return `(${x.r.caller.who}: ${session.revoked_at === null ? 'session ended' : 'already ended'})`;
  }

  async function signupOracle(x: Ctx): Promise<string> {
    const policy = x.r.knobs.policy;
    const settings = policyAccounts[policy];
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      refusedQuietly(x, 'an unreadable body');
      return '(unreadable body)';
    }
    const meta = metadataOf(fields.data);
    const address = codeOf(() => requestedAddress(fields));
    const email = address ? undefined : requestedAddress(fields);
    const domainOk = email !== undefined && (!settings.allowedDomains.length || settings.allowedDomains.includes(email.slice(email.lastIndexOf('@') + 1)));
    const early = meta.error ?? address ?? (settings.registration !== 'open' ? 'signup_disabled' : !domainOk ? 'email_not_allowed' : codeOf(() => chosenPassword(fields)));
    if (early) {
      expectError(x, early, `sign-up refused (${policy})`);
      refusedQuietly(x, 'sign-up refused');
      return `(${policy}: ${early})`;
    }
    checkMailCounted(x.throttle, email!, `mail:ip:${x.ip}`);
    if (x.preThrottled.has(`mail:address:${email}`)) {
      expectError(x, 'throttled', 'the address at its mail limit');
      expect(x.changes).toEqual({});
      return `(${policy}: throttled, counted)`;
    }
    expect(x.response.statusCode).toBe(200);
    expect(x.cookies).toEqual([]);
    expect(hashes - x.hashesBefore, 'one hash for every sign-up the store is asked').toBe(1);
    const password = fields.password as string;
    const existing = userByEmail(x.before, email!);
    // Sign-up data is kept as it was sent (request_signup_with_metadata: no merge, a null kept), on a new account only.
    const sentData = canon(JSON.parse(JSON.stringify(meta.patch ?? {})));
    const fake = () => {
      expect(Object.keys(x.body).sort()).toEqual(['app_metadata', 'aud', 'confirmation_sent_at', 'confirmed_at', 'created_at', 'email', 'id', 'role', 'updated_at', 'user_metadata']);
      expect(x.body).toMatchObject({ email, confirmed_at: null, app_metadata: { provider: 'email', roles: settings.newUserRoles } });
      expect(canon(x.body.user_metadata), 'the answer carries the data sent, whatever the address').toBe(sentData);
      expect(isUuid(x.body.id)).toBe(true);
      expect(x.after.get('users')!.has(x.body.id), 'the answer names no account').toBe(false);
    };
    if (!existing && !settings.requireConfirmation) {
      const added = x.changes.users?.added[0];
      expectSpec(x.changes, { users: { added: [{ email, roles: settings.newUserRoles, password_hash: fakeHash(password), disabled_at: null }] } }, 'a sign-up without confirmation');
      expect(added!.email_confirmed_at).not.toBeNull();
      expect(canon(added!.user_metadata)).toBe(sentData);
      checkUserJson(x.body, added!);
      return `(${policy}: made, confirmed)`;
    }
    fake();
    if (!existing) {
      const added = x.changes.users?.added[0];
      expectSpec(x.changes, mergeSpec({ users: { added: [{ email, roles: settings.newUserRoles, password_hash: fakeHash(password), email_confirmed_at: null, disabled_at: null }] } },
        { email_tokens: { added: [{ purpose: 'signup', email, used_at: null }] }, mail_outbox: { added: [{ recipient: email, template: 'signup', sent_at: null }] } }), 'a new sign-up');
      expect(x.changes.email_tokens!.added[0]!.user_id).toBe(added!.id);
      expect(canon(added!.user_metadata)).toBe(sentData);
      checkSealedLink(x, 'confirmation_token');
      return `(${policy}: new user, link mailed)`;
    }
    if (existing.disabled_at !== null) {
      expect(x.changes).toEqual({});
      return `(${policy}: disabled account, nothing)`;
    }
    if (existing.email_confirmed_at === null && settings.requireConfirmation) {
      expectSpec(x.changes, mergeSpec(
        { users: { changed: { [existing.id]: { columns: existing.password_hash === null ? ['updated_at'] : ['password_hash', 'updated_at'], check: (a) => expect(a.password_hash).toBeNull() } } } },
        linkSpec(x, 'invite', existing, existing.email, { template: 'signup_pending', retire: ['signup', 'invite'] })), 'a sign-up for an unconfirmed account');
      // Sealed as a sign-up's link, stored as an invitation's: /verify {type: "signup"} takes both.
      checkSealedLink(x, 'confirmation_token');
      return `(${policy}: unconfirmed account, new link)`;
    }
    expectSpec(x.changes, { mail_outbox: { added: [{ recipient: existing.email, template: 'signup_existing', sealed: null }] } }, 'a sign-up for an existing account');
    return `(${policy}: existing account, notice)`;
  }

  const VERIFY_TYPES: Record<string, string[]> = { signup: ['signup', 'invite'], invite: ['invite'], recovery: ['recovery'], email_change: ['email_change'] };

  async function verifyOracle(x: Ctx): Promise<string> {
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      refusedQuietly(x, 'an unreadable body');
      return '(unreadable body)';
    }
    expect(x.throttle, 'using a link counts nowhere').toBeUndefined();
    const purposes = typeof fields.type === 'string' && Object.hasOwn(VERIFY_TYPES, fields.type) ? VERIFY_TYPES[fields.type]! : undefined;
    // Only `password` goes on to the link (Identity's clients send no confirmation of it).
    const passwordCode = fields.password === undefined ? undefined : codeOf(() => chosenPassword({ password: fields.password }));
    const kind = looksLikeEmailToken(fields.token) ? kindOfEmail(x, fields.token) : undefined;
    const s = kind && kind !== 'unknown' ? emailKindSpec(kind) : undefined;
    const refusal = !purposes ? 'bad_request' : passwordCode ?? (!s ? 'link_invalid' : s.state === 'used' ? 'link_used' : s.state === 'expired' ? 'link_expired' : !purposes.includes(s.purpose) ? 'link_invalid' : undefined);
    if (refusal) {
      expectError(x, refusal, `verify (${String(fields.type)}, ${kind ?? 'no token of ours'})`);
      refusedQuietly(x, 'a dead link');
      expect(hashes, 'no hash for a refused link').toBe(x.hashesBefore);
      return `(refused: ${refusal})`;
    }
    const hash = emailTokenHash(String(fields.token));
    const used: Spec = { email_tokens: { changed: { [hash]: { columns: ['used_at'] } } } };
    if (kind === 'disabled' || kind === 'change-taken') {
      // By design: a link to a user disabled since, or to an address taken since, is used up and does nothing.
      expectError(x, 'link_invalid', `a ${kind} link`);
      expectSpec(x.changes, used, `a ${kind} link is used up`);
      return `(${kind}: used up, nothing else)`;
    }
    const owner = userRow(x.before, s!.user.id)!;
    const password = fields.password as string | undefined;
    const after = userRow(x.after, owner.id)!;
    const { sid, refreshToken: issued } = await checkTokenAnswer(x, after, undefined);
    let spec = mergeSpec(used, newSessionSpec(owner, issued));
    spec.sessions!.added![0] = { ...spec.sessions!.added![0], id: sid };
    if (s!.purpose === 'email_change') {
      spec = mergeSpec(spec, { users: { changed: { [owner.id]: { columns: ['email', 'email_confirmed_at', 'updated_at'], check: (a) => expect(a.email).toBe(s!.email) } } } });
    } else if (s!.purpose === 'signup' || password === undefined) {
      // A confirmation, or a password link that signs in first (the password follows by PUT /user).
      spec = mergeSpec(spec, { users: { changed: { [owner.id]: { columns: owner.email_confirmed_at === null ? ['email_confirmed_at', 'updated_at'] : ['updated_at'] } } } });
    } else {
      // A new password from a recovery link or a first one from an invitation: every session ends, the other links stop.
      spec = mergeSpec(spec, { users: { changed: { [owner.id]: { columns: ['password_hash', 'token_version', 'updated_at', ...(owner.email_confirmed_at === null ? ['email_confirmed_at'] : [])], check: (a) => expect([a.password_hash, a.token_version]).toEqual([fakeHash(password), owner.token_version + 1]) } } } });
      spec = mergeSpec(spec, endSessionsSpec(x, owner.id, s!.purpose === 'invite' ? 'invitation_accepted' : 'password_reset'));
      spec = mergeSpec(spec, retireLinksSpec(x, owner.id, ['recovery', 'magic_link', 'email_change'], hash));
      if (s!.purpose === 'recovery' && x.cs.resetSession) expect(spec.sessions!.changed).toHaveProperty(x.cs.resetSession);
    }
    expectSpec(x.changes, spec, `verify: a ${kind} link used`);
    return `(${kind}${password === undefined ? '' : ' with a password'}: signed in)`;
  }

  async function recoverOracle(x: Ctx): Promise<string> {
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      refusedQuietly(x, 'an unreadable body');
      return '(unreadable body)';
    }
    const refused = codeOf(() => requestedAddress(fields));
    if (refused) {
      expectError(x, refused, 'no address');
      refusedQuietly(x, 'no address');
      return '(no address)';
    }
    const email = requestedAddress(fields);
    checkMailCounted(x.throttle, email, `mail:ip:${x.ip}`);
    if (x.preThrottled.has(`mail:address:${email}`)) {
      expectError(x, 'throttled', 'the address at its mail limit');
      expect(x.changes).toEqual({});
      return '(throttled, counted)';
    }
    expect([x.response.statusCode, x.body]).toEqual([200, {}]);
    const user = userByEmail(x.before, email);
    if (!user || user.disabled_at !== null) {
      expect(x.changes, 'no enabled account: nothing').toEqual({});
      return '(no account: same answer, nothing)';
    }
    expectSpec(x.changes, linkSpec(x, 'recovery', user, user.email, { template: 'recovery', retire: ['recovery'] }), 'a recovery link');
    checkSealedLink(x, 'recovery_token');
    return '(link mailed)';
  }

  /** admin(): a bearer token with the admin role, of a live session; the refusal code or the admin. */
  function adminOf(x: Ctx): { code: string } | { user: Row; session: Row } {
    return callerOf(x, ['admin']);
  }

  async function inviteOracle(x: Ctx): Promise<string> {
    const caller = adminOf(x);
    if ('code' in caller) {
      expectError(x, caller.code, 'no admin session');
      refusedQuietly(x, 'no admin');
      return `(${x.r.caller.who}: ${caller.code})`;
    }
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      refusedQuietly(x, 'an unreadable body');
      return '(unreadable body)';
    }
    const roles = (fields.app_metadata as { roles?: unknown } | undefined)?.roles ?? fields.roles;
    const early = codeOf(() => requestedAddress(fields)) ?? codeOf(() => requestedRoles(roles, ['member']));
    if (early) {
      expectError(x, early, 'an invitation refused');
      refusedQuietly(x, 'an invitation refused');
      return `(refused: ${early})`;
    }
    const email = requestedAddress(fields);
    const asked = requestedRoles(roles, ['member']);
    checkMailCounted(x.throttle, email, `mail:inviter:${caller.user.id}`);
    const existing = userByEmail(x.before, email);
    if (x.preThrottled.has(`mail:address:${email}`)) {
      expectError(x, 'throttled', 'the address at its mail limit');
      expect(x.changes).toEqual({});
      return '(throttled, counted)';
    }
    if (existing && (existing.password_hash !== null || existing.disabled_at !== null)) {
      expectError(x, 'user_exists', 'an account with a password, or disabled');
      expect(x.changes).toEqual({});
      return '(user exists, counted)';
    }
    expect(x.response.statusCode).toBe(200);
    if (!existing) {
      const added = x.changes.users?.added[0];
      expectSpec(x.changes, mergeSpec({ users: { added: [{ email, roles: asked, password_hash: null, email_confirmed_at: null, disabled_at: null }] } },
        { email_tokens: { added: [{ purpose: 'invite', email, used_at: null }] }, mail_outbox: { added: [{ recipient: email, template: 'invite', sent_at: null }] } }), 'an invitation');
      checkUserJson(x.body, added!);
      checkSealedLink(x, 'invite_token');
      return '(invited)';
    }
    expectSpec(x.changes, linkSpec(x, 'invite', existing, existing.email, { template: 'invite', retire: ['invite'] }), 'an invitation sent again');
    checkUserJson(x.body, userRow(x.after, existing.id)!);
    checkSealedLink(x, 'invite_token');
    return '(invited again)';
  }

  async function adminListOracle(x: Ctx): Promise<string> {
    const caller = adminOf(x);
    nothingAtAll(x, 'listing users');
    if ('code' in caller) {
      expectError(x, caller.code, 'no admin session');
      return `(${x.r.caller.who}: ${caller.code})`;
    }
    const query = x.event.queryStringParameters ?? {};
    const number = (value: string | undefined, fallback: number, max: number): number | undefined => {
      if (value === undefined || value === '') return fallback;
      if (!/^\d{1,6}$/.test(value) || Number(value) < 1) return undefined;
      return Math.min(Number(value), max);
    };
    const perPage = number(query.per_page, 50, 100);
    const page = number(query.page, 1, 100_000);
    if (perPage === undefined || page === undefined) {
      expectError(x, 'bad_request', 'a page that is no whole number from 1');
      return '(bad page)';
    }
    expect(x.response.statusCode).toBe(200);
    expect(Object.keys(x.body).sort()).toEqual(['aud', 'users']);
    expect(x.body.aud).toBe('');
    const ordered = rows(x.before, 'users').sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : Date.parse(a.created_at) - Date.parse(b.created_at) || (a.created_at < b.created_at ? -1 : 1)));
    const expected = ordered.slice((page - 1) * perPage, page * perPage);
    expect(x.body.users.map((u: Row) => u.id)).toEqual(expected.map((u) => u.id));
    for (const [i, u] of expected.entries()) checkUserJson(x.body.users[i], u);
    return expected.length ? '(a page of users)' : '(an empty page)';
  }

  async function adminCreateOracle(x: Ctx): Promise<string> {
    const caller = adminOf(x);
    if ('code' in caller) {
      expectError(x, caller.code, 'no admin session');
      refusedQuietly(x, 'no admin');
      return `(${x.r.caller.who}: ${caller.code})`;
    }
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      refusedQuietly(x, 'an unreadable body');
      return '(unreadable body)';
    }
    const am = fields.app_metadata as { roles?: unknown } | undefined;
    const rolesValue = am && typeof am === 'object' ? am.roles : undefined;
    const meta = metadataOf(fields.user_metadata ?? fields.data);
    const early = codeOf(() => requestedAddress(fields)) ?? (fields.password !== undefined ? codeOf(() => chosenPassword(fields)) : undefined) ?? codeOf(() => requestedRoles(rolesValue, ['member'])) ?? meta.error;
    if (early) {
      expectError(x, early, 'a user refused');
      refusedQuietly(x, 'a user refused');
      expect(hashes).toBe(x.hashesBefore);
      return `(refused: ${early})`;
    }
    const email = requestedAddress(fields);
    expect(x.throttle).toBeUndefined();
    if (userByEmail(x.before, email)) {
      expectError(x, 'user_exists', 'an address that has an account');
      expect(x.changes).toEqual({});
      return '(user exists)';
    }
    expect(x.response.statusCode).toBe(200);
    const password = fields.password as string | undefined;
    expectSpec(x.changes, { users: { added: [{ email, roles: requestedRoles(rolesValue, ['member']), password_hash: password === undefined ? null : fakeHash(password), disabled_at: null }] } }, 'an admin makes a user');
    const added = x.changes.users!.added[0]!;
    expect(added.email_confirmed_at, 'an address an admin adds counts as confirmed').not.toBeNull();
    expect(canon(added.user_metadata)).toBe(canon(JSON.parse(JSON.stringify(meta.patch ?? {}))));
    checkUserJson(x.body, added);
    return password === undefined ? '(made, no password)' : '(made, with a password)';
  }

  async function adminUserOracle(x: Ctx, id: string): Promise<string> {
    const kind = x.kind;
    const caller = adminOf(x);
    if ('code' in caller) {
      expectError(x, caller.code, 'no admin session');
      refusedQuietly(x, 'no admin');
      return `(${x.r.caller.who}: ${caller.code})`;
    }
    const target = isUuid(id) ? userRow(x.before, id.toLowerCase()) : undefined;
    expect(x.throttle).toBeUndefined();
    if (!isUuid(id)) {
      expectError(x, 'not_found', 'an id that is no UUID');
      expect(x.changes).toEqual({});
      return '(no UUID)';
    }
    if (kind === 'admin-get') {
      nothingAtAll(x, 'reading a user');
      if (!target) {
        expectError(x, 'not_found', 'nobody has that id');
        return '(nobody)';
      }
      expect(x.response.statusCode).toBe(200);
      checkUserJson(x.body, target);
      return '(read)';
    }
    if (kind === 'admin-delete') {
      if (!target) {
        expectError(x, 'not_found', 'nobody has that id');
        expect(x.changes).toEqual({});
        return '(nobody)';
      }
      expect([x.response.statusCode, x.body]).toEqual([200, {}]);
      const sessions = rows(x.before, 'sessions').filter((s) => s.user_id === target.id).map((s) => String(s.id));
      expectSpec(x.changes, {
        users: { removed: [target.id] },
        sessions: { removed: sessions },
        refresh_tokens: { removed: rows(x.before, 'refresh_tokens').filter((tok) => sessions.includes(tok.session_id)).map((tok) => String(tok.id)) },
        email_tokens: { removed: rows(x.before, 'email_tokens').filter((tok) => tok.user_id === target.id).map((tok) => String(tok.token_hash)) },
        mail_outbox: { removed: rows(x.before, 'mail_outbox').filter((m) => String(m.recipient).toLowerCase() === String(target.email).toLowerCase() && m.sent_at === null).map((m) => String(m.id)) },
      }, 'an admin deletes a user');
      expect(x.audit).toContainEqual(expect.objectContaining({ event: 'user_deleted', user_id: target.id, detail: { by: caller.user.id } }));
      return target.id === caller.user.id ? '(deleted itself)' : '(deleted)';
    }
    const { fields, error } = fieldsOf(x);
    if (!fields) {
      expectError(x, error!, 'an unreadable body');
      expect(x.changes).toEqual({});
      return '(unreadable body)';
    }
    const am = fields.app_metadata;
    const amBad = am !== undefined && (am === null || typeof am !== 'object' || Array.isArray(am));
    const rolesGiven = !amBad && am !== undefined && 'roles' in (am as object);
    const meta = metadataOf(fields.user_metadata);
    const early = fields.email !== undefined || fields.password !== undefined || amBad ? 'bad_request'
      : (rolesGiven ? codeOf(() => requestedRoles((am as { roles?: unknown }).roles, [])) : undefined) ?? meta.error ?? (target ? undefined : 'not_found');
    if (early) {
      expectError(x, early, 'an update refused');
      expect(x.changes).toEqual({});
      return `(refused: ${early})`;
    }
    expect(x.response.statusCode).toBe(200);
    const roles = rolesGiven ? requestedRoles((am as { roles?: unknown }).roles, []) : undefined;
    // set_user_roles and update_user_metadata write updated_at even when nothing else changes.
    const columns = [
      ...(roles && canon(roles) !== canon(target!.roles) ? ['roles'] : []),
      ...(meta.patch && canon(mergedMetadata(target!.user_metadata, meta.patch)) !== canon(target!.user_metadata) ? ['user_metadata'] : []),
    ];
    expectSpec(x.changes, roles || meta.patch ? {
      users: {
        changed: {
          [target!.id]: {
            columns: [...columns, 'updated_at'],
            check: (a) => {
              if (roles) expect(a.roles).toEqual(roles);
              if (meta.patch) expect(canon(a.user_metadata)).toBe(canon(mergedMetadata(target!.user_metadata, meta.patch)));
            },
          },
        },
      },
    } : {}, 'an admin updates a user');
    checkUserJson(x.body, userRow(x.after, target!.id)!);
    return `(updated${roles ? ' roles' : ''}${meta.patch ? ' data' : ''})`;
  }

  const ORACLES: Record<Kind, (x: Ctx, id: string) => Promise<string>> = {
    settings: settingsOracle, 'token-password': tokenOracle, 'token-refresh': tokenOracle, 'user-get': userGetOracle, 'user-put': userPutOracle,
    logout: logoutOracle, signup: signupOracle, verify: verifyOracle, recover: recoverOracle, invite: inviteOracle,
    'admin-list': adminListOracle, 'admin-create': adminCreateOracle, 'admin-get': adminUserOracle, 'admin-update': adminUserOracle, 'admin-delete': adminUserOracle,
  };

  // ------------------------------------------------------------ one case

  /** Other sessions of `user` (each with a refresh token), and links and mails waiting for it. */
  async function prepare(kind: Kind, r: CaseRecipe, subject: Fixture, cs: CaseState) {
    const k = r.knobs;
    const owner = kind.startsWith('admin-') ? fx.victim : kind === 'recover' ? fx.reset : subject;
    if (['user-put', 'logout', 'admin-delete', 'admin-update', 'verify'].includes(kind)) {
      // `others` live sessions and maybe an ended one, each with a refresh token nobody holds (revoked with an ended session), in one statement.
      const ids = await named('fuzz-other-sessions', `with s as (
          insert into rolegate.sessions (user_id, token_version, revoked_at, revoked_reason)
          select u.id, u.token_version, case when g > $2::int then now() end, case when g > $2::int then 'fixture' end
          from rolegate.users u, generate_series(1, $2::int + $3::int) g where u.id = $1
          returning id, revoked_at)
        insert into rolegate.refresh_tokens (token_hash, session_id, expires_at, revoked_at)
        select encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), id, now() + interval '1 hour', revoked_at from s
        returning session_id, revoked_at`, [(kind === 'verify' ? fx.reset : owner).id, k.others, k.endedOther ? 1 : 0]);
      if (kind === 'verify') cs.resetSession = (ids.rows as Row[]).find((row) => row.revoked_at === null)?.session_id;
    }
    if (k.links && ['user-put', 'admin-delete', 'recover', 'verify', 'invite', 'signup'].includes(kind)) {
      const links: Array<[string, string, number]> = [['recovery', owner.email, 3600], ['email_change', 'pending@elsewhere.example', 3600], ['recovery', owner.email, -1]];
      if (kind === 'invite' || kind === 'signup') links.push(['invite', fx.invitee.email, 3600], ['signup', fx.pending.email, 3600]);
      for (const [purpose, email, ttl] of links) {
        const token = newEmailToken();
        emailTokens.add(token);
        const user = purpose === 'invite' ? fx.invitee : purpose === 'signup' ? fx.pending : owner;
        await named('fuzz-link', `insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at) values ($1, $2, $3, $4, now() + make_interval(secs => $5::int))`,
          [emailTokenHash(token), purpose, user.id, email, ttl]);
      }
      await named('fuzz-mails', `insert into rolegate.mail_outbox (recipient, template, sent_at)
        values ($1, 'recovery', null), ($1, 'invite', null), ('someone@fuzz.example', 'recovery', null), ($1, 'recovery', now())`, [owner.email]);
    }
  }

  /** The login throttle at its limit for the account /token names (or for the client), before the request. */
  async function preThrottle(r: CaseRecipe, event: HandlerEvent): Promise<Set<string>> {
    const set = new Set<string>();
    if (r.knobs.preThrottle === 'none') return set;
    let key = `ip:${clientIp(event)}`;
    let limit = IP_LIMIT;
    if (r.knobs.preThrottle === 'mail') {
      let email: string | undefined;
      try { email = requestedAddress(parseBody(event).fields); } catch { email = undefined; }
      if (email === undefined) return set;
      key = `mail:address:${email}`;
      limit = MAIL_LIMIT;
    } else if (r.knobs.preThrottle === 'account') {
      let username: unknown;
      try { username = parseBody(event).fields.username; } catch { username = undefined; }
      // The key /token would count for this username (a malformed one counts nowhere: the member's then).
      const valid = typeof username === 'string' && username.length >= 1 && username.length <= 320 && !username.includes('\u0000');
      key = `account:${valid ? normalizeEmail(username as string) : fx.member.email}`;
      limit = ACCOUNT_LIMIT;
    }
    await named('fuzz-throttle', `insert into rolegate.login_throttle (key, window_started_at, failures) values ($1, now(), $2)
      on conflict (key) do update set window_started_at = now(), failures = $2`, [key, limit]);
    set.add(key);
    return set;
  }

  /** Each case's picture made small again: sessions, links, mails, the log and the login counters go; users back as they were made. */
  /**
   * Every row of every table (as tables.ts's snapshot takes it, one JSON list per table) in one
   * prepared statement; with `clean`, the same statement also empties what each case makes
   * (sessions and their tokens, links, mails, the log, the throttles): its CTEs see, and the
   * picture shows, the tables as the request left them.
   */
  async function picture(clean = false): Promise<Snapshot> {
    const wipe = clean ? `with s as (delete from rolegate.sessions), e as (delete from rolegate.email_tokens), m as (delete from rolegate.mail_outbox),
      a as (delete from rolegate.audit_log), l as (delete from rolegate.login_throttle) ` : '';
    const text = `${wipe}select ${tables.map((table, i) => `(select coalesce(json_agg(x), '[]') from rolegate.${table} x)::text as t${i}`).join(', ')}`;
    const row = (await named(clean ? 'fuzz-picture-clean' : 'fuzz-picture', text, [])).rows[0] as Record<string, string>;
    return new Map(tables.map((table, i) => [table, new Map((JSON.parse(row[`t${i}`]!) as Row[]).map((r) => [String(r.id ?? r.key ?? r.token_hash ?? JSON.stringify(r)), r]))]));
  }

  /** The users as they were made (sessions, links, mails, the log and the login counters went with the picture after the request). */
  async function restoreUsers(after: Snapshot) {
    const users = after.get('users')!;
    const extra = [...users.keys()].filter((id) => !fixtureRows.has(id));
    const changed = [...fixtureRows].filter(([id, row]) => JSON.stringify(users.get(id)) !== JSON.stringify(row)).map(([id]) => id);
    if (extra.length) await sql.query('delete from rolegate.users where id = any($1::uuid[])', [extra]);
    if (changed.length) {
      await sql.query('delete from rolegate.users where id = any($1::uuid[])', [changed]);
      await sql.query('insert into rolegate.users select * from json_populate_recordset(null::rolegate.users, $1::json)', [JSON.stringify(changed.map((id) => fixtureRows.get(id)))]);
    }
  }

  let casesSinceVacuum = 0;

  async function runCase(kind: Kind, r: CaseRecipe): Promise<void> {
    counts[kind].cases += 1;
    const ep = ENDPOINTS[kind];
    const cs: CaseState = { rightSigned: new Set(), email: new Map(), refresh: new Map() };
    const subject = ep.group === 'admin' ? fx.admin : fx.holder;
    const other = ep.group === 'admin' ? fx.member : fx.admin;
    let after: Snapshot | undefined;
    try {
      await prepare(kind, r, subject, cs);
      const auth = await materialiseCaller(r.caller, subject, other, cs);
      const body = await materialiseBody(r.body, cs, counts[kind].cases % 2 ? fx.member : fx.admin);
      // A suffix on /admin/users/:id is part of the id (one segment still): sent as such, routed there.
      const suffix = ep.path.includes(':id') ? ID_SUFFIXES[r.mangle] : undefined;
      const id = ep.path.includes(':id') ? `${idText(r.id)}${suffix ?? ''}` : '';
      const endpoint = ep.path.replace(':id', id);
      const event = toEvent(r, pathOf(endpoint, suffix === undefined ? r.mangle : 'exact'), body, auth);
      const preThrottled = await preThrottle(r, event);
      after = await check(kind, r, cs, subject, event, id, suffix !== undefined, preThrottled);
    } finally {
      // Also after a failed case: shrinking runs the next one on the tables as they were made.
      if (after) await restoreUsers(after);
      else await restoreUsers(await picture(true));
      // Thousands of rows made and deleted: without a vacuum now and then every scan reads their dead tuples.
      if (++casesSinceVacuum >= 200) {
        casesSinceVacuum = 0;
        await sql.query(`vacuum ${tables.map((table) => `rolegate.${table}`).join(', ')}`);
      }
    }
  }

  async function check(kind: Kind, r: CaseRecipe, cs: CaseState, subject: Fixture, event: HandlerEvent, id: string, suffixed: boolean, preThrottled: Set<string>): Promise<Snapshot> {
    const ep = ENDPOINTS[kind];
    const before = await picture();
    const hashesBefore = hashes;
    const handler = r.knobs.disabledApi ? handlers.off : kind === 'signup' ? handlers[r.knobs.policy] : handlers.main;
    const response = await handler(event);
    const after = await picture(true);
    const all = diff(before, after);
    const { audit_log: auditDiff, login_throttle: throttle, ...changes } = all;
    const x: Ctx = {
      kind, r, event, response, body: undefined, cookies: [], before, after, all, changes, throttle, audit: auditDiff?.added ?? [], cs, subject,
      ip: clientIp(event), hashesBefore, preThrottled,
    };
    const origin = header(event, 'origin');
    const originOk = origin === undefined || ALLOWED.includes(origin.toLowerCase());
    // The admin user route takes any single segment as the id; another path names nothing.
    const routes = (ROUTING.has(r.mangle) || suffixed) && !(ep.path.includes(':id') && /\/./.test(id.replace(/\/$/, '')));
    await checkAnswer(x, originOk && !r.knobs.disabledApi && routes && ep.path === '/token' && r.method !== 'OPTIONS');
    if (originOk && origin !== undefined) {
      expect(response.headers).toMatchObject({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' });
    } else {
      expect(response.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
    }
    let outcome: string;
    if (!originOk) {
      expectError(x, 'bad_origin', `Origin ${JSON.stringify(origin)}`);
      nothingAtAll(x, 'a foreign Origin');
      outcome = 'foreign origin';
    } else if (r.knobs.disabledApi) {
      expectError(x, 'not_found', 'the API is off');
      nothingAtAll(x, 'the API off');
      outcome = 'api off';
    } else if (r.method === 'OPTIONS') {
      expect(response.statusCode).toBe(204);
      expect(response.headers?.['Access-Control-Allow-Methods']).toBe('GET, POST, PUT, DELETE');
      nothingAtAll(x, 'a preflight');
      outcome = 'preflight';
    } else if (!routes) {
      expectError(x, 'not_found', `the path ${event.path}`);
      nothingAtAll(x, 'an unknown path');
      outcome = 'no such path';
    } else if (!ep.allow.includes(r.method)) {
      expectError(x, 'method_not_allowed', `method ${JSON.stringify(r.method)}`);
      expect(response.headers?.Allow).toBe(ep.allow.join(', '));
      nothingAtAll(x, 'a wrong method');
      outcome = 'wrong method';
    } else {
      const decoded = (() => { try { return decodeURIComponent(id.replace(/\/$/, '')); } catch { return id; } })();
      outcome = await ORACLES[kind](x, decoded);
    }
    countOutcome(kind, `${response.statusCode}${x.code ? ` ${x.code}` : ''}`);
    countOutcome(kind, outcome);
    // Every row the request wrote (rows it left alone were looked at when they were written).
    const stored = JSON.stringify(Object.values(all).map((d) => [d.added, d.changed.map((c) => c.after)]));
    expect(tokensIn(stored, issuedTokens), 'raw refresh tokens at rest').toEqual([]);
    expect(tokensIn(stored, emailTokens), 'raw mailed tokens at rest').toEqual([]);
    return after;
  }

  const REACHED: Record<Kind, string[]> = {
    settings: ['(settings)', 'foreign origin', 'wrong method', 'no such path', 'preflight', 'api off'],
    'token-password': ['(password: signed in)', '(password: wrong, counted)', '(password: throttled)', '(password: unconfirmed)', '(password: malformed)', '(unreadable body)', 'foreign origin'],
    'token-refresh': ['(refresh: rotated)', '(refresh: replayed in grace)', '(refresh: reuse ends the session)', '(refresh: stale session ended)', '(refresh: disabled session ended)', '(refresh: revoked)', '(refresh: expired)', '(refresh: conflict)'],
    'user-get': ['(live: read)', '(other: read)', '(ended: session_expired)', '(stale: session_expired)', '(disabled-user: session_expired)', '(deleted-user: session_expired)', '(expired: session_expired)', '(wrong-secret: unauthenticated)', '(alg-none: unauthenticated)', '(foreign-sid: session_expired)', '(non-uuid-sub: unauthenticated)', '(non-uuid-sid: unauthenticated)', '(cookie-only: unauthenticated)'],
    'user-put': ['(data: done)', '(password: done)', '(email: done)', '(link: done)', '(proof: wrong_password)', '(proof: reauthentication_required)', '(link: link_used)', '(link: link_expired)', '(link: link_invalid)', '(refused early: weak_password)'],
    logout: ['(live: session ended)', '(ended: already ended)', '(cookie-only: no bearer)', '(none: no bearer)', '(expired: nothing to end)'],
    signup: ['(open: new user, link mailed)', '(open-no-confirmation: made, confirmed)', '(open: existing account, notice)', '(open: unconfirmed account, new link)', '(open: disabled account, nothing)', '(invite: signup_disabled)', '(open-domains: email_not_allowed)', '(open: weak_password)', '(open: throttled, counted)'],
    verify: ['(live: signed in)', '(live with a password: signed in)', '(signup-live: signed in)', '(invite-live: signed in)', '(invite-live with a password: signed in)', '(change-live: signed in)', '(disabled: used up, nothing else)', '(change-taken: used up, nothing else)', '(refused: link_used)', '(refused: link_expired)', '(refused: link_invalid)', '(refused: bad_request)', '(refused: weak_password)'],
    recover: ['(link mailed)', '(no account: same answer, nothing)', '(throttled, counted)', '(no address)'],
    invite: ['(invited)', '(invited again)', '(user exists, counted)', '(other: forbidden)', '(refused: bad_request)', '(throttled, counted)'],
    'admin-list': ['(a page of users)', '(an empty page)', '(bad page)', '(other: forbidden)'],
    'admin-create': ['(made, no password)', '(made, with a password)', '(user exists)', '(refused: bad_request)', '(refused: weak_password)', '(other: forbidden)'],
    'admin-get': ['(read)', '(nobody)', '(no UUID)', '(other: forbidden)'],
    'admin-update': ['(updated roles)', '(updated data)', '(updated roles data)', '(refused: bad_request)', '(refused: not_found)', '(no UUID)', '(other: forbidden)'],
    'admin-delete': ['(deleted)', '(deleted itself)', '(nobody)', '(no UUID)', '(other: forbidden)'],
  };

  function fuzz(kind: Kind, arb: () => fc.Arbitrary<CaseRecipe>, runs = RUNS) {
    it(`${kind}: ${runs} hostile requests, never a 5xx, a stack trace, an unknown code or a write its answer does not explain`, async () => {
      const start = counts[kind].cases;
      const started = Date.now();
      await fc.assert(fc.asyncProperty(arb(), (r) => runCase(kind, r)), { seed: SEED, numRuns: runs });
      const ran = counts[kind].cases - start;
      console.log(`fuzz identity-api ${kind}: ${ran} cases in ${Date.now() - started} ms (seed ${SEED}); outcomes ${JSON.stringify(counts[kind].outcomes)}`);
      expect(ran).toBeGreaterThanOrEqual(runs);
      if (runs >= 1000) expect(Object.keys(counts[kind].outcomes)).toEqual(expect.arrayContaining(REACHED[kind]));
    }, 300_000);
  }

  fuzz('settings', () => caseArb('settings', anyBody));
  fuzz('token-password', () => caseArb('token-password', arbs.tokenPassword));
  fuzz('token-refresh', () => caseArb('token-refresh', arbs.tokenRefresh));
  fuzz('user-get', () => caseArb('user-get', anyBody));
  fuzz('user-put', () => caseArb('user-put', arbs.userPut));
  fuzz('logout', () => caseArb('logout', anyBody));
  fuzz('signup', () => caseArb('signup', arbs.signup));
  fuzz('verify', () => caseArb('verify', arbs.verify));
  fuzz('recover', () => caseArb('recover', arbs.recover));
  fuzz('invite', () => caseArb('invite', arbs.invite));
  fuzz('admin-list', () => caseArb('admin-list', anyBody, arbs.listQuery));
  fuzz('admin-create', () => caseArb('admin-create', arbs.adminCreate));
  fuzz('admin-get', () => caseArb('admin-get', anyBody));
  fuzz('admin-update', () => caseArb('admin-update', arbs.adminUpdate));
  fuzz('admin-delete', () => caseArb('admin-delete', anyBody));

  it('logged no secret and stored no raw refresh or mailed token during the whole run', async () => {
    expect(issuedTokens.size).toBeGreaterThan(100);
    const secrets = new Map<string, string>([['JWT_SECRET', SECRET], ['password', PASSWORD], ['password hash', fakeHash(PASSWORD)], ['new password', GOOD_NEW_PASSWORD]]);
    for (const token of issuedTokens) secrets.set(`refresh token ${token.slice(0, 6)}…`, token);
    for (const token of emailTokens) secrets.set(`mailed token ${token.slice(0, 6)}…`, token);
    for (const token of accessTokens) secrets.set(`access token ${token.slice(-6)}…`, token);
    const text = logs.text();
    expect(leakedSecrets(text, secrets)).toEqual([]);
    expect(tokensIn(text, issuedTokens)).toEqual([]);
    expect(tokensIn(text, emailTokens)).toEqual([]);
    expect(text, 'no unexpected error was logged').not.toMatch(/rolegate: unexpected/);
    expect(await rawTokensAtRest(sql, issuedTokens)).toEqual([]);
    expect(await rawTokensAtRest(sql, emailTokens)).toEqual([]);
  });
});
