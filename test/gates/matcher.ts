import { createRequire } from 'node:module';
import { SignJWT } from 'jose';
import { DEFAULT_ROLE_CLAIM_PATH, nowSeconds, signAccessToken } from '../../src/core/access-token.js';
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
  | 'missing-typ';

export const TOKEN_KINDS: readonly TokenKind[] = ['none', 'valid-with-role', 'valid-without-role', 'expired', 'other-secret', 'wrong-claim-path', 'missing-typ'];

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
      return (await signAccessToken({ ...base, secret, now })).token;
    case 'expired':
      return (await signAccessToken({ ...base, secret, now: now - 3600 })).token;
    case 'other-secret':
      return (await signAccessToken({ ...base, secret: new Secret(OTHER_SECRET), now })).token;
    case 'wrong-claim-path':
      // Roles where other providers put them, not where the edge looks.
      return new SignJWT({ email: 'ada@example.com', roles: [...roles], app_metadata: { roles: [...roles] } })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject('user-1')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(secret.bytes());
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
