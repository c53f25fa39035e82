import { AuthError } from '../../src/core/auth-errors.js';
/**
 * fast-check arbitraries for what an attacker can send to a function:
 * methods, paths, headers, bodies and cookies. Cookies that need the server's
 * state (a live refresh token, a validly signed access token) are generated
 * as recipes and made real by the test just before the request.
 */
import fc from 'fast-check';

export const SITE = 'https://site.example';

/** Printable ASCII and Latin-1: what an HTTP header value can carry (no CR, LF or NUL). */
const headerChar = fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c));
export const headerValue = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 40 }),
  fc.string({ unit: headerChar, maxLength: 400 }),
  fc.integer({ min: 4_000, max: 20_000 }).map((n) => 'A'.repeat(n)),
);

/** Strings that break naive code: lone surrogates, NUL, control characters, RTL marks, huge. */
export const nastyString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b@example.com', '\ud800', '\udfff@x.y', '\u202e', '%00', '%', '%zz', '\\', '"', "'", '<script>', '__proto__', 'constructor', 'null', 'undefined', 'NaN', '-1', '1e309', '\r\n', '\t'),
  fc.integer({ min: 300, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/**
 * `next` values a header cannot carry as they are: above U+00FF (Node refuses
 * them in Location), Latin-1, C0/C1 controls, lone surrogates, Unicode line
 * separators, and the same percent-encoded; some hide a second slash.
 */
export const hostileNext = fc.oneof(
  fc.constantFrom(
    '/\u3000x', '/ドキュメント/', '/members/\u{1F600}', '/café', '/\u00ff', '/\u0100', '/\u0085x', '/\u2028x', '/\u2029', '/\u202ex',
    '/x\u0000', '/\u0000/evil.example', '/\t/evil.example', '/\r\nSet-Cookie: a=b', '/\u007f', '/\u001b[31m', '/\ud800', '/x\udfff',
    '/%E3%80%80x', '/%C0%AF', '/%0d%0aSet-Cookie:%20a=b', '/%00', '/\uff0f\uff0fevil.example', '/\u3000/evil.example', '\u3000/x',
  ),
  fc.tuple(fc.constantFrom('/', '/members/', '/admin/x?q='), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 })).map(([a, b]) => `${a}${b}`),
  fc.tuple(fc.constantFrom('/', '/members/'), fc.string({ unit: fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 6 })).map(([a, b]) => `${a}${b}`),
);

export interface Known {
  email: string;
  password: string;
  /** Emails of users who must never get in: disabled, password-less. */
  lockedEmails: string[];
}

/** A field value of any JSON type, weighted toward the values that reach the database. */
function fieldValue(known: Known, kind: 'email' | 'password' | 'other') {
  const credible = kind === 'email'
    ? fc.constantFrom(known.email, known.email.toUpperCase(), ` ${known.email} `, 'nobody@example.com', `${known.email}\u0000`, 'a%00b@example.com', ...known.lockedEmails)
    : kind === 'password'
      ? fc.constantFrom(known.password, 'wrong password', `${known.password} `, 'é'.repeat(40), 'p'.repeat(73))
      : fc.oneof(fc.constantFrom('/', '/admin/x', '//evil.example', 'https://evil.example/', '/%2F%2Fevil', 'local', 'global'), hostileNext);
  return fc.oneof(
    { weight: 4, arbitrary: credible },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 2 })) },
  );
}

