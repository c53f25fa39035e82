/**
 * The account flows' endpoints (recover, magic-link, verify, signup, invite, account) as Lambda-style handlers,
 * like handlers.ts: parse, call one use case, answer JSON to scripts and redirects or pages
 * to forms that work with scripts off.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { safeNextPath } from '../core/next-path.js';
import { LINK_COOKIE, linkCookies } from '../http/cookies.js';
import { clientIp, cookiesOf, header, parseBody, requireMethod, requireSameOrigin, wantsRedirects, type ParsedBody } from '../http/request.js';
import { errorPage, errorResponse, json, linkErrorPage, redirect, retryAfterHeader, toAuthError } from '../http/respond.js';
import { DEFAULT_ACCOUNT_SETTINGS, linkLifetime, type AccountSettings } from '../site-config/account-settings.js';
import { isUuid } from '../store/sql-store.js';
import type { AuthDeps } from './deps.js';
import type { GetDeps } from './handlers.js';
import { changePassword, requestEmailChange } from './account.js';
import { linkedIdentities, unlinkIdentity } from './linked-identities.js';
import { inviteUser } from './invite.js';
import { requestRecovery, requestSignInLink } from './recover.js';
import { requireRole } from './require-role.js';
import { signUp } from './signup.js';
import { choosesPassword, LinkRefusedError, openMailedLink, useMailedLink } from './verify.js';

type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

/** Mail links carry their token in the URL: no page they lead to may pass it on. */
const NO_REFERRER = { 'Referrer-Policy': 'no-referrer' };

/**
 * A form's failure: the visitor's own mistake goes back to `page` with `?error=<code>` (and
 * `Retry-After` when throttled); an outage gets a page to read and retry from.
 */
function formFailure(error: unknown, page: string): HandlerResponse {
  const authError = toAuthError(error);
  if (authError.code === 'unavailable' || authError.code === 'internal') return errorPage(authError, page);
  return redirect(`${page}?error=${authError.code}`, [], retryAfterHeader(authError));
}

/** One POST to an account endpoint, checked for its method and Origin and parsed. */
interface Post {
  deps: AuthDeps;
  event: HandlerEvent;
  body: ParsedBody;
  /** An HTML form (answered with redirects), not a script (answered with JSON). */
  form: boolean;
}

/**
 * The frame of every POST endpoint here: the method, the Origin, the body, then `answer`. A
 * failure inside `answer` goes back to `formPage` for a form (formFailure) and is JSON for a
 * script; a failure before it is JSON either way.
 */
function postEndpoint(getDeps: GetDeps, formPage: (post: Post) => string, answer: (post: Post) => Promise<HandlerResponse>): Handler {
  return async (event) => {
    try {
      requireMethod(event, ['POST']);
      const deps = await getDeps();
      requireSameOrigin(event, deps.config.allowedOrigins);
      const body = parseBody(event);
      const post = { deps, event, body, form: wantsRedirects(event, body) };
      try {
        return await answer(post);
      } catch (error) {
        if (post.form) return formFailure(error, formPage(post));
        throw error;
      }
    } catch (error) {
      return errorResponse(error);
    }
  };
}

const accountsOf = (deps: AuthDeps) => deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
const nextField = (body: ParsedBody) => (typeof body.fields.next === 'string' ? body.fields.next : undefined);

/**
 * POST an address → the same answer for every address: 202, or a form redirected to the
 * check-your-email page (`?sent=<what>`); a form's mistake goes back to its own page.
 */
function linkRequestHandler(getDeps: GetDeps, use: typeof requestRecovery, sent: string, formPage: (deps: AuthDeps) => string, message: string): Handler {
  return postEndpoint(getDeps, ({ deps }) => formPage(deps), async ({ deps, event, body, form }) => {
    await use(deps, { fields: body.fields, ip: clientIp(event) });
    if (form) return redirect(`${accountsOf(deps).pages.checkEmail}?sent=${sent}`);
    return json(202, { ok: true, message });
  });
}

