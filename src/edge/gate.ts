/**
 * The edge gate: rolegate's gates as a Netlify Edge Function, for sites whose plan does not
 * check the site's own JWT secret in `_redirects` (see README, "Choosing a gate mode").
 *
 * Same table, same rules, same answers as redirects mode (test/gates/edge-truth-table.test.ts
 * runs the shared truth table through both): the gate table decides which paths are gated,
 * `verifyAccessToken` decides whether `nf_jwt` is good, and a visitor who does not pass is
 * sent to the refresh function's bounce with the same address the `_redirects` fallback uses.
 * The one difference: when the refresh cookie is readable here and the users live in Supabase
 * (reachable over HTTP; edge code cannot open a Postgres socket), the refresh runs inline —
 * the same `refresh` use case as the function — and the page is served in the same response
 * with the new cookies.
 */
import { AccessTokenError, rolesAtClaimPath, verifyAccessToken } from '../core/access-token.js';
import { AuthError } from '../core/auth-errors.js';
import { verificationSecrets } from '../core/environment.js';
import { fingerprintMatches } from '../core/fingerprint.js';
import { safeNextPath } from '../core/next-path.js';
import { judgeablePath, servedPath } from '../core/request-path.js';
import { ACCESS_COOKIE, clearedCookies, fingerprintCookieName, readCookies, readRefreshToken } from '../http/cookies.js';
import { loginLocation } from '../auth/bounce.js';
import { cookiePolicy, type AuthDeps } from '../auth/deps.js';
import { refresh, type RefreshResult } from '../auth/refresh.js';
import { bounceNextFor, matchingRule, type GateTable, type GateTableRule } from '../gates/table.js';
import { loadEdgeRuntime, type EdgeRuntime, type EdgeRuntimeOptions } from './runtime.js';

/**
 * The part of Netlify's edge `Context` the gate uses
 * (https://docs.netlify.com/edge-functions/api/#netlify-specific-context-object):
 * `next()` continues to the static file (or the next function) and resolves to its response.
 */
export interface EdgeContext {
  next(request?: Request): Promise<Response>;
}

export type EdgeHandler = (request: Request, context: EdgeContext) => Promise<Response>;

export interface EdgeGateOptions extends EdgeRuntimeOptions {
  /** The compiled gate table (`compileGates(config).table`), embedded in the generated function. */
  table: GateTable;
}

type RolesRule = Extract<GateTableRule, { access: 'roles' }>;

