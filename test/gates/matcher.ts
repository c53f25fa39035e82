import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { SignJWT } from 'jose';
import { DEFAULT_ROLE_CLAIM_PATH, nowSeconds, signAccessTokenWithJose } from '../../src/core/access-token.js';
import { Secret } from '../../src/core/secret.js';

/**
 * Netlify's own matcher (netlify-redirector 0.5, the engine of `netlify dev`) and tokens minted
 * the way an honest server, a careless one and an attacker would mint them.
 */

export interface MatchRequest {
  scheme: string;
  host: string;
  path: string;
  query: string;
  getHeader(name: string): string;
  getCookie(name: string): string;
}

export interface MatchResult {
  from: string;
  to: string;
  status: number;
  force: boolean;
  negative: boolean;
  conditions: Record<string, string>;
  exceptions: Record<string, string>;
}

export interface Matcher {
  match(request: MatchRequest): MatchResult | { force404: true } | null;
}

const require = createRequire(import.meta.url);
const redirector = require('netlify-redirector') as {
  parsePlain(rules: string, options: { jwtSecret: string; jwtRoleClaim: string }): Promise<Matcher>;
};

export const SITE_SECRET = 'dev-only-site-secret-for-gate-tests-0123456789';
export const OTHER_SECRET = 'someone-elses-secret-0123456789-0123456789';

export function loadMatcher(redirectsText: string, options: { jwtSecret?: string; jwtRoleClaim?: string } = {}): Promise<Matcher> {
  return redirector.parsePlain(redirectsText, {
    jwtSecret: options.jwtSecret ?? SITE_SECRET,
    jwtRoleClaim: options.jwtRoleClaim ?? DEFAULT_ROLE_CLAIM_PATH,
  });
}

/**
 * The request netlify-cli hands the matcher for a request target as sent on the wire. Its rules
 * proxy (node_modules/netlify-cli/dist/utils/rules-proxy.js) reads the target with
 * `new URL(target, base)` and passes the host and the decoded path: so `//admin/x` (or `/\\admin/x`)
 * becomes host `admin`, path `/x`, and dot segments are resolved first (`/.//admin/` → `//admin/`).
 */
export function matchRequestAsSent(target: string, options: { query?: string; nfJwt?: string } = {}): MatchRequest {
  const url = new URL(target, 'https://site.example');
  return { ...matchRequest(decodeURIComponent(url.pathname), options), scheme: url.protocol.slice(0, -1), host: url.hostname };
}

/** A request as netlify-cli hands it to the matcher: decoded path, raw query, cookies by name. */
export function matchRequest(path: string, options: { query?: string; nfJwt?: string } = {}): MatchRequest {
  return {
    scheme: 'https',
    host: 'site.example',
    path,
    query: options.query ?? '',
    getHeader: () => '',
    getCookie: (name) => (name === 'nf_jwt' ? (options.nfJwt ?? '') : ''),
  };
}

export type TokenKind =
  | 'none'
  | 'valid-with-role'
  | 'valid-without-role'
  | 'expired'
  | 'other-secret'
  | 'wrong-claim-path'
  | 'missing-typ'
  | UnsignedTokenKind
  | 'alg-hs256-lower-case'
  | 'alg-HS256-trailing-space'
  | 'alg-missing'
  | 'array-payload';

/** A valid token's claims under header `{"alg": <alg>, "typ": "JWT"}` and an empty signature. */
export type UnsignedTokenKind = 'alg-none' | 'alg-None' | 'alg-NONE';
export const UNSIGNED_TOKEN_KINDS: readonly UnsignedTokenKind[] = ['alg-none', 'alg-None', 'alg-NONE'];

/**
 * Forgeries and odd headers: an unsigned token (no secret needed), a token signed with the right
 * secret under a non-standard `alg` spelling or none, and a payload that is a JSON array.
 */
export const ODD_TOKEN_KINDS: readonly TokenKind[] = [...UNSIGNED_TOKEN_KINDS, 'alg-hs256-lower-case', 'alg-HS256-trailing-space', 'alg-missing', 'array-payload'];

