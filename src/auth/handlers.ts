/**
 * The three auth endpoints as Lambda-style handlers: parse the event, call one
 * use case, format the answer. netlify/functions/*.ts only wire these to the
 * environment; tests build them with their own dependencies.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { safeNextPath } from '../core/next-path.js';
import { clearedCookies } from '../http/cookies.js';
import { clientIp, cookiesOf, header, parseBody, requireMethod, requireSameOrigin, wantsRedirects } from '../http/request.js';
import { errorPage, errorResponse, json, redirect, retryAfterHeader, toAuthError } from '../http/respond.js';
import { bounce } from './bounce.js';
import { cookiePolicy, type AuthDeps } from './deps.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { refresh } from './refresh.js';

export type GetDeps = () => Promise<AuthDeps>;
type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

/** The `next` of the login page the form was posted from, for a form sent with scripts off. */
function nextFromReferer(event: HandlerEvent, deps: AuthDeps): string | undefined {
  const referer = header(event, 'referer');
  if (!referer || !URL.canParse(referer)) return undefined;
  const url = new URL(referer);
  if (!deps.config.allowedOrigins.includes(url.origin) || url.pathname.replace(/\.html$/, '') !== deps.gates.loginPage) return undefined;
  return url.searchParams.get('next') ?? undefined;
}

/** POST email + password (JSON or an HTML form) → session cookies. */
export function loginHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    try {
      requireMethod(event, ['POST']);
      const deps = await getDeps();
      requireSameOrigin(event, deps.config.allowedOrigins);
      const body = parseBody(event);
      const form = wantsRedirects(event, body);
      const next = safeNextPath(body.fields.next || nextFromReferer(event, deps), '/');
      try {
        const result = await login(deps, { fields: body.fields, ip: clientIp(event), userAgent: header(event, 'user-agent') });
        if (form) return redirect(next, result.cookies);
        return json(200, { user: result.user, expires_at: result.expiresAt }, result.cookies);
      } catch (error) {
        const authError = toAuthError(error);
        if (!form || authError.code === 'unavailable' || authError.code === 'internal') throw authError;
        return redirect(`${deps.gates.loginPage}?error=${authError.code}&next=${encodeURIComponent(next)}`, [], retryAfterHeader(authError));
      }
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/**
 * GET: the gate's bounce (`/.netlify/functions/refresh/<gated path>`), always
 * answering 303. POST: the API refresh for scripts, answering JSON.
 */
export function refreshHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    let clear: string[] = [];
    try {
      requireMethod(event, ['GET', 'POST']);
      const deps = await getDeps();
      clear = clearedCookies(cookiePolicy(deps));
      const cookies = cookiesOf(event);
      if (event.httpMethod === 'GET') {
        const path = event.rawUrl && URL.canParse(event.rawUrl) ? new URL(event.rawUrl).pathname : event.path;
        const { location, cookies: setCookies } = await bounce(deps, {
          path,
          rawQuery: event.rawQuery ?? '',
          nextParameter: event.queryStringParameters?.next ?? undefined,
          cookies,
          userAgent: header(event, 'user-agent'),
        });
        return redirect(location, setCookies);
      }
      requireSameOrigin(event, deps.config.allowedOrigins);
      const result = await refresh(deps, cookies, { userAgent: header(event, 'user-agent') });
      const user = { id: result.user.id, email: result.user.email, roles: result.user.roles };
      return json(200, { user, expires_at: result.expiresAt }, result.cookies);
    } catch (error) {
      const authError = toAuthError(error);
      const endsSession = authError.code === 'session_expired' || authError.code === 'refresh_token_reused';
      // A browser sent here by the gate gets a page it can read and retry from.
      const navigating = event.httpMethod === 'GET' && (header(event, 'accept') ?? '').includes('text/html');
      if (navigating && !endsSession && (authError.code === 'unavailable' || authError.code === 'internal')) {
        const here = event.rawUrl && URL.canParse(event.rawUrl) ? new URL(event.rawUrl) : undefined;
        return errorPage(authError, here ? `${here.pathname}${here.search}` : event.path);
      }
      return errorResponse(authError, endsSession ? clear : []);
    }
  };
}

/** POST → ends this session (`scope=local`) or all of the user's (`scope=global`); always clears the cookies. */
export function logoutHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    let clear: string[] = [];
    try {
      requireMethod(event, ['POST']);
      const deps = await getDeps();
      // Origin first: a refused cross-site post must not clear the visitor's
      // cookies either, or any site could sign people out (logout CSRF).
      requireSameOrigin(event, deps.config.allowedOrigins);
      clear = clearedCookies(cookiePolicy(deps));
      const body = parseBody(event, { allowEmpty: true });
      const scope = body.fields.scope ?? 'local';
      if (scope !== 'local' && scope !== 'global') throw new AuthError('bad_request', { message: 'scope must be "local" or "global".' });
      await logout(deps, cookiesOf(event), scope, clientIp(event));
      if (wantsRedirects(event, body)) return redirect(safeNextPath(body.fields.next, '/'), clear);
      return json(200, { ok: true, scope }, clear);
    } catch (error) {
      return errorResponse(error, clear);
    }
  };
}
