/**
 * Every cookie rolegate reads or writes, in one place, and the only module
 * that imports `cookie`.
 */
import { parseCookie, stringifySetCookie, type SerializeOptions } from 'cookie';

export const ACCESS_COOKIE = 'nf_jwt';
export const SESSION_COOKIE = 'rolegate_session';
const REFRESH_COOKIE_HOST = '__Host-rolegate_refresh';
const REFRESH_COOKIE_SECURE = '__Secure-rolegate_refresh';
const FINGERPRINT_COOKIE_HOST = '__Host-rolegate_fp';
const FINGERPRINT_COOKIE_SECURE = '__Secure-rolegate_fp';
/** Where the refresh cookie goes when it is shared across subdomains: only the functions, never pages. */
export const FUNCTIONS_PATH = '/.netlify/functions';

export interface CookiePolicy {
  /** COOKIE_DOMAIN: share the session with every subdomain of it. */
  domain?: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  /**
   * The friendly auth paths (`/auth/refresh`, `/auth/logout`, …) rewritten to
   * the functions. A browser sends a cookie by the path it requested, not the
   * function it reached, so a path-limited refresh cookie must name them too.
   */
  friendlyPaths?: readonly string[];
}

export interface SessionInfo {
  email: string;
  roles: string[];
  exp: number;
}

/**
 * The refresh cookie's name and the paths it is set on. Without a Domain it
 * is `__Host-` (the browser then guarantees Secure, Path=/ and no Domain, so
 * no sibling subdomain can plant or overwrite it). With COOKIE_DOMAIN it must
 * be `__Secure-` and is path-limited, so the pages of every subdomain never
 * receive it: one cookie of the same name and value per path, for
 * /.netlify/functions and for each friendly auth path (RFC 6265bis §5.1.4
 * path-match is by the requested path, and a cookie has one Path).
 */
export function refreshCookie(policy: Pick<CookiePolicy, 'domain' | 'friendlyPaths'>): { name: string; paths: string[] } {
  if (!policy.domain) return { name: REFRESH_COOKIE_HOST, paths: ['/'] };
  const friendly = (policy.friendlyPaths ?? []).filter((p) => p !== FUNCTIONS_PATH && !p.startsWith(`${FUNCTIONS_PATH}/`));
  return { name: REFRESH_COOKIE_SECURE, paths: [...new Set([FUNCTIONS_PATH, ...friendly])] };
}

function serialize(name: string, value: string, options: SerializeOptions): string {
  return stringifySetCookie({ name, value, ...options });
}

function base(policy: CookiePolicy, path = '/'): SerializeOptions {
  // Secure always: browsers treat http://localhost as a secure context and
  // accept Secure and prefixed cookies there (measured with Chromium), so
  // local development needs no weaker setting.
  return { secure: true, path, sameSite: 'lax', ...(policy.domain ? { domain: policy.domain } : {}) };
}

export interface IssuedCookies {
  accessToken: string;
  refreshToken: string;
  session: SessionInfo;
  /** Set when token fingerprinting is on. */
  fingerprint?: string;
}

/** The fingerprint cookie's name: `__Host-` unless shared across subdomains. */
export function fingerprintCookieName(policy: Pick<CookiePolicy, 'domain'>): string {
  return policy.domain ? FINGERPRINT_COOKIE_SECURE : FINGERPRINT_COOKIE_HOST;
}

/** Set-Cookie values after a login or refresh. */
export function sessionCookies(policy: CookiePolicy, issued: IssuedCookies): string[] {
  const refresh = refreshCookie(policy);
  const fingerprint = issued.fingerprint === undefined ? [] : [
    serialize(fingerprintCookieName(policy), issued.fingerprint, { ...base(policy), httpOnly: true, maxAge: policy.refreshTtlSeconds }),
  ];
  return [
    ...fingerprint,
    serialize(ACCESS_COOKIE, issued.accessToken, { ...base(policy), httpOnly: true, maxAge: policy.accessTtlSeconds }),
    ...refresh.paths.map((path) => serialize(refresh.name, issued.refreshToken, { ...base(policy, path), httpOnly: true, maxAge: policy.refreshTtlSeconds })),
    // Readable on purpose (no HttpOnly): UIs show who is signed in. It carries no
    // signature and decides nothing; the edge and functions read only nf_jwt.
    serialize(SESSION_COOKIE, JSON.stringify(issued.session), { ...base(policy), maxAge: policy.refreshTtlSeconds }),
  ];
}

/**
 * Set-Cookie values for a client that keeps its own refresh token (the Identity API's
 * `X-Use-Cookie`): the access token and the readable session hint only, so gated paths open,
 * while the refresh token stays with the one client that rotates it. `persistent: false` (Identity's
 * `X-Use-Cookie: session`) makes them end with the browser session.
 */