/** "Forgot your password?": a link to choose a new one. */
export function recoverHandler(getDeps: GetDeps): Handler {
  return linkRequestHandler(getDeps, requestRecovery, 'recovery', (deps) => accountsOf(deps).pages.forgotPassword,
    'If an account uses that address, a link to choose a new password is on its way.');
}

/** "Mail me a sign-in link" (where the config turns it on); a form's mistake goes back to the sign-in page. */
export function magicLinkHandler(getDeps: GetDeps): Handler {
  return linkRequestHandler(getDeps, requestSignInLink, 'magic_link', (deps) => deps.gates.loginPage,
    'If an account uses that address, a link to sign in is on its way.');
}

/**
 * POST an address and a password → 202 "check your email" for a new and a known address
 * alike (a form goes to the check-your-email page), or, when the config asks no
 * confirmation, 200 and signed in.
 */
export function signupHandler(getDeps: GetDeps): Handler {
  return postEndpoint(getDeps, ({ deps }) => accountsOf(deps).pages.signup, async ({ deps, event, body, form }) => {
    const outcome = await signUp(deps, { fields: body.fields, ip: clientIp(event), userAgent: header(event, 'user-agent') });
    if (outcome.status === 'signed_in') {
      const { login } = outcome;
      if (form) return redirect(safeNextPath(nextField(body), '/'), login.cookies);
      return json(200, { user: login.user, expires_at: login.expiresAt }, login.cookies);
    }
    if (form) return redirect(`${accountsOf(deps).pages.checkEmail}?sent=signup`);
    return json(202, { ok: true, message: 'Check your email: a link to confirm the address is on its way.' });
  });
}

/**
 * POST (a signed-in admin: one of the config's inviter roles) an address and roles → 201 and
 * the invitation mailed. A form goes back to the page `next` names with `?done=invited` or
 * `?error=<code>`; a form without an admin's session, to sign-in.
 */
export function inviteHandler(getDeps: GetDeps): Handler {
  const pageOf = (body: ParsedBody) => safeNextPath(nextField(body), '/').split('?')[0]!;
  return postEndpoint(getDeps, ({ body }) => pageOf(body), async ({ deps, event, body, form }) => {
    const auth = await requireRole(event, { roles: accountsOf(deps).inviterRoles, config: deps.config, now: deps.now() });
    if (!auth.ok) return form ? redirect(`${deps.gates.loginPage}?next=${encodeURIComponent(pageOf(body))}`) : auth.response;
    // rolegate signs only user and session ids; anything else names nobody who could invite.
    if (!isUuid(auth.user.id) || !isUuid(auth.user.sessionId)) throw new AuthError('unauthenticated');
    const outcome = await inviteUser(deps, { fields: body.fields, inviterId: auth.user.id, inviterSessionId: auth.user.sessionId, ip: clientIp(event) });
    if (form) return redirect(`${pageOf(body)}?done=invited`);
    const user = { id: outcome.user.id, email: outcome.user.email, roles: outcome.user.roles };
    return json(outcome.status === 'invited' ? 201 : 200, { status: outcome.status, user });
  });
}

/**
 * POST (signed in) `action=password` with `current_password`, `password` (and
 * `password_confirm`) → 200, every other session ended; `action=email` with `email` (the new
 * address) and `current_password` → 202, a link mailed to the new address; `action=unlink` with
 * `identity` → 200, that provider no longer signs in. A form goes back to the account page with
 * `?done=` or `?error=`; a form whose session has run out, to sign-in. GET (signed in) → the
 * linked providers and those the site offers.
 */
