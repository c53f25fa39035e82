/**
 * The Identity-compatible API as one Lambda-style handler under `/auth/identity/*`: the
 * endpoint from the path, the rules every endpoint shares, then one use case of identity-api.ts.
 *
 * Credentials here are bearer tokens only, never cookies, so another site's page cannot use
 * a visitor's session (no CSRF); a browser request from another origin is still refused, so it
 * cannot spend the throttles or sign anyone out either. Clients that send no Origin (scripts,
 * servers) are served.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { accessOnlyCookies, clearedCookies, ACCESS_COOKIE } from '../http/cookies.js';
import { clientIp, header, parseBody, requireMethod } from '../http/request.js';
import { redirect, retryAfterHeader, STATUS, toAuthError } from '../http/respond.js';
import { DEFAULT_ACCOUNT_SETTINGS, IDENTITY_API_FUNCTION } from '../site-config/account-settings.js';
import { PROVIDER_PATH } from '../site-config/provider-settings.js';
import { isUuid } from '../store/sql-store.js';
import { cookiePolicy, type AuthDeps } from './deps.js';
import type { GetDeps } from './handlers.js';
import {
  adminCreateUser, adminListUsers, adminUpdateUser, identityUserJson, liveUser, passwordGrant, refreshGrant, signUpUser,
  tokenResponse, updateCurrentUser, verifyToken, withIdentityLinks, type ApiClient,
} from './identity-api.js';
import { inviteUser } from './invite.js';
import type { LoginResult } from './login.js';
import { logout } from './logout.js';
import { requestRecovery } from './recover.js';
import { checkAccessToken, type AuthenticatedUser } from './require-role.js';

type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
const CORS_HEADERS = 'Authorization, Content-Type, X-Use-Cookie, X-JWT-AUD, X-Nf-Client';

/** One request to the API, with what every endpoint needs from it. */
interface Call {
  deps: AuthDeps;
  event: HandlerEvent;
  client: ApiClient;
  fields: () => Record<string, unknown>;
}

/** The endpoint a request names, from either path the function answers on (the friendly one, or its own). */
function endpointOf(event: HandlerEvent, basePath: string): string {
  const path = event.rawUrl && URL.canParse(event.rawUrl) ? new URL(event.rawUrl).pathname : event.path;
  for (const prefix of [basePath, IDENTITY_API_FUNCTION]) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return path.slice(prefix.length).replace(/\/+$/u, '') || '/';
  }
  return '/';
}

/** Identity's error shapes: `{code, msg}` everywhere, and OAuth's `{error, error_description}` from /token; `error_code` is rolegate's stable code. */
function errorAnswer(error: unknown, oauth: boolean, cookies: string[] = []): HandlerResponse {
  const authError = toAuthError(error);
  const status = STATUS[authError.code];
  const body: Record<string, unknown> = { code: status, msg: authError.message, error_code: authError.code };
  if (oauth) {
    body.error = authError.code === 'bad_request' ? 'invalid_request' : authError.code === 'throttled' ? 'too_many_requests' : status >= 500 ? 'server_error' : 'invalid_grant';
    body.error_description = authError.message;
  }
  const headers: Record<string, string> = { ...retryAfterHeader(authError) };
  if (authError.allow) headers.Allow = authError.allow.join(', ');
  return answer(status, body, cookies, headers);
}

function answer(status: number, body: unknown, cookies: string[] = [], headers: Record<string, string> = {}): HandlerResponse {
  return {
    statusCode: status,
    headers: { ...NO_STORE, ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }), ...headers },
    multiValueHeaders: cookies.length ? { 'Set-Cookie': cookies } : {},
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

/** The token answer, with nf_jwt set too when the client asks by `X-Use-Cookie` (so gated paths open at once). */
function tokenAnswer(call: Call, issued: LoginResult): HandlerResponse {
  const useCookie = header(call.event, 'x-use-cookie');
  const cookies = useCookie === undefined ? [] : accessOnlyCookies(cookiePolicy(call.deps), issued.tokens.access,
    { email: issued.user.email, roles: issued.user.roles, exp: issued.expiresAt }, useCookie !== 'session');
  return answer(200, tokenResponse(call.deps, issued), cookies);
}