function deepJson(depth: number, object: boolean): string {
  return object ? `${'{"email":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes in raw, as a careless client would send it. */
export function encodeLoosely(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value;
  }
}

export function formEncode(pairs: Array<[string, string]>, raw: boolean): string {
  return pairs.map(([k, v]) => (raw ? `${k}=${v}` : `${encodeLoosely(k)}=${encodeLoosely(v)}`)).join('&');
}

export interface BodyRecipe {
  body: string | null;
  contentType?: string;
  isBase64Encoded: boolean;
}

/** Bodies: credible and hostile JSON, deep JSON, huge strings, form posts with repeated keys, invalid UTF-8, lying base64 flags. */
export function bodyArb(known: Known): fc.Arbitrary<BodyRecipe> {
  const fields = { email: fieldValue(known, 'email'), password: fieldValue(known, 'password'), next: fieldValue(known, 'other'), scope: fieldValue(known, 'other') };
  const anyFields = fc.record(fields, { requiredKeys: [] });
  const credentials = fc.record(fields, { requiredKeys: ['email', 'password'] });
  // The right password for a real account: the paths past bcrypt must be reached too.
  const rightOnes = fc.record({ ...fields, email: fc.constantFrom(known.email, known.email.toUpperCase(), ` ${known.email}`), password: fc.constant(known.password) }, { requiredKeys: ['email', 'password'] });
  const json = fc.oneof(
    { weight: 2, arbitrary: anyFields.map((v) => JSON.stringify(v)) },
    { weight: 3, arbitrary: credentials.map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: rightOnes.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.boolean()).map(([d, o]) => deepJson(d, o)) },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"email":', 'null', '[]', '"str"', '1', '{"__proto__":{"email":"x@y.z"}}', '{"email":"a@b.c","email":"d@e.f"}') },
    { weight: 1, arbitrary: fc.integer({ min: 16 * 1024 - 64, max: 80_000 }).map((n) => JSON.stringify({ email: known.email, password: 'p'.repeat(n) })) },
  );
  const formPair = fc.tuple(fc.constantFrom('email', 'password', 'next', 'scope', 'Email', 'email[]', '__proto__', ''), fc.oneof(
    fc.constantFrom(known.email, known.password, 'local', 'global', '/members/x'), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), hostileNext,
  ));
  const form = fc.tuple(fc.array(formPair, { maxLength: 8 }), fc.boolean()).map(([pairs, raw]) => formEncode(pairs, raw));
  return bodyEnvelope(json, form);
}

const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', 'APPLICATION/JSON', ' application/x-www-form-urlencoded ; charset=latin1') },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'multipart/form-data; boundary=x', 'application/xml', '', ';;;', 'application/json, application/x-www-form-urlencoded') },
  { weight: 1, arbitrary: headerValue },
);

/**
 * JSON and form texts sent every way a client (or an attacker) can: with any
 * content type or none, honestly base64-encoded, base64 of raw bytes, a base64
 * flag that lies, and empty.
 */
export function bodyEnvelope(json: fc.Arbitrary<string>, form: fc.Arbitrary<string>): fc.Arbitrary<BodyRecipe> {
  const contentType = contentTypeArb;
  const text = fc.oneof({ weight: 4, arbitrary: json }, { weight: 3, arbitrary: form }, { weight: 1, arbitrary: nastyString });
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ body: text, contentType: fc.option(contentType, { nil: undefined }), isBase64Encoded: fc.constant(false) }) },
    // Honest base64 of arbitrary bytes: invalid UTF-8 among them.
    { weight: 1, arbitrary: fc.record({ body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')), contentType: fc.option(contentType, { nil: undefined }), isBase64Encoded: fc.constant(true) }) },
    // Honest base64 of a credible body.
    { weight: 1, arbitrary: fc.record({ body: text.map((t) => Buffer.from(t).toString('base64')), contentType: fc.option(contentType, { nil: undefined }), isBase64Encoded: fc.constant(true) }) },
    // The flag lies: plain text marked base64.
    { weight: 1, arbitrary: fc.record({ body: text, contentType: fc.option(contentType, { nil: undefined }), isBase64Encoded: fc.constant(true) }) },
    { weight: 1, arbitrary: fc.record({ body: fc.constantFrom(null, ''), contentType: fc.option(contentType, { nil: undefined }), isBase64Encoded: fc.boolean() }) },
  );
}

/** What the test turns into a cookie value once it knows the server's state. */
export type CookieValueRecipe =
  | { kind: 'raw'; value: string }
  | { kind: 'jwt-shaped'; parts: string[] }
  /** Signed with the right or another secret, with claims of any type. */
  | { kind: 'signed'; secret: 'right' | 'wrong'; header: Record<string, unknown>; claims: Record<string, unknown> }
  /**
   * Built by hand, not by a JWT library: any header (unsigned `alg: none`, odd
   * or non-string `alg`), any payload (a JSON array, a string, a number), and a
   * signature that is the right secret's HMAC-SHA256, another's, none or junk.
   */
  | { kind: 'crafted'; header: unknown; payload: unknown; signature: 'right' | 'wrong' | 'none' | 'junk' }
  /** A valid access token for the live session, maybe mangled. */
  | { kind: 'live-access'; mangle: Mangle }
  /** The live session's refresh token, maybe mangled. */
  | { kind: 'live-refresh'; mangle: Mangle }
  /** A refresh token already rotated by another request (a copy an attacker kept). */
  | { kind: 'rotated-refresh' }
  /** A refresh token of a session that has ended. */
  | { kind: 'revoked-refresh' };

export type Mangle = 'none' | 'truncate' | 'extend' | 'flip' | 'upper' | 'quote' | 'percent' | 'space';

export interface CookieRecipe {
  name: string;
  value: CookieValueRecipe;
}

const b64url = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), maxLength: 60 });
const claimValue = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.object({ maxDepth: 2 }), fc.constant(undefined));

const claimsArb = fc.record({
  sub: fc.oneof(claimValue, fc.uuid()),
  email: fc.oneof(claimValue, fc.constant('a@example.com')),
  sid: fc.oneof(claimValue, fc.uuid()),
  iat: fc.oneof(claimValue, fc.constant('NOW')),
  exp: fc.oneof(claimValue, fc.constantFrom('NOW+900', 'NOW-900')),
  nbf: claimValue,
  iss: fc.oneof(claimValue, fc.constant('rolegate')),
  app_metadata: fc.oneof(claimValue, fc.record({ authorization: fc.oneof(claimValue, fc.record({ roles: fc.oneof(claimValue, fc.constant(['admin'])) })) })),
  user_metadata: claimValue,
}, { requiredKeys: [] });

const headerArbJwt = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ alg: 'HS256', typ: 'JWT' }) },
  { weight: 1, arbitrary: fc.record({ alg: fc.constantFrom('HS256', 'HS384', 'HS512'), typ: fc.oneof(fc.constantFrom('JWT', 'jwt', 'at+jwt'), claimValue), kid: claimValue }, { requiredKeys: ['alg'] }) },
);

/** Headers a verifier must refuse (all but HS256 with typ JWT), and that one. */
const craftedHeader = fc.oneof(
  fc.constantFrom(
    { alg: 'none', typ: 'JWT' }, { alg: 'None', typ: 'JWT' }, { alg: 'NONE' }, { alg: 'nOnE', typ: 'JWT' },
    { alg: 'RS256', typ: 'JWT' }, { alg: 'ES256', typ: 'JWT' }, { alg: 'PS256' }, { alg: 'EdDSA' }, { alg: 'dir', enc: 'A256GCM' },
    { alg: 'hs256', typ: 'JWT' }, { alg: 'HS256 ', typ: 'JWT' }, { alg: '', typ: 'JWT' }, { alg: null, typ: 'JWT' }, { alg: ['HS256'], typ: 'JWT' },
    { alg: 256 }, { typ: 'JWT' }, { alg: 'HS256', typ: 'JWT', crit: ['exp'] }, { alg: 'HS256', typ: 'JWT', b64: false, crit: ['b64'] },
    { alg: 'HS256', typ: 'JWT', jku: 'https://evil.example/keys' }, { alg: 'HS256', typ: 'JWT' }, { alg: 'HS256', typ: 'JWT' },
    [], ['HS256'], 'HS256', null, 1,
  ),
  fc.record({ alg: claimValue, typ: claimValue }, { requiredKeys: [] }),
);

/** Payloads that are not a claims object, and claims an attacker wants honoured. */
const craftedPayload = fc.oneof(
  fc.constantFrom(
    [], [{ sub: 'x', exp: 'NOW+900' }], ['admin'], [[[]]], 'admin', '', 0, 1e308, -1, true, false, null,
    { sub: '00000000-0000-4000-8000-000000000009', email: 'a@example.com', sid: '00000000-0000-4000-8000-00000000000a', iat: 'NOW', exp: 'NOW+900', iss: 'rolegate', app_metadata: { authorization: { roles: ['admin'] } } },
    { exp: 'NOW+900', app_metadata: { authorization: { roles: ['admin'] } } },
  ),
  claimsArb,
  fc.array(claimValue, { maxLength: 3 }),
);

export const cookieValueArb: fc.Arbitrary<CookieValueRecipe> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('crafted' as const), header: craftedHeader, payload: craftedPayload, signature: fc.constantFrom('right' as const, 'right' as const, 'wrong' as const, 'none' as const, 'junk' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('raw' as const), value: fc.oneof(headerValue, nastyString.map((s) => s.replace(/[\r\n\u0000]/g, ''))) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('jwt-shaped' as const), parts: fc.array(b64url, { minLength: 1, maxLength: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('signed' as const), secret: fc.constantFrom('right' as const, 'right' as const, 'wrong' as const), header: headerArbJwt, claims: claimsArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('live-access' as const), mangle: fc.constantFrom<Mangle>('none', 'none', 'truncate', 'extend', 'flip', 'upper', 'quote', 'percent', 'space') }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('live-refresh' as const), mangle: fc.constantFrom<Mangle>('none', 'none', 'none', 'truncate', 'extend', 'flip', 'upper', 'quote', 'percent', 'space') }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rotated-refresh' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'revoked-refresh' as const }) },
);

export const COOKIE_NAMES = ['nf_jwt', '__Host-rolegate_refresh', '__Secure-rolegate_refresh', 'rolegate_session', '__Host-rolegate_fp', '__Secure-rolegate_fp'];

export const cookiesArb: fc.Arbitrary<CookieRecipe[]> = fc.array(
  fc.record({ name: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...COOKIE_NAMES) }, { weight: 1, arbitrary: fc.constantFrom('NF_JWT', 'nf_jwt ', 'x', '', '__Host-rolegate_refresh\u0000') }), value: cookieValueArb }),
  { maxLength: 5 },
);

export interface RequestRecipe {
  method: string;
  /** Path after the function's own path (`/admin/x` for the bounce). */
  pathSuffix: string;
  query: string;
  origin: string | undefined;
  /** Extra headers as sent, possibly the same name twice in another case. */
  headers: Array<[string, string]>;
  cookies: CookieRecipe[];
  /** Appended to the Cookie header as it is: separators, junk, a second copy. */
  cookieTail: string;
  /** Send the Cookie header under a second name case as well (`Cookie` and `cookie`). */
  duplicateCookieHeader: boolean;
  /** An Authorization header (requireRole reads a Bearer token before the cookie). */
  authorization?: { scheme: string; value: CookieValueRecipe };
  body: BodyRecipe;
}

/**
 * Gated paths spelled with repeated and mixed slashes, backslashes and their
 * escapes, dot segments and non-Latin-1 segments (`//admin//x`, `/members\\x`,
 * `/admin%2F%2Fx`, `/members/\u3000`).
 */
