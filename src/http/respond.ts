/**
 * Responses: the one table that maps error codes to HTTP statuses, and the
 * headers every auth response carries (`Cache-Control: no-store`).
 */
import type { HandlerResponse } from '@netlify/functions';
import { AuthError, publicMessage, type AuthErrorCode } from '../core/auth-errors.js';
import { asciiLocation } from '../core/next-path.js';
import { StoreLockedError, StoreUnavailableError } from '../store/errors.js';

export const STATUS: Record<AuthErrorCode, number> = {
  invalid_credentials: 401,
  throttled: 429,
  refresh_token_reused: 401,
  session_expired: 401,
  unauthenticated: 401,
  forbidden: 403,
  bad_origin: 403,
  bad_request: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  method_not_allowed: 405,
  link_invalid: 400,
  link_used: 410,
  link_expired: 410,
  weak_password: 422,
  signup_disabled: 403,
  email_not_allowed: 403,
  email_not_confirmed: 403,
  user_exists: 409,
  wrong_password: 403,
  sign_in_links_off: 403,
  reauthentication_required: 403,
  not_found: 404,
  provider_state_invalid: 400,
  provider_denied: 403,
  provider_failed: 400,
  provider_email_unverified: 403,
  provider_unavailable: 502,
  last_sign_in_method: 409,
  own_account: 409,
  unavailable: 503,
  internal: 500,
};

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

export function json(statusCode: number, body: unknown, cookies: string[] = [], extraHeaders: Record<string, string> = {}): HandlerResponse {
  return {
    statusCode,
    headers: { ...NO_STORE, 'Content-Type': 'application/json; charset=utf-8', ...extraHeaders },
    multiValueHeaders: cookies.length ? { 'Set-Cookie': cookies } : {},
    body: JSON.stringify(body),
  };
}

/**
 * A 303 to `location`, a same-site path. Whatever it was built from, the
 * header carries only ASCII (see asciiLocation): one character Node cannot
 * write would turn the answer into a 500 and lose its cookies.
 */
export function redirect(location: string, cookies: string[] = [], extraHeaders: Record<string, string> = {}): HandlerResponse {
  return {
    statusCode: 303,
    headers: { ...NO_STORE, Location: asciiLocation(location) ?? '/', ...extraHeaders },
    multiValueHeaders: cookies.length ? { 'Set-Cookie': cookies } : {},
    body: '',
  };
}

/** `Retry-After` for an error that says when to try again (at least one second), else nothing. */
export function retryAfterHeader(error: AuthError): Record<string, string> {
  return error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(Math.max(1, error.retryAfterSeconds)) };
}

/** An AuthError (or a store outage, or anything unexpected) as a JSON error response. */
export function errorResponse(error: unknown, cookies: string[] = []): HandlerResponse {
  const authError = toAuthError(error);
  const extra: Record<string, string> = {};
  Object.assign(extra, retryAfterHeader(authError));
  if (authError.allow) extra.Allow = authError.allow.join(', ');
  return json(STATUS[authError.code], { error: { code: authError.code, message: authError.message } }, cookies, extra);
}

/** Maps anything thrown to an AuthError; unexpected errors are logged (message only) and become `internal`. */
export function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof StoreUnavailableError) {
    // The operator's clue (refused, timed out, a setting a pooler refused); the client gets 503 only.
    const cause = error.cause instanceof Error ? `: ${error.cause.message.slice(0, 300)}` : '';
    console.error(`rolegate: ${error.message}${cause}`);
    return new AuthError('unavailable', { cause: error });
  }
  if (error instanceof StoreLockedError) return new AuthError('unavailable', { cause: error });
  // Never the stack or the error's text to the client; the log gets its class and message.
  console.error(`rolegate: unexpected ${error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}` : typeof error}`);
  return new AuthError('internal', { message: publicMessage('internal'), cause: error });
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A small page a visitor reads instead of JSON; the code stays machine-readable in a meta tag and the X-Rolegate-Error header. */
function htmlPage(page: { status: number; code: string; title: string; message: string; link: { href: string; text: string }; headers?: Record<string, string>; cookies?: string[] }): HandlerResponse {
  const body = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="rolegate-error" content="${escapeHtml(page.code)}"><title>${escapeHtml(page.title)}</title><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>${escapeHtml(page.title)}</h1>
<p>${escapeHtml(page.message)}</p><p><a href="${escapeHtml(page.link.href)}">${escapeHtml(page.link.text)}</a></p></main></body>
</html>
`;
  return {
    statusCode: page.status,
    headers: { ...NO_STORE, 'Content-Type': 'text/html; charset=utf-8', 'X-Rolegate-Error': page.code, ...page.headers },
    multiValueHeaders: page.cookies?.length ? { 'Set-Cookie': page.cookies } : {},
    body,
  };
}

/**
 * The same error as a small page, for a browser that navigated here (the
 * gate's bounce): a visitor should read what happened, not JSON.
 */
export function errorPage(error: unknown, retryHref: string): HandlerResponse {
  const authError = toAuthError(error);
  const status = STATUS[authError.code];
  return htmlPage({
    status,
    code: authError.code,
    title: status === 503 ? 'Temporarily unavailable' : 'Something went wrong',
    message: authError.message,
    link: { href: retryHref, text: 'Try again' },
    headers: authError.code === 'unavailable' ? { 'Retry-After': '5' } : {},
  });
}

const LINK_TITLES: Partial<Record<AuthErrorCode, string>> = {
  link_invalid: 'This link does not work',
  link_used: 'This link was already used',
  link_expired: 'This link has expired',
};

/**
 * A sign-in through a provider that did not work, as a page for the browser that came back
 * from the provider: what happened, and the way back to the sign-in page. `cookies` end the
 * sign-in's state whatever went wrong.
 */
export function signInErrorPage(error: unknown, signInHref: string, cookies: string[] = []): HandlerResponse {
  const authError = toAuthError(error);
  const status = STATUS[authError.code];
  return htmlPage({
    status, code: authError.code, title: status >= 500 ? 'Sign-in is unavailable' : 'Sign-in did not work', message: authError.message,
    link: { href: signInHref, text: 'Back to sign in' }, headers: retryAfterHeader(authError), cookies,
  });
}

/** Why a mailed link cannot be used, as a page with the way to a new one; other errors as errorPage. */
export function linkErrorPage(error: unknown, newLinkHref: string, cookies: string[] = []): HandlerResponse {
  const authError = toAuthError(error);
  const title = LINK_TITLES[authError.code];
  if (!title) return { ...errorPage(authError, newLinkHref), multiValueHeaders: cookies.length ? { 'Set-Cookie': cookies } : {} };
  return htmlPage({ status: STATUS[authError.code], code: authError.code, title, message: authError.message, link: { href: newLinkHref, text: 'Ask for a new link' }, cookies });
}
