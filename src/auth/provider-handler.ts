/**
 * The provider function: `GET /auth/provider/<id>` starts signing in with that provider and
 * `GET /auth/provider/<id>/callback` is where the provider sends the browser back. Both are
 * navigations, so every failure is a page to read (with the state cookie cleared), never JSON.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { safeNextPath } from '../core/next-path.js';
import { clientIp, cookiesOf, header, requireMethod } from '../http/request.js';
import { redirect, signInErrorPage, toAuthError } from '../http/respond.js';
import type { ProviderClients } from '../providers/from-env.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import { PROVIDER_FUNCTION, PROVIDER_PATH } from '../site-config/provider-settings.js';
import type { AuthDeps } from './deps.js';
import type { GetDeps } from './handlers.js';
import { clearedProviderState, finishProviderSignIn, startProviderSignIn } from './provider-sign-in.js';

type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

/** The URL as the browser asked for it (Netlify's rawUrl), or one made of the path and query. */
function requestUrl(event: HandlerEvent, deps: AuthDeps): URL {
  if (event.rawUrl && URL.canParse(event.rawUrl)) return new URL(event.rawUrl);
  const query = event.rawQuery ? `?${event.rawQuery}` : '';
  return new URL(`${event.path}${query}`, deps.config.siteUrl);
}

/** `[id, "callback"?]` from either path the function answers on, or undefined for any other shape. */
function routeOf(pathname: string): { id: string; callback: boolean } | undefined {
  for (const prefix of [PROVIDER_PATH, PROVIDER_FUNCTION]) {
    if (!pathname.startsWith(`${prefix}/`)) continue;
    const parts = pathname.slice(prefix.length + 1).replace(/\/+$/u, '').split('/');
    if (parts.length === 1 && parts[0]) return { id: parts[0], callback: false };
    if (parts.length === 2 && parts[0] && parts[1] === 'callback') return { id: parts[0], callback: true };
  }
  return undefined;
}

/** Where the provider sends the browser back: this origin when it is one of the site's, so the state cookie is there; else the site's URL. */
function originOf(url: URL, deps: AuthDeps): string {
  return deps.config.allowedOrigins.includes(url.origin) ? url.origin : deps.config.siteUrl.origin;
}

/** The `next` of the sign-in page the button was on (a form sent with scripts off carries none of its own). */
function nextFromReferer(event: HandlerEvent, deps: AuthDeps): string | undefined {
  const referer = header(event, 'referer');
  if (!referer || !URL.canParse(referer)) return undefined;
  const url = new URL(referer);
  if (!deps.config.allowedOrigins.includes(url.origin) || url.pathname.replace(/\.html$/u, '') !== deps.gates.loginPage) return undefined;
  return url.searchParams.get('next') ?? undefined;
}

/**
 * Where the sign-in returns and how: `?next=` (or the sign-in page's own, with scripts off) and
 * cookies; or, with `?identity=1` (the Identity API's `/authorize`, only while it is on), the
 * Identity API's link page with the tokens in the fragment, as Identity's clients expect.
 */
function startOf(event: HandlerEvent, url: URL, deps: AuthDeps): { next: string; deliver: 'cookies' | 'fragment' } {
  if (url.searchParams.get('identity') === '1') {
    const identityApi = (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).identityApi;
    if (!identityApi.enabled) throw new AuthError('not_found', { message: 'The Identity API is off: turn it on with identityApi.enabled in rolegate.config.json.' });
    return { next: identityApi.linkPage, deliver: 'fragment' };
  }
  return { next: safeNextPath(url.searchParams.get('next') || nextFromReferer(event, deps), '/'), deliver: 'cookies' };
}

/** Identity's external sign-in answer (gotrue's redirect after `/authorize`): the token response as a URL fragment. */
function identityFragment(result: { tokens: { access: string; refresh: string }; expiresAt: number }, now: number): string {
  return new URLSearchParams({
    access_token: result.tokens.access, token_type: 'bearer', expires_in: String(Math.max(0, result.expiresAt - now)), refresh_token: result.tokens.refresh,
  }).toString();
}

export function providerHandler(getDeps: GetDeps, clients: ProviderClients): Handler {
  return async (event) => {
    let deps: AuthDeps | undefined;
    let clear: string[] = [];
    let signInHref = '/login';
    try {
      deps = await getDeps();
      clear = [clearedProviderState(deps)];
      signInHref = deps.gates.loginPage;
      requireMethod(event, ['GET']);
      const url = requestUrl(event, deps);
      const route = routeOf(url.pathname);
      const client = route ? clients(route.id) : undefined;
      if (!route || !client) throw new AuthError('not_found', { message: 'There is no such way to sign in here.' });
      const origin = originOf(url, deps);
      if (!route.callback) {
        const start = startOf(event, url, deps);
        signInHref = `${deps.gates.loginPage}?next=${encodeURIComponent(start.next)}`;
        const { location, cookies } = await startProviderSignIn(deps, client, { origin, ...start });
        return redirect(location, cookies, { 'Referrer-Policy': 'no-referrer' });
      }
      const result = await finishProviderSignIn(deps, client, { origin, callbackUrl: url, cookies: cookiesOf(event), ip: clientIp(event), userAgent: header(event, 'user-agent') });
      if (result.deliver === 'fragment') return redirect(`${result.next}#${identityFragment(result, deps.now())}`, result.cookies, { 'Referrer-Policy': 'no-referrer' });
      return redirect(result.next, result.cookies);
    } catch (error) {
      const authError = toAuthError(error);
      // The callback's URL holds a code: the page it fails on passes it to nobody.
      const page = signInErrorPage(authError, signInHref, clear);
      return { ...page, headers: { ...page.headers, 'Referrer-Policy': 'no-referrer', ...(authError.allow ? { Allow: authError.allow.join(', ') } : {}) } };
    }
  };
}