export const slashyPath = fc.tuple(
  fc.constantFrom('/', '//', '///', '\\', '/\\', '\\/', '%2F', '/%2F', '%5C', '/%5C', '/./', '/../'),
  fc.array(fc.tuple(fc.constantFrom('admin', 'members', 'x', 'index.html', '.', '..', '%2e%2e', '\u3000', 'ドキュメント', ''), fc.constantFrom('/', '//', '\\', '/\\', '%2F', '%2f%2f', '%5C', '/./', ';/')), { minLength: 1, maxLength: 4 }),
).map(([lead, parts]) => `${lead}${parts.map(([segment, slash]) => `${segment}${slash}`).join('')}`);

/**
 * A request to a function. `body`, `query` and `cookies` replace the login-shaped defaults
 * for an endpoint that reads other fields (the account flows' arbitraries below).
 */
export function requestArb(known: Known, options: { methods: string[]; body?: fc.Arbitrary<BodyRecipe>; query?: fc.Arbitrary<string>; cookies?: fc.Arbitrary<CookieRecipe[]> }): fc.Arbitrary<RequestRecipe> {
  const method = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...options.methods) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'post', '', 'TRACE') });
  const origin = fc.oneof(
    { weight: 8, arbitrary: fc.constant(SITE) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'null', 'https://evil.example', 'HTTPS://SITE.EXAMPLE', `${SITE}/`, 'https://site.example.evil.example', 'http://site.example') },
  );
  const pathSuffix = fc.oneof(
    fc.constantFrom('', '/', '/admin/x', '/members/', '/admin', '//evil.example', '/%2F%2Fevil.example', '/\\evil.example', '/%zz', '/%E0%A4%A', '/a?b', '/admin/%2e%2e/x', '/%00', '/login', '/403'),
    fc.array(fc.oneof(fc.webSegment(), fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
    slashyPath,
  );
  const query = options.query ?? fc.oneof(
    fc.constant(''),
    fc.constantFrom('next=/admin/x', 'next=//evil.example', 'next=https://evil.example', 'next=%2Fmembers%2F', 'next=/a&next=//b', 'x=1&y', '%zz=%zz'),
    hostileNext.map((next) => `next=${encodeLoosely(next)}`),
    fc.constantFrom('q=\u3000', 'next=/\u3000x', 'next=%2F%E3%80%80x', 'q=%E3%80%80&next=/members/'),
    fc.webQueryParameters(),
  );
  const extraHeader = fc.tuple(
    fc.constantFrom('accept', 'Accept', 'referer', 'user-agent', 'x-forwarded-for', 'x-nf-client-connection-ip', 'client-ip', 'content-length', 'Content-Type', 'ORIGIN', 'authorization', 'x-random'),
    fc.oneof(headerValue, fc.constantFrom('text/html', 'application/json', `${SITE}/login?next=%2Fadmin%2F`, 'https://evil.example/login?next=//evil', '203.0.113.5', '198.51.100.7, 10.0.0.1', 'Bearer x.y.z')),
  );
  return fc.record({
    method,
    pathSuffix,
    query,
    origin,
    headers: fc.array(extraHeader, { maxLength: 4 }),
    cookies: options.cookies ?? cookiesArb,
    cookieTail: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom(';', ';;;', '; =', '; nf_jwt', '; nf_jwt=', '=;=', '; a=%'), headerValue) }),
    duplicateCookieHeader: fc.boolean(),
    authorization: fc.option(fc.record({ scheme: fc.constantFrom('Bearer ', 'bearer ', 'Bearer  ', 'Basic ', 'Bearer', ''), value: cookieValueArb }), { nil: undefined, freq: 3 }),
    body: options.body ?? bodyArb(known),
  }, { requiredKeys: ['method', 'pathSuffix', 'query', 'origin', 'headers', 'cookies', 'cookieTail', 'duplicateCookieHeader', 'body'] });
}

