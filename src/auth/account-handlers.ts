/**
 * The account flows' endpoints (recover, verify) as Lambda-style handlers, like
 * handlers.ts: parse, call one use case, answer JSON to scripts and redirects or pages
 * to forms that work with scripts off.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { safeNextPath } from '../core/next-path.js';
import { LINK_COOKIE, linkCookies } from '../http/cookies.js';
import { clientIp, cookiesOf, header, parseBody, requireMethod, requireSameOrigin, wantsRedirects } from '../http/request.js';
import { errorResponse, json, linkErrorPage, redirect, toAuthError } from '../http/respond.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import type { GetDeps } from './handlers.js';
import { requestRecovery } from './recover.js';
import { openMailedLink, resetPassword } from './verify.js';

type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

/** Mail links carry their token in the URL: no page they lead to may pass it on. */
const NO_REFERRER = { 'Referrer-Policy': 'no-referrer' };

/** POST an address → the same answer for every address (202, or a redirect to the check-your-email page). */
export function recoverHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    try {
      requireMethod(event, ['POST']);
      const deps = await getDeps();
      requireSameOrigin(event, deps.config.allowedOrigins);
      const body = parseBody(event);
      const pages = (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).pages;
      const form = wantsRedirects(event, body);
      try {
        await requestRecovery(deps, { fields: body.fields, ip: clientIp(event) });
      } catch (error) {
        const authError = toAuthError(error);
        if (!form || authError.code === 'unavailable' || authError.code === 'internal') throw authError;
        const retry: Record<string, string> = authError.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(Math.max(1, authError.retryAfterSeconds)) };
        return redirect(`${pages.forgotPassword}?error=${authError.code}`, [], retry);
      }
      if (form) return redirect(`${pages.checkEmail}?sent=recovery`);
      return json(202, { ok: true, message: 'If an account uses that address, a link to choose a new password is on its way.' });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/**
 * GET (the mailed link): a link that still works moves its token into an HttpOnly cookie
 * and leads to the choose-a-password page; a dead one gets a page saying why. Nothing is
 * used up by opening a link, so a mail scanner that fetches it changes nothing.
 * POST (that page's form, or a script with `token`): the new password; signed in at once.
 */
export function verifyHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    let newLinkHref = DEFAULT_ACCOUNT_SETTINGS.pages.forgotPassword;
    let clearLink: string[] = [];
    try {
      requireMethod(event, ['GET', 'POST']);
      const deps = await getDeps();
      const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
      newLinkHref = accounts.pages.forgotPassword;
      clearLink = linkCookies(accounts.verifyPaths);
      if (event.httpMethod === 'GET') {
        try {
          const link = await openMailedLink(deps, event.queryStringParameters?.token);
          const cookies = linkCookies(accounts.verifyPaths, link.token, accounts.linkLifetimes.recovery);
          return redirect(accounts.pages.choosePassword, cookies, NO_REFERRER);
        } catch (error) {
          return linkErrorPage(error, newLinkHref, clearLink);
        }
      }
      requireSameOrigin(event, deps.config.allowedOrigins);
      const body = parseBody(event);
      const form = wantsRedirects(event, body);
      const token = body.fields.token ?? cookiesOf(event)[LINK_COOKIE];
      try {
        const result = await resetPassword(deps, { token, fields: body.fields, ip: clientIp(event), userAgent: header(event, 'user-agent') });
        const cookies = [...result.cookies, ...clearLink];
        if (form) return redirect(safeNextPath(typeof body.fields.next === 'string' ? body.fields.next : undefined, '/'), cookies);
        return json(200, { user: result.user, expires_at: result.expiresAt }, cookies);
      } catch (error) {
        const authError = toAuthError(error);
        if (!form) throw authError;
        // The visitor's own input: back to the form, the link still in its cookie.
        if (authError.code === 'weak_password' || authError.code === 'bad_request') return redirect(`${accounts.pages.choosePassword}?error=${authError.code}`);
        return linkErrorPage(authError, newLinkHref, authError.code.startsWith('link_') ? clearLink : []);
      }
    } catch (error) {
      const authError = toAuthError(error);
      return errorResponse(authError, authError.code.startsWith('link_') ? clearLink : []);
    }
  };
}