/** The `Authorization: Bearer` token, if any: the API never reads the nf_jwt cookie, so no other site can act with it. */
function bearerToken(call: Call): string | undefined {
  return /^Bearer\s+(\S+)$/iu.exec(header(call.event, 'authorization') ?? '')?.[1];
}

/** The bearer token's session, holding one of `roles` when given. */
function bearer(call: Call, roles?: readonly string[]): AuthenticatedUser {
  const checked = checkAccessToken(bearerToken(call), undefined, { roles, config: call.deps.config, now: call.deps.now() });
  if (typeof checked === 'string') throw new AuthError(checked);
  return checked;
}

/** An admin's bearer token (one of the configured roles) of a session that is still live. */
async function admin(call: Call): Promise<AuthenticatedUser> {
  const session = bearer(call, (call.deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).identityApi.adminRoles);
  await liveUser(call.deps, session);
  return session;
}

type Route = (call: Call) => Promise<HandlerResponse>;

const ROUTES: Record<string, Partial<Record<string, Route>>> = {
  '/settings': {
    GET: async ({ deps }) => {
      const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
      const offered = new Set(accounts.providers.map((p) => p.id));
      const external = { bitbucket: false, email: true, facebook: false, github: offered.has('github'), gitlab: offered.has('gitlab'), google: offered.has('google'), saml: false };
      return answer(200, { external, external_labels: {}, disable_signup: accounts.registration !== 'open', autoconfirm: !accounts.requireConfirmation });
    },
  },
  '/authorize': {
    // A navigation, as gotrue-js's loginExternalUrl makes it: on to the provider function, which ends at the link page with the tokens in the fragment.
    GET: async ({ deps, event }) => {
      const provider = event.queryStringParameters?.provider;
      const offered = (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).providers.some((p) => p.id === provider);
      if (typeof provider !== 'string' || !offered) throw new AuthError('bad_request', { message: 'Unsupported provider: this site does not sign in with it.' });
      return redirect(`${PROVIDER_PATH}/${provider}?identity=1`);
    },
  },
  '/token': {
    POST: async (call) => {
      const fields = call.fields();
      if (fields.grant_type === 'password') return tokenAnswer(call, await passwordGrant(call.deps, fields, call.client));
      if (fields.grant_type === 'refresh_token') return tokenAnswer(call, await refreshGrant(call.deps, fields, call.client));
      throw new AuthError('bad_request', { message: 'Send grant_type "password" or "refresh_token".' });
    },
  },
  '/user': {
    GET: async (call) => answer(200, identityUserJson(await liveUser(call.deps, bearer(call)))),
    PUT: async (call) => {
      const { user, newEmail } = await updateCurrentUser(call.deps, bearer(call), call.fields(), call.client);
      const pending = newEmail === undefined ? {} : { new_email: newEmail, email_change_sent_at: new Date(call.deps.now() * 1000).toISOString() };
      return answer(200, { ...identityUserJson(user), ...pending });
    },
  },
  '/logout': {
    POST: async (call) => {
      const token = bearerToken(call);
      if (!token) throw new AuthError('unauthenticated');
      await logout(call.deps, { [ACCESS_COOKIE]: token }, 'local', call.client.ip);
      const cookies = header(call.event, 'x-use-cookie') === undefined ? [] : clearedCookies(cookiePolicy(call.deps));
      return answer(204, undefined, cookies);
    },
  },
  '/signup': { POST: async (call) => answer(200, await signUpUser(call.deps, call.fields(), call.client)) },
  '/verify': { POST: async (call) => tokenAnswer(call, await verifyToken(call.deps, call.fields(), call.client)) },
  '/recover': {
    POST: async (call) => {
      await requestRecovery(call.deps, { fields: call.fields(), ip: call.client.ip });
      return answer(200, {});
    },
  },
  '/invite': {
    POST: async (call) => {
      const inviter = await admin(call);
      const fields = call.fields();
      const roles = (fields.app_metadata as { roles?: unknown } | undefined)?.roles ?? fields.roles;
      const outcome = await inviteUser(call.deps, { fields: { email: fields.email, roles }, inviterId: inviter.id, inviterSessionId: inviter.sessionId, ip: call.client.ip });
      return answer(200, identityUserJson(outcome.user));
    },
  },
  '/admin/users': {
    GET: async (call) => {
      await admin(call);
      const users = await adminListUsers(call.deps, (call.event.queryStringParameters ?? {}) as Record<string, string | undefined>);
      return answer(200, { aud: '', users: users.map(identityUserJson) });
    },
    POST: async (call) => {
      await admin(call);
      return answer(200, identityUserJson(await adminCreateUser(call.deps, call.fields())));
    },
  },
};