// ------------------------------------------------------------ the account flows (recover, verify)

/**
 * The state of a mailed (email) token the test makes just before the request: still good
 * (`live`), used up, expired, never issued (`unknown`: 43 base64url characters nobody
 * stored), issued for another purpose (`magic`: a link sign-in token), and issued to a
 * user disabled since (`disabled`).
 */
export type EmailTokenKind = 'live' | 'used' | 'expired' | 'unknown' | 'magic' | 'disabled' | `${LinkPurpose}-${LinkState}` | 'change-taken';
/**
 * The other links verify takes: a sign-up confirmation (signs in), an invitation (chooses a
 * first password) and an address change (`change`: moves the account to the address it was
 * mailed to, and signs in). `change-taken` is a live address change link to an address
 * another account holds by now.
 */
export type LinkPurpose = 'signup' | 'invite' | 'change';
export type LinkState = 'live' | 'used' | 'expired';
export const EMAIL_TOKEN_KINDS: readonly EmailTokenKind[] = [
  'live', 'used', 'expired', 'unknown', 'magic', 'disabled',
  'signup-live', 'signup-used', 'signup-expired', 'invite-live', 'invite-used', 'invite-expired',
  'change-live', 'change-used', 'change-expired', 'change-taken',
];

/**
 * Stands in a body, query or cookie for a token the test makes once it knows the server's
 * state. Only unreserved characters, so it survives JSON, form and percent encoding as it is.
 */
export function emailTokenPlaceholder(kind: EmailTokenKind, mangle: Mangle): string {
  return `~tok~${kind}~${mangle}~`;
}
export const EMAIL_TOKEN_PLACEHOLDER = /~tok~([a-z-]+)~([a-z]+)~/g;

const MANGLES: Mangle[] = ['truncate', 'extend', 'flip', 'upper', 'quote', 'percent', 'space'];
const tokenChars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));

/** A token as text: mostly one the database knows (the live one most of all), else look-alikes and junk. */
export const emailTokenText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(emailTokenPlaceholder('live', 'none')) },
  // The sign-up, invitation and address change links that still work: their success paths must be reached too.
  { weight: 3, arbitrary: fc.constantFrom<EmailTokenKind>('signup-live', 'invite-live', 'change-live').map((kind) => emailTokenPlaceholder(kind, 'none')) },
  { weight: 3, arbitrary: fc.constantFrom(...EMAIL_TOKEN_KINDS).map((kind) => emailTokenPlaceholder(kind, 'none')) },
  { weight: 2, arbitrary: fc.constantFrom(...MANGLES).map((mangle) => emailTokenPlaceholder('live', mangle)) },
  // Valid-looking: exactly 43 base64url characters, and one off either way.
  { weight: 2, arbitrary: fc.integer({ min: 42, max: 44 }).chain((n) => fc.string({ unit: tokenChars, minLength: n, maxLength: n })) },
  { weight: 1, arbitrary: fc.oneof(nastyString, headerValue, fc.constantFrom('', 'null', '%00', `${'A'.repeat(43)}=`, `${'A'.repeat(42)}+`, `${'A'.repeat(42)}/`)) },
);