export const TOKEN_KINDS: readonly TokenKind[] = ['none', 'valid-with-role', 'valid-without-role', 'expired', 'other-secret', 'wrong-claim-path', 'missing-typ', ...ODD_TOKEN_KINDS];

/** The literal token from the outside probe: header `{"alg":"HS256","typ":"JWT"}`, payload `[1,2,3]`. */
export const ARRAY_PAYLOAD_TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WzEsMiwzXQ.AAAA';

const base64url = (text: string) => Buffer.from(text).toString('base64url');

/** A valid token's payload under another header, signed with `secret` (or unsigned: empty signature). */
function reheader(validToken: string, header: Record<string, string>, secret?: Secret): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${validToken.split('.')[1]}`;
  const signature = secret ? createHmac('sha256', secret.bytes()).update(signingInput).digest('base64url') : '';
  return `${signingInput}.${signature}`;
}

const subject = (roles: readonly string[]) => ({ id: 'user-1', email: 'ada@example.com', roles });

/**
 * The `nf_jwt` cookie value for `kind`, carrying `roles` (for `valid-without-role`, pass the roles
 * the visitor does have). Returns '' for `none`. Real clock: the WASM matcher reads the real time.
 */
export async function mintToken(kind: TokenKind, roles: readonly string[]): Promise<string> {
  const now = nowSeconds();
  const secret = new Secret(SITE_SECRET);
  const base = { subject: subject(roles), sessionId: 'session-1', issuer: 'rolegate', ttlSeconds: 600 };
  switch (kind) {
    case 'none':
      return '';
    case 'valid-with-role':
    case 'valid-without-role':
      return (await signAccessTokenWithJose({ ...base, secret, now })).token;
    case 'expired':
      return (await signAccessTokenWithJose({ ...base, secret, now: now - 3600 })).token;
    case 'other-secret':
      return (await signAccessTokenWithJose({ ...base, secret: new Secret(OTHER_SECRET), now })).token;
    case 'wrong-claim-path':
      // Roles where other providers put them, not where the edge looks.
      return new SignJWT({ email: 'ada@example.com', roles: [...roles], app_metadata: { roles: [...roles] } })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject('user-1')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(secret.bytes());
    case 'alg-none':
    case 'alg-None':
    case 'alg-NONE': {
      const { token } = await signAccessTokenWithJose({ ...base, secret, now });
      return reheader(token, { alg: kind.slice('alg-'.length), typ: 'JWT' });
    }
    case 'alg-hs256-lower-case':
      return reheader((await signAccessTokenWithJose({ ...base, secret, now })).token, { alg: 'hs256', typ: 'JWT' }, secret);
    case 'alg-HS256-trailing-space':
      return reheader((await signAccessTokenWithJose({ ...base, secret, now })).token, { alg: 'HS256 ', typ: 'JWT' }, secret);
    case 'alg-missing':
      return reheader((await signAccessTokenWithJose({ ...base, secret, now })).token, { typ: 'JWT' }, secret);
    case 'array-payload':
      return ARRAY_PAYLOAD_TOKEN;
    case 'missing-typ':
      return new SignJWT({ email: 'ada@example.com', app_metadata: { authorization: { roles: [...roles] } } })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('user-1')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(secret.bytes());
  }
}

export type EdgeVerdict = 'allow' | 'bounce' | 'public';

/**
 * What the visitor gets, read off the matcher's answer: `allow` is the `200! Role=` rule,
 * `bounce` the forced 302 to the refresh function, `public` anything else that lets the static
 * file or rewrite through (no rule, a public exception, an auth path rewrite).
 */
export function edgeVerdict(match: ReturnType<Matcher['match']>, refreshFunction = '/.netlify/functions/refresh'): EdgeVerdict {
  if (match === null) return 'public';
  if ('force404' in match) throw new Error('matcher answered force404');
  if (match.status === 200 && match.conditions.JWT && !match.negative) return 'allow';
  if (match.status === 302 && match.force && match.to.startsWith(`${refreshFunction}/`)) return 'bounce';
  if (match.status === 200 && !match.conditions.JWT) return 'public';
  throw new Error(`unexpected match ${JSON.stringify(match)}`);
}