/** `/admin/users/<id>`: one user, for an admin. */
const ADMIN_USER: Partial<Record<string, (call: Call, id: string) => Promise<HandlerResponse>>> = {
  GET: async (call, id) => {
    await admin(call);
    const user = await call.deps.store.findUserById(id);
    if (!user) throw new AuthError('not_found', { message: 'There is no such user.' });
    return answer(200, identityUserJson(user));
  },
  PUT: async (call, id) => {
    await admin(call);
    return answer(200, identityUserJson(await adminUpdateUser(call.deps, id, call.fields())));
  },
  DELETE: async (call, id) => {
    const by = await admin(call);
    const deleted = await call.deps.store.deleteUser({ userId: id, by: by.id, ip: call.client.ip });
    if (deleted.status !== 'deleted') throw new AuthError('not_found', { message: 'There is no such user.' });
    return answer(200, {});
  },
};

function routeOf(endpoint: string, method: string): { run?: Route; allow: string[] } {
  const adminUser = /^\/admin\/users\/([^/]+)$/u.exec(endpoint);
  if (adminUser) {
    let id = '';
    try {
      id = decodeURIComponent(adminUser[1]!);
    } catch {
      // A malformed escape names nobody, like any id that is no UUID.
    }
    const run = ADMIN_USER[method];
    // An id that is no UUID names nobody; answered before any database work.
    const guarded: Route | undefined = run && (async (call) => {
      if (!isUuid(id)) {
        await admin(call);
        throw new AuthError('not_found', { message: 'There is no such user.' });
      }
      return run(call, id);
    });
    return { run: guarded, allow: Object.keys(ADMIN_USER) };
  }
  const routes = ROUTES[endpoint];
  if (!routes) throw new AuthError('not_found');
  return { run: routes[method], allow: Object.keys(routes) };
}

/** CORS for the site's own sibling origins (ALLOWED_ORIGINS), so a subdomain's client can call this one. */
function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (!origin || !allowed.includes(origin.toLowerCase())) return {};
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' };
}

/** The `identity-api` function: every endpoint of Identity's API that its clients call. */
export function identityApiHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    let oauth = false;
    let cors: Record<string, string> = {};
    try {
      const deps = await getDeps();
      const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
      const origin = header(event, 'origin');
      cors = corsHeaders(origin, deps.config.allowedOrigins);
      // A browser on another site: refused before anything is read or counted.
      if (origin !== undefined && !cors['Access-Control-Allow-Origin']) throw new AuthError('bad_origin');
      if (!accounts.identityApi.enabled) throw new AuthError('not_found', { message: 'The Identity API is off: turn it on with identityApi.enabled in rolegate.config.json.' });
      if (deps.config.tokenFingerprint) {
        throw new AuthError('unavailable', { message: 'The Identity API cannot be used with TOKEN_FINGERPRINT on: its clients hold tokens without the fingerprint cookie.' });
      }
      const endpoint = endpointOf(event, accounts.identityApi.basePath);
      oauth = endpoint === '/token';
      if (event.httpMethod === 'OPTIONS') {
        return answer(204, undefined, [], { ...cors, 'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE', 'Access-Control-Allow-Headers': CORS_HEADERS, 'Access-Control-Max-Age': '600' });
      }
      const route = routeOf(endpoint, event.httpMethod);
      if (!route.run) requireMethod(event, route.allow);
      const apiDeps = withIdentityLinks(deps);
      let parsed: Record<string, unknown> | undefined;
      const call: Call = {
        deps: apiDeps,
        event,
        client: { ip: clientIp(event), userAgent: header(event, 'user-agent') },
        fields: () => (parsed ??= parseBody(event).fields),
      };
      const response = await route.run!(call);
      return { ...response, headers: { ...response.headers, ...cors } };
    } catch (error) {
      const response = errorAnswer(error, oauth);
      return { ...response, headers: { ...response.headers, ...cors } };
    }
  };
}