/** A field value for `token`: mostly text, sometimes not a string at all. */
const emailTokenField = fc.oneof(
  { weight: 8, arbitrary: emailTokenText },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(emailTokenText, { maxLength: 2 }), fc.object({ maxDepth: 2 })) },
);

export const GOOD_NEW_PASSWORD = 'a brand new passphrase';

/** New passwords: good ones mostly, and the edges of the rules (8 characters, 72 bytes, 1024 characters). */
const newPasswordArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(GOOD_NEW_PASSWORD, 'exactly8', 'p'.repeat(72), 'ünïcödé pässwörd') },
  { weight: 2, arbitrary: fc.constantFrom('', 'short', '1234567', 'é'.repeat(37), 'p'.repeat(73), 'x'.repeat(1025), 'x'.repeat(20_000), '\u0000'.repeat(8), '\ud800'.repeat(8), ' '.repeat(8)) },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 2 })) },
);

/** The choose-a-password form's fields: token (or none: the cookie then), password, its confirmation and next. */
const verifyFieldsArb = fc.record({
  token: fc.option(emailTokenField, { nil: undefined, freq: 3 }),
  password: fc.option(newPasswordArb, { nil: undefined, freq: 10 }),
  confirm: fc.constantFrom('same', 'same', 'absent', 'other', 'wrong-type'),
  next: fc.option(fc.oneof(fc.constantFrom('/', '/members/x', '//evil.example', 'https://evil.example/'), hostileNext), { nil: undefined, freq: 3 }),
}).map(({ token, password, confirm, next }) => {
  const fields: Record<string, unknown> = {};
  if (token !== undefined) fields.token = token;
  if (password !== undefined) fields.password = password;
  if (confirm === 'same') fields.password_confirm = password;
  if (confirm === 'other') fields.password_confirm = `${String(password)}x`;
  if (confirm === 'wrong-type') fields.password_confirm = [password];
  if (next !== undefined) fields.next = next;
  return fields;
});

/** Verify's POST bodies, every encoding and envelope the login bodies get. */
export function verifyBodyArb(): fc.Arbitrary<BodyRecipe> {
  const json = fc.oneof(
    { weight: 8, arbitrary: verifyFieldsArb.map((fields) => JSON.stringify(fields)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom('{', 'null', '[]', `{"token":"${emailTokenPlaceholder('live', 'none')}","token":"x","password":"${GOOD_NEW_PASSWORD}"}`, `{"__proto__":{"token":"${emailTokenPlaceholder('live', 'none')}"},"password":"${GOOD_NEW_PASSWORD}"}`) },
    { weight: 1, arbitrary: fc.integer({ min: 16 * 1024 - 64, max: 40_000 }).map((n) => JSON.stringify({ token: emailTokenPlaceholder('live', 'none'), password: 'p'.repeat(n) })) },
  );
  const formPair = fc.tuple(
    fc.constantFrom('token', 'password', 'password_confirm', 'next', 'Token', 'token[]', '__proto__', ''),
    fc.oneof(emailTokenText, fc.constantFrom(GOOD_NEW_PASSWORD, 'short'), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), hostileNext),
  );
  const credibleForm = verifyFieldsArb.map((fields) => Object.entries(fields).filter(([, v]) => typeof v === 'string') as Array<[string, string]>);
  const form = fc.tuple(fc.oneof(credibleForm, fc.array(formPair, { maxLength: 6 })), fc.boolean()).map(([pairs, raw]) => formEncode(pairs, raw));
  // The page's own form and a script's JSON, each with its content type: the path past bcrypt must be reached often.
  const asSent = fc.oneof(
    verifyFieldsArb.map((fields): BodyRecipe => ({ body: JSON.stringify(fields), contentType: 'application/json', isBase64Encoded: false })),
    credibleForm.map((pairs): BodyRecipe => ({ body: formEncode(pairs, false), contentType: 'application/x-www-form-urlencoded', isBase64Encoded: false })),
  );
  return fc.oneof({ weight: 1, arbitrary: asSent }, { weight: 2, arbitrary: bodyEnvelope(json, form) });
}

/** Verify's query: the link's `?token=` in every shape, repeated, or missing among other parameters. */
export const verifyQueryArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: emailTokenText.map((token) => `token=${encodeLoosely(token)}`) },
  { weight: 1, arbitrary: fc.tuple(emailTokenText, emailTokenText).map(([a, b]) => `token=${encodeLoosely(a)}&token=${encodeLoosely(b)}`) },
  { weight: 1, arbitrary: emailTokenText.map((token) => `Token=${encodeLoosely(token)}&token[]=${encodeLoosely(token)}`) },
  { weight: 1, arbitrary: fc.constantFrom('', 'token', 'token=', 'token=%zz', `token=${emailTokenPlaceholder('live', 'none')}%00`, `token=%7Etok%7Elive%7Enone%7E`) },
  { weight: 1, arbitrary: fc.webQueryParameters() },
);

/** Cookies for verify: the usual mix, and mostly a rolegate_link carrying a token (once, twice, or misnamed). */
export const verifyCookiesArb: fc.Arbitrary<CookieRecipe[]> = fc.tuple(
  cookiesArb,
  fc.array(fc.record({
    name: fc.constantFrom('rolegate_link', 'rolegate_link', 'rolegate_link', 'ROLEGATE_LINK', 'rolegate_link '),
    value: emailTokenText.map((value) => ({ kind: 'raw' as const, value: value.replace(/[\r\n\u0000;]/g, '') })),
  }), { maxLength: 2 }),
).map(([others, links]) => [...links, ...others]);

