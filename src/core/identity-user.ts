/**
 * A Netlify Identity user as rolegate mirrors it, and the parsing of the
 * payloads Identity sends. Pure: no I/O.
 *
 * Payload shape: GoTrue's hook payload `{event, instance_id, user}` with the
 * user model in snake_case (Netlify docs, "Functions and Identity" → "Trigger
 * functions on Identity events", https://docs.netlify.com/functions/functions-and-identity/;
 * netlify/gotrue api/hooks.go and models/user.go).
 */
import { RolegateError } from './rolegate-error.js';

export interface IdentityUser {
  /** Identity's user id (a UUID). */
  id: string;
  /** Lower-cased. */
  email: string;
  /** `app_metadata.roles`, the roles Netlify reads. */
  roles: string[];
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  createdAt: string | null;
  /** Identity's own change time; the first key of the ordering (see `compareVersions`). */
  updatedAt: string;
  confirmedAt: string | null;
  lastLoginAt: string | null;
  instanceId: string | null;
  /**
   * When rolegate read this copy from Identity (event received, page fetched).
   * The second key of the ordering: GoTrue writes role, email and confirmation
   * changes with UpdateOnly, which leaves updated_at as it was, so updated_at
   * alone cannot tell an old copy from a new one.
   */
  observedAt: string;
}

/** Orders two copies of one user: by updatedAt, then by observedAt. Negative: `a` is older. */
export function compareVersions(a: Pick<IdentityUser, 'updatedAt' | 'observedAt'>, b: Pick<IdentityUser, 'updatedAt' | 'observedAt'>): number {
  return (Date.parse(a.updatedAt) - Date.parse(b.updatedAt)) || (Date.parse(a.observedAt) - Date.parse(b.observedAt));
}

export const IDENTITY_EVENTS = ['validate', 'signup', 'login'] as const;
export type IdentityEventName = (typeof IDENTITY_EVENTS)[number];

export interface IdentityEvent {
  event: IdentityEventName;
  instanceId: string | null;
  user: IdentityUser;
  /** The user object exactly as received: its app_metadata must survive our answer. */
  rawUser: Record<string, unknown>;
}

/** A payload that is not what Identity sends; `field` names the offending part. */
export class IdentityPayloadError extends RolegateError {
  readonly code = 'identity_payload_invalid';
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'IdentityPayloadError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_EMAIL = 320;
// Generous: a user Identity holds must not become a refused (and so blocked) sign-in here.
const MAX_ROLES = 1000;
const MAX_ROLE = 256;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function timestamp(value: unknown, field: string, required: boolean): string | null {
  if (value === undefined || value === null || value === '') {
    if (required) throw new IdentityPayloadError(field, `${field} is required`);
    return null;
  }
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new IdentityPayloadError(field, `${field} must be an RFC 3339 timestamp`);
  }
  return new Date(value).toISOString();
}

/** `app_metadata.roles` as a clean list; anything else there is kept in appMetadata as it is. */
export function rolesOf(appMetadata: Record<string, unknown>, field = 'user.app_metadata.roles'): string[] {
  const roles = appMetadata.roles;
  if (roles === undefined || roles === null) return [];
  if (!Array.isArray(roles) || roles.length > MAX_ROLES || !roles.every((r) => typeof r === 'string' && r !== '' && r.length <= MAX_ROLE)) {
    throw new IdentityPayloadError(field, `${field} must be a list of at most ${MAX_ROLES} non-empty role names`);
  }
  return [...new Set(roles as string[])];
}

/**
 * One user object from Identity (an event, a webhook or the admin API) as
 * an IdentityUser read at `observedAt`. `loginAt` fills last_login_at for a
 * login event whose user carries no `last_sign_in_at`.
 */
export function toIdentityUser(raw: unknown, options: { observedAt: string; instanceId?: string | null; loginAt?: string | null }): IdentityUser {
  if (!isObject(raw)) throw new IdentityPayloadError('user', 'user must be an object');
  const id = raw.id;
  if (typeof id !== 'string' || !UUID.test(id)) throw new IdentityPayloadError('user.id', 'user.id must be a UUID');
  const email = raw.email;
  if (typeof email !== 'string' || email.trim() === '' || email.length > MAX_EMAIL || !email.includes('@')) {
    throw new IdentityPayloadError('user.email', 'user.email must be an email address');
  }
  const appMetadata = raw.app_metadata ?? {};
  const userMetadata = raw.user_metadata ?? {};
  if (!isObject(appMetadata)) throw new IdentityPayloadError('user.app_metadata', 'user.app_metadata must be an object');
  if (!isObject(userMetadata)) throw new IdentityPayloadError('user.user_metadata', 'user.user_metadata must be an object');
  const lastSignIn = timestamp(raw.last_sign_in_at, 'user.last_sign_in_at', false);
  const loginAt = options.loginAt ?? null;
  return {
    id: id.toLowerCase(),
    email: email.trim().toLowerCase(),
    roles: rolesOf(appMetadata),
    appMetadata,
    userMetadata,
    createdAt: timestamp(raw.created_at, 'user.created_at', false),
    updatedAt: timestamp(raw.updated_at, 'user.updated_at', true)!,
    confirmedAt: timestamp(raw.confirmed_at, 'user.confirmed_at', false),
    lastLoginAt: [lastSignIn, loginAt].filter((t): t is string => t !== null).sort().at(-1) ?? null,
    instanceId: options.instanceId ?? null,
    observedAt: timestamp(options.observedAt, 'observedAt', true)!,
  };
}

/** Parses an event or webhook body. `now` (ISO) stamps last_login_at for login events. */
export function parseIdentityEvent(body: string, now: string): IdentityEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new IdentityPayloadError('body', 'the body must be JSON');
  }
  if (!isObject(parsed)) throw new IdentityPayloadError('body', 'the body must be a JSON object');
  const event = parsed.event;
  if (typeof event !== 'string' || !(IDENTITY_EVENTS as readonly string[]).includes(event)) {
    throw new IdentityPayloadError('event', `event must be one of ${IDENTITY_EVENTS.join(', ')}`);
  }
  const instanceId = parsed.instance_id;
  if (instanceId !== undefined && instanceId !== null && typeof instanceId !== 'string') {
    throw new IdentityPayloadError('instance_id', 'instance_id must be a string');
  }
  const user = toIdentityUser(parsed.user, { observedAt: now, instanceId: instanceId ?? null, loginAt: event === 'login' ? now : null });
  return { event: event as IdentityEventName, instanceId: instanceId ?? null, user, rawUser: parsed.user as Record<string, unknown> };
}
