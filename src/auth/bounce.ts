import { AuthError } from '../core/auth-errors.js';
import { safeNextPath } from '../core/next-path.js';
import { clearedCookies } from '../http/cookies.js';
import { nextFromBouncePath, requiredRolesFor } from '../gates/table.js';
import { cookiePolicy, type AuthDeps } from './deps.js';
import { refresh } from './refresh.js';

export interface BounceRequest {
  /** The request path, percent-encoded as sent (`/.netlify/functions/refresh/admin/x`). */
  path: string;
  /** The visitor's original query string, which Netlify forwards to the bounce target. */
  rawQuery: string;
  /** `?next=` when the bounce is called the old way, e.g. from a link. */
  nextParameter?: string;
  cookies: Record<string, string>;
  userAgent?: string;
}

function decodedPath(path: string): string {
  const pathOnly = path.split('?')[0] ?? '/';
  try {
    return decodeURIComponent(pathOnly);
  } catch {
    return pathOnly;
  }
}

/** Where the bounce should send the visitor back to: the gated path plus its original query. */
export function bounceNext(deps: Pick<AuthDeps, 'gates'>, request: Pick<BounceRequest, 'path' | 'rawQuery' | 'nextParameter'>): string {
  const fromPath = nextFromBouncePath(deps.gates, request.path);
  const candidate = fromPath !== null ? (request.rawQuery ? `${fromPath}?${request.rawQuery}` : fromPath) : request.nextParameter;
  return safeNextPath(candidate, '/');
}

/**
 * The login page with `next`, where a visitor without a session is sent. Shared with the edge
 * gate (src/edge/gate.ts), so both modes send visitors to the same address.
 */
export function loginLocation(gates: Pick<AuthDeps['gates'], 'loginPage'>, next: string, code?: AuthError['code']): string {
  return `${gates.loginPage}?next=${encodeURIComponent(next)}${code === 'refresh_token_reused' ? '&error=session_expired' : ''}`;
}

/**
 * The gate's fallback lands here. Refresh the session and go back; or, when
 * even the fresh token lacks the role that the gate for `next` requires, go to
 * the forbidden page (so the visitor is never bounced in a loop); or, without
 * a session, go to the login page with `next`. Error paths delete the
 * cookies: a stale or malformed `nf_jwt` left behind would make Netlify
 * answer 400 for every gated page.
 */
export async function bounce(deps: AuthDeps, request: BounceRequest): Promise<{ location: string; cookies: string[] }> {
  const next = bounceNext(deps, request);
  try {
    const refreshed = await refresh(deps, request.cookies, { userAgent: request.userAgent });
    const required = requiredRolesFor(deps.gates, decodedPath(next));
    if (required && !required.some((role) => refreshed.user.roles.includes(role))) {
      return { location: deps.gates.forbiddenPage, cookies: refreshed.cookies };
    }
    return { location: next, cookies: refreshed.cookies };
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    return { location: loginLocation(deps.gates, next, error.code), cookies: clearedCookies(cookiePolicy(deps)) };
  }
}