// ------------------------------------------------------------ sign-up and invitations

/** The addresses the sign-up and invite fuzz knows: a domain the allowed-domains policy takes, another, and every fixture account. */
export interface AccountAddresses {
  domain: string;
  otherDomain: string;
  /** Addresses that have an account, in every state (confirmed, waiting for confirmation, no password, disabled). */
  known: string[];
}

/**
 * A new address at `domain`, one of 40 (so the per-address mail limit is reached too), as a
 * visitor may type it: as is, upper case, padded, or with a decomposed accent (NFD).
 */
function freshAddress(domain: string, local: string): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 0, max: 39 }), fc.constantFrom('plain', 'plain', 'upper', 'padded', 'nfd')).map(([n, how]) => {
    const address = `${local}${n}@${domain}`;
    if (how === 'upper') return address.toUpperCase();
    if (how === 'padded') return ` ${address}\t`;
    if (how === 'nfd') return `jose\u0301-${address}`;
    return address;
  });
}

/** An `email` field: new addresses mostly, known ones, look-alike domains, invalid addresses and non-strings. */
function accountAddressArb(addresses: AccountAddresses, local: string): fc.Arbitrary<unknown> {
  const { domain, otherDomain, known } = addresses;
  return fc.oneof(
    { weight: 6, arbitrary: freshAddress(domain, local) },
    { weight: 2, arbitrary: fc.oneof(freshAddress(otherDomain, local), fc.constantFrom(`${local}@sub.${domain}`, `${local}@${domain}.evil.test`, `${local}@${domain.toUpperCase()}`, `${local}@${domain}.`, `${local}@x${domain}`)) },
    { weight: 3, arbitrary: fc.constantFrom(...known, ...known.map((k) => k.toUpperCase()), ...known.map((k) => ` ${k} `)) },
    { weight: 2, arbitrary: fc.oneof(nastyString, fc.constantFrom('a@b', `@${domain}`, 'x@', `a@@${domain}`, `a b@${domain}`, `${'x'.repeat(250)}@${domain}`, `${'x'.repeat(64)}@${'d'.repeat(300)}.example`, `new\u0000@${domain}`, `\u202enew@${domain}`, `new@${domain}\r\n`)) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(freshAddress(domain, local), { minLength: 1, maxLength: 2 }), fc.object({ maxDepth: 2 })) },
  );
}

const nextFieldArb = fc.option(fc.oneof(fc.constantFrom('/', '/members/x', '//evil.example', 'https://evil.example/'), hostileNext), { nil: undefined, freq: 3 });

/** JSON and form texts for `fields`, in every envelope, and half the time as the page's form or a script sends them. */
function accountBody(fieldsArb: fc.Arbitrary<Record<string, unknown>>, formPair: fc.Arbitrary<[string, string]>, duplicated: string[]): fc.Arbitrary<BodyRecipe> {
  const json = fc.oneof(
    { weight: 8, arbitrary: fieldsArb.map((fields) => JSON.stringify(fields)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom('{', 'null', '[]', '"str"', ...duplicated) },
    { weight: 1, arbitrary: fieldsArb.chain((fields) => fc.integer({ min: 16 * 1024 - 64, max: 40_000 }).map((n) => JSON.stringify({ ...fields, padding: 'p'.repeat(n) }))) },
  );
  // A form carries strings only (a list of roles as one comma-separated field).
  const credibleForm = fieldsArb.map((fields) => Object.entries(fields)
    .map(([k, v]) => [k, Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(',') : v] as const)
    .filter((pair): pair is [string, string] => typeof pair[1] === 'string'));
  const form = fc.tuple(fc.oneof(credibleForm, fc.array(formPair, { maxLength: 6 })), fc.boolean()).map(([pairs, raw]) => formEncode(pairs, raw));
  const asSent = fc.oneof(
    fieldsArb.map((fields): BodyRecipe => ({ body: JSON.stringify(fields), contentType: 'application/json', isBase64Encoded: false })),
    credibleForm.map((pairs): BodyRecipe => ({ body: formEncode(pairs, false), contentType: 'application/x-www-form-urlencoded', isBase64Encoded: false })),
  );
  return fc.oneof({ weight: 3, arbitrary: asSent }, { weight: 2, arbitrary: bodyEnvelope(json, form) });
}

/** The sign-up form's fields: an address, a new password (and its confirmation) and next. */
export function signupBodyArb(addresses: AccountAddresses): fc.Arbitrary<BodyRecipe> {
  const fields = fc.record({
    email: fc.option(accountAddressArb(addresses, 'new'), { nil: undefined, freq: 12 }),
    password: fc.option(newPasswordArb, { nil: undefined, freq: 10 }),
    confirm: fc.constantFrom('same', 'same', 'absent', 'absent', 'other', 'wrong-type'),
    next: nextFieldArb,
  }).map(({ email, password, confirm, next }) => {
    const out: Record<string, unknown> = {};
    if (email !== undefined) out.email = email;
    if (password !== undefined) out.password = password;
    if (confirm === 'same') out.password_confirm = password;
    if (confirm === 'other') out.password_confirm = `${String(password)}x`;
    if (confirm === 'wrong-type') out.password_confirm = [password];
    if (next !== undefined) out.next = next;
    return out;
  });
  const formPair = fc.tuple(
    fc.constantFrom('email', 'password', 'password_confirm', 'next', 'Email', 'email[]', '__proto__', 'constructor', ''),
    fc.oneof(freshAddress(addresses.domain, 'new'), fc.constantFrom(...addresses.known, GOOD_NEW_PASSWORD, 'short'), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), hostileNext),
  );
  const duplicated = [
    `{"email":"new0@${addresses.domain}","email":"${addresses.known[0]}","password":"${GOOD_NEW_PASSWORD}"}`,
    `{"__proto__":{"email":"new1@${addresses.domain}"},"password":"${GOOD_NEW_PASSWORD}"}`,
  ];
  return accountBody(fields, formPair, duplicated);
}