/** The answer to a path no browser sends: 400, never cached (the same path may be fixed later). */
function badPath(): Response {
  return new Response('Bad Request: malformed path\n', { status: 400, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' } });
}

/** A decoded path made fit for a Location header again (`?`, `#` and `%` stay part of the path). */
function encodedPath(path: string): string {
  return encodeURI(path).replace(/[?#]/g, (char) => encodeURIComponent(char));
}

function redirect(location: string, cookies: readonly string[] = []): Response {
  // 302, as the `_redirects` fallback answers; no-store, as every auth response.
  const headers = new Headers({ Location: location, 'Cache-Control': 'no-store' });
  for (const cookie of cookies) headers.append('Set-Cookie', cookie);
  return new Response(null, { status: 302, headers });
}

/** The page itself, carrying the cookies of an inline refresh. */
function withCookies(page: Response, cookies: readonly string[]): Response {
  const response = new Response(page.body, page);
  for (const cookie of cookies) response.headers.append('Set-Cookie', cookie);
  // A response that sets a session must never be stored by a shared cache and replayed.
  response.headers.set('Cache-Control', 'private, no-store');
  return response;
}

/**
 * The request passed on to the page, carrying the cookies just issued instead of the stale
 * ones, so that whatever serves a gated path (a function behind a rewrite, say, using
 * `requireRole`) sees the fresh access token rather than the expired one.
 */
function withRequestCookies(request: Request, sent: Record<string, string>, setCookies: readonly string[]): Request {
  const cookies = { ...sent };
  for (const setCookie of setCookies) {
    const pair = setCookie.split(';', 1)[0] ?? '';
    const at = pair.indexOf('=');
    if (at > 0) cookies[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const headers = new Headers(request.headers);
  headers.set('cookie', Object.entries(cookies).map(([name, value]) => `${name}=${value}`).join('; '));
  return new Request(request, { headers });
}

/** The roles of a usable `nf_jwt`, or [] for a missing, expired, forged or unbound token. */
async function tokenRoles(runtime: EdgeRuntime, table: GateTable, cookies: Record<string, string>): Promise<string[]> {
  const { auth } = runtime;
  const token = cookies[ACCESS_COOKIE];
  if (!auth || !token) return [];
  try {
    const claims = await verifyAccessToken(token, { secrets: verificationSecrets(auth), issuer: auth.jwtIssuer, now: runtime.now() });
    // The edge can check what `_redirects` cannot: the token's fingerprint cookie.
    if (!fingerprintMatches(auth.tokenFingerprint, cookies[fingerprintCookieName({ domain: auth.cookieDomain })], claims)) return [];
    return rolesAtClaimPath(claims, table.roleClaimPath);
  } catch (error) {
    if (error instanceof AccessTokenError) return [];
    throw error;
  }
}

/**
 * Refresh in place: serve the page with the new cookies, or send the visitor on exactly as the
 * bounce would (forbidden page when the fresh token still lacks the role, login page otherwise).
 * Returns null when the store could not answer, so the caller falls back to the bounce.
 */
async function refreshInline(deps: AuthDeps, rule: RolesRule, request: Request, context: EdgeContext, cookies: Record<string, string>, next: string): Promise<Response | null> {
  let refreshed: RefreshResult;
  try {
    refreshed = await refresh(deps, cookies, { userAgent: request.headers.get('user-agent') ?? undefined });
  } catch (error) {
    if (error instanceof AuthError && (error.code === 'session_expired' || error.code === 'refresh_token_reused')) {
      return redirect(loginLocation(deps.gates, next, error.code), clearedCookies(cookiePolicy(deps)));
    }
    // The database is unreachable from here (or answered something unexpected): the refresh
    // function may still reach it, and a rotation that did commit is answered again there
    // within the grace interval, so bouncing is safe.
    console.error(`rolegate edge gate: inline refresh failed, bouncing instead: ${(error as Error).name}: ${(error as Error).message}`);
    return null;
  }
  if (!rule.roles.some((role) => refreshed.user.roles.includes(role))) return redirect(deps.gates.forbiddenPage, refreshed.cookies);
  // Outside the try: a failure to serve the page is not a failed refresh, and must not be
  // answered with a bounce that drops the cookies just issued.
  return withCookies(await context.next(withRequestCookies(request, cookies, refreshed.cookies)), refreshed.cookies);
}

/**
 * Builds the edge function's handler.
 *
 * @example
 * export default createEdgeGate({ table, env: () => Netlify.env.toObject() });
 */
export function createEdgeGate(options: EdgeGateOptions): EdgeHandler {
  const { table } = options;
  let runtime: EdgeRuntime | undefined;
  return async (request, context) => {
    const url = new URL(request.url);
    const sentPath = judgeablePath(url.pathname);
    if (sentPath === null) return badPath();
    const path = servedPath(sentPath);
    const rule = matchingRule(table, path);
    if (!rule || rule.access !== 'roles') return context.next();

    runtime ??= loadEdgeRuntime(options, table);
    const cookies = readCookies(request.headers.get('cookie') ?? undefined);
    const roles = await tokenRoles(runtime, table, cookies);
    if (rule.roles.some((role) => roles.includes(role))) return context.next();

    // The address the `_redirects` fallback would send this visitor to: the original path
    // rides in the refresh function's path, the visitor's query string after it.
    const bouncePath = encodedPath(bounceNextFor(rule.from, path));
    const bounce = redirect(`${table.refreshFunction}${bouncePath}${url.search}`);
    const { deps, auth } = runtime;
    // With COOKIE_DOMAIN the refresh cookie is path-limited to the auth functions and never
    // reaches a page, so only the bounce can use it.
    if (!deps || !auth || !readRefreshToken(cookies, { domain: auth.cookieDomain })) return bounce;
    const next = safeNextPath(`${bouncePath}${url.search}`, '/');
    return (await refreshInline(deps, rule, request, context, cookies, next)) ?? bounce;
  };
}
