import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { clientIp, header, parseBody, requireMethod, requireSameOrigin } from '../http/request.js';
import { errorResponse, json } from '../http/respond.js';
import { ADMIN_API_FUNCTION, DEFAULT_ACCOUNT_SETTINGS } from '../site-config/account-settings.js';
import type { AdminActor, AdminSession, AdminUser, AuditRecord, LinkedIdentity, User } from '../store/store.js';
import { deleteUser, endSessions, findUsers, liveAdmin, readAudit, setDisabled, setRoles, userDetail } from './admin.js';
import type { AuthDeps } from './deps.js';
import { inviteUser } from './invite.js';
import { requireRole } from './require-role.js';

type GetDeps = () => Promise<AuthDeps>;
type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

interface Call {
  deps: AuthDeps;
  actor: AdminActor;
  /** The admin's session, which an invitation checks is still live as it is written. */
  sessionId: string;
  event: HandlerEvent;
  query: Record<string, string | undefined>;
  fields: () => Record<string, unknown>;
}

type Route = (call: Call, id: string) => Promise<HandlerResponse>;

const userJson = (u: User & Partial<Pick<AdminUser, 'hasPassword' | 'lastSignInAt'>>) => ({
  id: u.id, email: u.email, roles: u.roles, disabled_at: u.disabledAt, email_confirmed_at: u.emailConfirmedAt ?? null,
  ...(u.hasPassword === undefined ? {} : { has_password: u.hasPassword, last_sign_in_at: u.lastSignInAt }),
  created_at: u.createdAt, updated_at: u.updatedAt,
});
const sessionJson = (s: AdminSession) => ({
  id: s.id, created_at: s.createdAt, last_seen_at: s.lastSeenAt, user_agent: s.userAgent, ip: s.ip, live: s.live, revoked_at: s.revokedAt, revoked_reason: s.revokedReason,
});
const identityJson = (i: LinkedIdentity) => ({ id: i.id, provider: i.provider, email: i.email, created_at: i.createdAt, last_sign_in_at: i.lastSignInAt });
const auditJson = (a: AuditRecord) => ({ id: a.id, at: a.at, event: a.event, user_id: a.userId, session_id: a.sessionId, ip: a.ip, detail: a.detail });

/** `/users`, `/invite`, `/audit`: one route per method. */
const ROUTES: Record<string, Record<string, Route>> = {
  '/users': {
    GET: async ({ deps, query }) => {
      const found = await findUsers(deps, query);
      return json(200, { total: found.total, page: found.page, per_page: found.perPage, users: found.users.map(userJson) });
    },
  },
  '/invite': {
    POST: async ({ deps, actor, sessionId, fields }) => {
      const outcome = await inviteUser(deps, { fields: fields(), inviterId: actor.by, inviterSessionId: sessionId, ip: actor.ip });
      return json(outcome.status === 'invited' ? 201 : 200, { status: outcome.status, user: userJson(outcome.user) });
    },
  },
  '/audit': {
    GET: async ({ deps, query }) => json(200, { entries: (await readAudit(deps, query)).map(auditJson) }),
  },
};

/** `/users/{id}` and what can be done to one user. */
const USER_ROUTES: Record<string, Record<string, Route>> = {
  '': {
    GET: async ({ deps }, id) => {
      const detail = await userDetail(deps, id);
      return json(200, { user: userJson(detail.user), sessions: detail.sessions.map(sessionJson), identities: detail.identities.map(identityJson) });
    },
    DELETE: async ({ deps, actor }, id) => {
      await deleteUser(deps, actor, id);
      return json(200, { ok: true });
    },
  },
  '/roles': {
    PUT: async ({ deps, actor, fields }, id) => json(200, { user: userJson(await setRoles(deps, actor, id, fields().roles)) }),
  },
  '/disable': {
    POST: async ({ deps, actor }, id) => json(200, { user: userJson(await setDisabled(deps, actor, id, true)) }),
  },
  '/enable': {
    POST: async ({ deps, actor }, id) => json(200, { user: userJson(await setDisabled(deps, actor, id, false)) }),
  },
  '/sessions': {
    DELETE: async ({ deps, actor }, id) => json(200, { sessions_ended: await endSessions(deps, actor, id) }),
  },
};

/** The endpoint a request names, from either path the function answers on (the friendly one, or its own). */
function endpointOf(event: HandlerEvent, basePath: string): string {
  const path = event.rawUrl && URL.canParse(event.rawUrl) ? new URL(event.rawUrl).pathname : event.path;
  for (const prefix of [basePath, ADMIN_API_FUNCTION]) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return path.slice(prefix.length).replace(/\/+$/u, '') || '/';
  }
  return '/';
}

/** The routes of an endpoint and the user id it names (a malformed escape names nobody). */
function routesOf(endpoint: string): { routes?: Record<string, Route>; id: string } {
  const user = /^\/users\/([^/]+)(\/[a-z]+)?$/u.exec(endpoint);
  if (!user) return { routes: ROUTES[endpoint], id: '' };
  let id = '';
  try {
    id = decodeURIComponent(user[1]!);
  } catch {
    /* names nobody: not found, once the caller is known to be an admin */
  }
  return { routes: USER_ROUTES[user[2] ?? ''], id };
}

function queryOf(event: HandlerEvent): Record<string, string | undefined> {
  const query: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (Object.hasOwn(query, name) || value === undefined) continue;
    query[name] = value;
  }
  return query;
}

/**
 * The admin API, where the config's `admin` turns it on: JSON in and out, for the admin page
 * (which calls it with the nf_jwt cookie) or a script (with a bearer token). Every call needs a
 * live session of a user who holds one of `admin.roles` now; every change needs the site's
 * Origin (a browser sends one with each), so another site cannot drive an admin's browser.
 */
export function adminHandler(getDeps: GetDeps): Handler {
  return async (event) => {
    try {
      const deps = await getDeps();
      const admin = (deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS).admin;
      if (!admin.enabled) throw new AuthError('not_found', { message: 'The admin API is off: turn it on with admin.enabled in rolegate.config.json.' });
      const { routes, id } = routesOf(endpointOf(event, admin.basePath));
      if (!routes) throw new AuthError('not_found');
      requireMethod(event, Object.keys(routes));
      const reads = event.httpMethod === 'GET';
      // A read from another site is refused too: nothing it sends counts.
      if (!reads || header(event, 'origin') !== undefined) requireSameOrigin(event, deps.config.allowedOrigins);
      const auth = await requireRole(event, { roles: admin.roles, config: deps.config, now: deps.now() });
      if (!auth.ok) return auth.response;
      const actor = await liveAdmin(deps, auth.user, clientIp(event));
      let parsed: Record<string, unknown> | undefined;
      const call: Call = { deps, actor, sessionId: auth.user.sessionId, event, query: queryOf(event), fields: () => (parsed ??= parseBody(event).fields) };
      return await routes[event.httpMethod]!(call, id);
    } catch (error) {
      return errorResponse(error);
    }
  };
}