/** Role lists an admin (or an attacker with a stolen admin cookie) may send: good names, bad names, too many, not a list. */
const rolesFieldArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.constantFrom('member', 'editor', 'admin', 'staff.v2', 'a-b_c', 'constructor', 'A1'), { maxLength: 4 }) },
  { weight: 2, arbitrary: fc.constantFrom('member', 'editor, member', 'member,,admin', ' , ', '', 'admin') },
  { weight: 2, arbitrary: fc.array(fc.oneof(fc.constantFrom('', ' member', 'a,b', 'x'.repeat(65), '.x', '-x', '_x', 'ドキュメント', '__proto__', 'Role=admin', 'admin\u0000', 'a b', ':admin'), nastyString), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 33, max: 40 }).map((n) => Array.from({ length: n }, (_, i) => `r${i % 2}`)) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.constant('admin'))), { minLength: 1, maxLength: 3 }), fc.object({ maxDepth: 2 })) },
);

/** The invite form's fields: an address, roles (or none: the configured ones) and next. */
export function inviteBodyArb(addresses: AccountAddresses): fc.Arbitrary<BodyRecipe> {
  const fields = fc.record({
    email: fc.option(accountAddressArb(addresses, 'invitee'), { nil: undefined, freq: 12 }),
    roles: fc.option(rolesFieldArb, { nil: undefined, freq: 3 }),
    next: nextFieldArb,
  }).map(({ email, roles, next }) => {
    const out: Record<string, unknown> = {};
    if (email !== undefined) out.email = email;
    if (roles !== undefined) out.roles = roles;
    if (next !== undefined) out.next = next;
    return out;
  });
  const formPair = fc.tuple(
    fc.constantFrom('email', 'roles', 'next', 'Roles', 'roles[]', 'email[]', '__proto__', ''),
    fc.oneof(freshAddress(addresses.domain, 'invitee'), fc.constantFrom(...addresses.known, 'member', 'editor,admin', 'a b', ''), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), hostileNext),
  );
  const duplicated = [
    `{"email":"invitee0@${addresses.domain}","email":"${addresses.known[0]}","roles":["admin"]}`,
    `{"email":"invitee1@${addresses.domain}","roles":["member"],"roles":"admin"}`,
    `{"__proto__":{"roles":["admin"]},"email":"invitee2@${addresses.domain}"}`,
  ];
  return accountBody(fields, formPair, duplicated);
}

// ------------------------------------------------------------ the account page: a new password, a new address

/** What the account fuzz knows: the signed-in user's address and password, addresses other accounts hold, and a domain for new ones. */
export interface AccountChangeFixture {
  ownEmail: string;
  password: string;
  taken: string[];
  domain: string;
  /** The holder's linked provider identity, and another user's (which the holder must not be able to remove). */
  identityId: string;
  otherIdentityId: string;
}

/** `action`: the three the function knows mostly, near misses, and non-strings. */
const accountActionArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('password', 'email', 'unlink') },
  { weight: 1, arbitrary: fc.constantFrom('Password', 'EMAIL', ' password', 'email ', '', 'delete', 'password,email', 'Unlink', 'unlink ', '__proto__', 'constructor', 'roles') },
  { weight: 1, arbitrary: fc.oneof(fc.constant(['password']), fc.integer(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 1 })) },
);

/** `current_password`: the right one mostly (the paths past bcrypt), look-alikes that must count as wrong, and what is no password at all. */
function currentPasswordArb(f: AccountChangeFixture): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant(f.password) },
    { weight: 3, arbitrary: fc.constantFrom('wrong password', `${f.password} `, ` ${f.password}`, f.password.toUpperCase(), f.password.slice(0, -1), GOOD_NEW_PASSWORD, 'é'.repeat(40), 'x'.repeat(1024)) },
    { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(1025), 'x'.repeat(20_000)) },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant([f.password]), fc.object({ maxDepth: 2 })) },
  );
}

/** The identity to unlink: the holder's mostly, in upper case too, another user's, unknown ids, near-UUIDs and non-strings. */
function identityIdArb(f: AccountChangeFixture): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(f.identityId) },
    { weight: 1, arbitrary: fc.constantFrom(f.identityId.toUpperCase(), ` ${f.identityId}`, `${f.identityId}x`, f.identityId.slice(0, -1), f.otherIdentityId, '00000000-0000-0000-0000-000000000000', '', 'x'.repeat(65), "' or 1=1 --") },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant([f.identityId]), fc.object({ maxDepth: 1 })) },
  );
}

/** The new address: new ones mostly, the account's own, another account's, invalid ones and non-strings. */
function newAddressArb(f: AccountChangeFixture): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: freshAddress(f.domain, 'moved') },
    { weight: 3, arbitrary: fc.constantFrom(...f.taken, ...f.taken.map((k) => k.toUpperCase()), ...f.taken.map((k) => ` ${k} `)) },
    { weight: 1, arbitrary: fc.constantFrom(f.ownEmail, f.ownEmail.toUpperCase(), ` ${f.ownEmail}\t`) },
    { weight: 2, arbitrary: fc.oneof(nastyString, fc.constantFrom('a@b', `@${f.domain}`, 'x@', `a@@${f.domain}`, `a b@${f.domain}`, `${'x'.repeat(250)}@${f.domain}`, `new\u0000@${f.domain}`, `\u202enew@${f.domain}`, `new@${f.domain}\r\n`, `moved\ud800@${f.domain}`)) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(freshAddress(f.domain, 'moved'), { minLength: 1, maxLength: 2 }), fc.object({ maxDepth: 2 })) },
  );
}