export function accountHandler(getDeps: GetDeps): Handler {
  const changes = accountChangeHandler(getDeps);
  return async (event) => {
    if (event.httpMethod === 'POST') return changes(event);
    try {
      requireMethod(event, ['GET', 'POST']);
      const deps = await getDeps();
      const auth = await requireRole(event, { config: deps.config, now: deps.now() });
      if (!auth.ok) return auth.response;
      const { identities, providers } = await linkedIdentities(deps, auth.user);
      return json(200, {
        identities: identities.map((i) => ({ id: i.id, provider: i.provider, email: i.email, created_at: i.createdAt, last_sign_in_at: i.lastSignInAt })),
        providers,
      });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** The account's POSTs: `action=password`, `action=email`, and `action=unlink` with `identity` (a linked provider's id). */
function accountChangeHandler(getDeps: GetDeps): Handler {
  return postEndpoint(getDeps, ({ deps }) => accountsOf(deps).pages.account, async ({ deps, event, body, form }) => {
    const page = accountsOf(deps).pages.account;
    const auth = await requireRole(event, { config: deps.config, now: deps.now() });
    if (!auth.ok) return form ? redirect(`${deps.gates.loginPage}?error=session_expired&next=${encodeURIComponent(page)}`) : auth.response;
    const request = { session: auth.user, fields: body.fields, ip: clientIp(event) };
    const action = body.fields.action;
    if (action === 'password') {
      const { sessionsEnded } = await changePassword(deps, request);
      if (form) return redirect(`${page}?done=password`);
      return json(200, { ok: true, sessions_ended: sessionsEnded });
    }
    if (action === 'email') {
      await requestEmailChange(deps, request);
      if (form) return redirect(`${page}?done=email`);
      return json(202, { ok: true, message: 'A link to confirm the new address is on its way to it; the address changes once it is used.' });
    }
    if (action === 'unlink') {
      await unlinkIdentity(deps, request);
      if (form) return redirect(`${page}?done=unlinked`);
      return json(200, { ok: true });
    }
    throw new AuthError('bad_request', { message: 'Send action "password", "email" or "unlink".' });
  });
}

/** Where a dead link's page sends the visitor for a new one: a sign-up's to sign-up (which mails a new link), any other to "forgot your password?". */
function newLinkHref(accounts: AccountSettings, error: unknown): string {
  return error instanceof LinkRefusedError && error.purpose === 'signup' ? accounts.pages.signup : accounts.pages.forgotPassword;
}

/**
 * GET (the mailed link): a link that still works moves its token into an HttpOnly cookie
 * and leads to the page that uses it (choose a password, or confirm); a dead one gets a
 * page saying why. Nothing is used up by opening a link, so a mail scanner that fetches it
 * changes nothing.
 * POST (that page's form, or a script with `token`): the link used; signed in at once.
 */
export function verifyHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    let clearLink: string[] = [];
    try {
      requireMethod(event, ['GET', 'POST']);
      const deps = await getDeps();
      const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
      clearLink = linkCookies(accounts.verifyPaths);
      if (event.httpMethod === 'GET') {
        try {
          const link = await openMailedLink(deps, event.queryStringParameters?.token);
          const cookies = linkCookies(accounts.verifyPaths, link.token, linkLifetime(accounts, link.purpose));
          return redirect(choosesPassword(link.purpose) ? accounts.pages.choosePassword : accounts.pages.confirm, cookies, NO_REFERRER);
        } catch (error) {
          return linkErrorPage(error, newLinkHref(accounts, error), clearLink);
        }
      }
      requireSameOrigin(event, deps.config.allowedOrigins);
      const body = parseBody(event, { allowEmpty: true });
      const form = wantsRedirects(event, body);
      const token = body.fields.token ?? cookiesOf(event)[LINK_COOKIE];
      try {
        const result = await useMailedLink(deps, { token, fields: body.fields, ip: clientIp(event), userAgent: header(event, 'user-agent') });
        const cookies = [...result.cookies, ...clearLink];
        if (form) return redirect(safeNextPath(typeof body.fields.next === 'string' ? body.fields.next : undefined, '/'), cookies);
        return json(200, { user: result.user, expires_at: result.expiresAt }, cookies);
      } catch (error) {
        const authError = toAuthError(error);
        if (!form) throw authError;
        // The visitor's own input: back to the form, the link still in its cookie.
        if (authError.code === 'weak_password' || authError.code === 'bad_request') return redirect(`${accounts.pages.choosePassword}?error=${authError.code}`);
        return linkErrorPage(authError, newLinkHref(accounts, error), authError.code.startsWith('link_') ? clearLink : []);
      }
    } catch (error) {
      const authError = toAuthError(error);
      return errorResponse(authError, authError.code.startsWith('link_') ? clearLink : []);
    }
  };
}