export function accessOnlyCookies(policy: CookiePolicy, accessToken: string, session: SessionInfo, persistent: boolean): string[] {
  const lifetime = (maxAge: number) => (persistent ? { maxAge } : {});
  return [
    serialize(ACCESS_COOKIE, accessToken, { ...base(policy), httpOnly: true, ...lifetime(policy.accessTtlSeconds) }),
    serialize(SESSION_COOKIE, JSON.stringify(session), { ...base(policy), ...lifetime(policy.accessTtlSeconds) }),
  ];
}

/**
 * Set-Cookie values that delete every cookie rolegate sets, with the same
 * Domain and Path they were set with (a deletion with other attributes would
 * leave the original in place). Both refresh-cookie variants go, in case
 * COOKIE_DOMAIN changed since the cookie was set.
 */
export function clearedCookies(policy: Pick<CookiePolicy, 'domain' | 'friendlyPaths'>): string[] {
  const full = { ...policy, accessTtlSeconds: 0, refreshTtlSeconds: 0 };
  const gone = { maxAge: 0, expires: new Date(0) };
  const out = [
    serialize(ACCESS_COOKIE, '', { ...base(full), httpOnly: true, ...gone }),
    serialize(SESSION_COOKIE, '', { ...base(full), ...gone }),
    serialize(REFRESH_COOKIE_HOST, '', { secure: true, path: '/', sameSite: 'lax', httpOnly: true, ...gone }),
    serialize(FINGERPRINT_COOKIE_HOST, '', { secure: true, path: '/', sameSite: 'lax', httpOnly: true, ...gone }),
  ];
  if (policy.domain) {
    for (const path of refreshCookie(policy).paths) {
      out.push(serialize(REFRESH_COOKIE_SECURE, '', { ...base(full, path), httpOnly: true, ...gone }));
    }
    out.push(serialize(FINGERPRINT_COOKIE_SECURE, '', { ...base(full), httpOnly: true, ...gone }));
  }
  return out;
}

/** Parses a Cookie header. For a name sent twice, the first value counts (as most servers do). */
export function readCookies(header: string | undefined): Record<string, string> {
  if (!header) return {};
  try {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(parseCookie(header))) if (value !== undefined) out[name] = value;
    return out;
  } catch {
    return {};
  }
}

/**
 * The refresh token, read only under the name the current policy writes.
 * Without COOKIE_DOMAIN a `__Secure-` cookie can only have been planted by a
 * sibling subdomain (Domain=<parent>), so it is never honoured: it would sign
 * the visitor into someone else's session.
 */
export function readRefreshToken(cookies: Record<string, string>, policy: Pick<CookiePolicy, 'domain'>): string | undefined {
  return cookies[refreshCookie(policy).name];
}

/** Carries a mailed link's token from the link to the form that uses it, so the token leaves the URL at once. */
export const LINK_COOKIE = 'rolegate_link';

/**
 * The link cookie on each of the verify function's paths: HttpOnly, and SameSite=Strict
 * because only the site's own form posts it back. Without `token`, its deletion.
 */
export function linkCookies(paths: readonly string[], token?: string, maxAgeSeconds = 0): string[] {
  const gone = token === undefined ? { maxAge: 0, expires: new Date(0) } : { maxAge: maxAgeSeconds };
  return paths.map((path) => serialize(LINK_COOKIE, token ?? '', { secure: true, path, sameSite: 'strict', httpOnly: true, ...gone }));
}

const PROVIDER_STATE_COOKIE_HOST = '__Host-rolegate_provider';
const PROVIDER_STATE_COOKIE_SECURE = '__Secure-rolegate_provider';

/**
 * The sealed state of a provider sign-in (src/core/provider-state.ts), from its start to the
 * provider's callback. HttpOnly and SameSite=Lax: the callback is a top-level GET from the
 * provider's site, which Lax lets through and Strict would not. `__Host-` without COOKIE_DOMAIN,
 * so no sibling subdomain can plant one (login CSRF); with it, `__Secure-` on that domain and
 * the provider paths only, so a sign-in started on one subdomain can come back to another.
 * `value` undefined deletes it.
 */
export function providerStateCookie(policy: Pick<CookiePolicy, 'domain'>, providerPath: string, value?: string, maxAgeSeconds = 0): string {
  const gone = value === undefined ? { maxAge: 0, expires: new Date(0) } : { maxAge: maxAgeSeconds };
  if (!policy.domain) return serialize(PROVIDER_STATE_COOKIE_HOST, value ?? '', { secure: true, path: '/', sameSite: 'lax', httpOnly: true, ...gone });
  return serialize(PROVIDER_STATE_COOKIE_SECURE, value ?? '', { secure: true, path: providerPath, domain: policy.domain, sameSite: 'lax', httpOnly: true, ...gone });
}

/** The provider sign-in state cookie's value, by the name this policy gives it. */
export function readProviderStateCookie(cookies: Record<string, string>, policy: Pick<CookiePolicy, 'domain'>): string | undefined {
  return cookies[policy.domain ? PROVIDER_STATE_COOKIE_SECURE : PROVIDER_STATE_COOKIE_HOST];
}