/**
 * The account page's two forms in one body: `action`, `current_password`, and the new
 * `password` (with `password_confirm`) or the new `email`, each field sometimes missing, and `next`.
 */
export function accountChangeBodyArb(f: AccountChangeFixture): fc.Arbitrary<BodyRecipe> {
  const confirmArb = fc.constantFrom('same', 'same', 'same', 'absent', 'absent', 'other', 'wrong-type');
  const toFields = ({ action, current, password, confirm, email, identity, next }: { action?: unknown; current?: unknown; password?: unknown; confirm: string; email?: unknown; identity?: unknown; next?: unknown }) => {
    const out: Record<string, unknown> = {};
    if (action !== undefined) out.action = action;
    if (identity !== undefined) out.identity = identity;
    if (current !== undefined) out.current_password = current;
    if (password !== undefined) out.password = password;
    if (password !== undefined && confirm === 'same') out.password_confirm = password;
    if (confirm === 'other') out.password_confirm = `${String(password)}x`;
    if (confirm === 'wrong-type') out.password_confirm = [password];
    if (email !== undefined) out.email = email;
    if (next !== undefined) out.next = next;
    return out;
  };
  // Mostly one of the page's two forms as it is sent, each field sometimes missing; else any mix.
  const passwordForm = fc.record({
    action: fc.constant('password'), current: fc.option(currentPasswordArb(f), { nil: undefined, freq: 12 }),
    password: fc.option(newPasswordArb, { nil: undefined, freq: 12 }), confirm: confirmArb, next: nextFieldArb,
  }, { requiredKeys: ['action', 'confirm'] });
  const emailForm = fc.record({
    action: fc.constant('email'), current: fc.option(currentPasswordArb(f), { nil: undefined, freq: 12 }),
    email: fc.option(newAddressArb(f), { nil: undefined, freq: 12 }), confirm: fc.constant('absent'), next: nextFieldArb,
  }, { requiredKeys: ['action', 'confirm'] });
  const unlinkForm = fc.record({
    action: fc.constant('unlink'), identity: fc.option(identityIdArb(f), { nil: undefined, freq: 12 }), confirm: fc.constant('absent'), next: nextFieldArb,
  }, { requiredKeys: ['action', 'confirm'] });
  const anyMix = fc.record({
    action: fc.option(accountActionArb, { nil: undefined, freq: 8 }),
    identity: fc.option(identityIdArb(f), { nil: undefined, freq: 2 }),
    current: fc.option(currentPasswordArb(f), { nil: undefined, freq: 6 }),
    password: fc.option(newPasswordArb, { nil: undefined, freq: 2 }),
    confirm: confirmArb,
    email: fc.option(newAddressArb(f), { nil: undefined, freq: 2 }),
    next: nextFieldArb,
  });
  const fields = fc.oneof(
    { weight: 5, arbitrary: passwordForm.map(toFields) },
    { weight: 5, arbitrary: emailForm.map(toFields) },
    { weight: 3, arbitrary: unlinkForm.map(toFields) },
    { weight: 3, arbitrary: anyMix.map(toFields) },
  );
  const formPair = fc.tuple(
    fc.constantFrom('action', 'current_password', 'password', 'password_confirm', 'email', 'identity', 'next', 'Action', 'action[]', 'current_password[]', 'identity[]', '__proto__', ''),
    fc.oneof(fc.constantFrom('password', 'email', 'unlink', f.identityId, f.password, GOOD_NEW_PASSWORD, 'short', f.ownEmail, ...f.taken), freshAddress(f.domain, 'moved'), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), hostileNext),
  );
  const duplicated = [
    `{"action":"password","action":"email","current_password":"${f.password}","email":"moved0@${f.domain}","password":"${GOOD_NEW_PASSWORD}"}`,
    `{"action":"email","email":"moved1@${f.domain}","email":"${f.taken[0]}","current_password":"${f.password}"}`,
    `{"action":"password","current_password":"wrong","current_password":"${f.password}","password":"${GOOD_NEW_PASSWORD}"}`,
    `{"__proto__":{"action":"password"},"current_password":"${f.password}","password":"${GOOD_NEW_PASSWORD}"}`,
  ];
  return accountBody(fields, formPair, duplicated);
}

/** A token or value spelled wrong in one of the ways `Mangle` names. */
export function mangle(value: string, how: Mangle): string {
  switch (how) {
    case 'none': return value;
    case 'truncate': return value.slice(0, Math.max(1, value.length - 1 - (value.length % 7)));
    case 'extend': return `${value}A`;
    case 'flip': {
      const i = Math.floor(value.length / 2);
      return `${value.slice(0, i)}${value[i] === 'A' ? 'B' : 'A'}${value.slice(i + 1)}`;
    }
    case 'upper': return value.toUpperCase();
    case 'quote': return `"${value}"`;
    case 'percent': return `%${value.charCodeAt(0).toString(16).toUpperCase()}${value.slice(1)}`;
    case 'space': return ` ${value} `;
  }
}

/** The AuthError code a validation throws, or undefined when it passes. */
export function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof AuthError) return error.code;
    throw error;
  }
}
