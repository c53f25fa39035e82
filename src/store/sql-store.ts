import type {
  AuditEntry, CreateSessionResult, CreateUserResult, ImportResult, NewSession, NewUser,
  RevokeSessionResult, RevokeSessionsEverywhereResult, RevokeUserSessionsResult, RotateRequest, RotateResult, Store,
  LoginLookup, ThrottleQuery, ThrottleStatus, UpdateResult, User, UserWithPasswordHash,
  IdentityUpsertReport, MirroredIdentityUser, AccountMailRequest, AccountMailResult, EmailTokenState,
  PasswordReset, PasswordResetResult, TokenRefusal, OutboxMail, MailOutcome,
  SignupRequest, SignupResult, TokenSignIn, TokenSignInResult, InviteRequest, InviteResult,
  LiveSession, ChangePasswordResult, EmailChangeRequest, EmailChangeResult, EmailChangeWithTokenResult,
  PasswordLinkSignIn, PasswordLinkSignInResult, MetadataUpdateResult, EmailChangeInSessionResult,
  ProviderSignIn, ProviderSignInResult, LinkedIdentity, UnlinkIdentityResult,
  AdminActor, AdminUser, AdminUserDetail, AuditRecord,
} from './store.js';
import type { EmailTokenPurpose } from '../core/email-token.js';
import type { IdentityUser } from '../core/identity-user.js';
import { StoreContractError } from './errors.js';

/** Marks an argument that the SQL function declares as jsonb. */
export class Json {
  constructor(readonly value: unknown) {}
}

export type SqlArgument = string | number | boolean | null | string[] | number[] | Json;

/**
 * What an adapter must provide: call `rolegate.<name>(arg => value, …)` and
 * hand back its single jsonb result, parsed. Connection failures must be
 * thrown as StoreUnavailableError.
 */
export interface FunctionCaller {
  readonly kind: Store['kind'];
  call(name: string, args: Record<string, SqlArgument | undefined>): Promise<unknown>;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** True for the canonical textual form of a UUID, the only form the store accepts as an id. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

type Row = Record<string, unknown>;

function asRow(value: unknown, what: string): Row {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new StoreContractError(`rolegate.${what} returned ${value === null ? 'null' : typeof value}, expected an object`);
  }
  return value as Row;
}

/** The fields a rolegate user and a mirrored Identity user share, in the SQL functions' snake_case. */
function identityFields(row: Row) {
  return {
    id: String(row.id),
    email: String(row.email),
    roles: Array.isArray(row.roles) ? row.roles.map(String) : [],
    appMetadata: (row.app_metadata as Record<string, unknown>) ?? {},
    userMetadata: (row.user_metadata as Record<string, unknown>) ?? {},
  };
}

function toUser(value: unknown): User {
  const row = asRow(value, 'user_json');
  return {
    ...identityFields(row),
    tokenVersion: Number(row.token_version ?? 0),
    disabledAt: (row.disabled_at as string | null) ?? null,
    emailConfirmedAt: (row.email_confirmed_at as string | null) ?? null,
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function toAdminUser(value: unknown): AdminUser {
  const row = asRow(value, 'admin_user_json');
  return { ...toUser(row), hasPassword: row.has_password === true, lastSignInAt: (row.last_sign_in_at as string | null) ?? null };
}

function toLinkedIdentity(value: unknown): LinkedIdentity {
  const row = asRow(value, 'identity_json');
  return {
    id: String(row.id), provider: String(row.provider), email: row.email === null ? null : String(row.email),
    createdAt: String(row.created_at), lastSignInAt: String(row.last_sign_in_at),
  };
}

/** An admin change's actor as the SQL functions take it (a non-UUID `by` names no one). */
function actorArguments(actor: AdminActor) {
  return { p_by: actor.by !== undefined && isUuid(actor.by) ? actor.by : null, p_ip: actor.ip ?? null };
}

/** The login throttle as login_throttle_status, record_login_failure and begin_login take it. */
function loginThrottleArguments(throttle: ThrottleQuery) {
  return {
    p_keys: throttle.keys.map((k) => k.key),
    p_limits: throttle.keys.map((k) => k.maxFailures),
    p_window_seconds: throttle.windowSeconds,
  };
}

/** A request throttle as the SQL functions take it: parallel arrays of keys and limits. */
function throttleArguments(throttle: ThrottleQuery) {
  return {
    p_throttle_keys: throttle.keys.map((k) => k.key),
    p_throttle_limits: throttle.keys.map((k) => k.maxFailures),
    p_window_seconds: throttle.windowSeconds,
  };
}

/** find_user_for_login's answer: the user with their hash, or null for an unknown address. */
function toLoginUser(value: unknown): UserWithPasswordHash | null {
  if (value === null || value === undefined) return null;
  return { ...toUser(value), passwordHash: (asRow(value, 'find_user_for_login').password_hash as string | null) ?? null };
}

function toThrottle(value: unknown): ThrottleStatus {
  const row = asRow(value, 'login_throttle_status');
  return { throttled: row.throttled === true, retryAfterSeconds: Number(row.retry_after_seconds ?? 0) };
}

const TOKEN_PURPOSES = new Set(['signup', 'recovery', 'invite', 'email_change', 'magic_link']);
const TOKEN_REFUSALS = new Set(['used', 'expired', 'wrong_purpose', 'not_found']);

function toMail(value: unknown): OutboxMail {
  const row = asRow(value, 'mail_json');
  const time = (v: unknown) => (v === null || v === undefined ? null : new Date(String(v)).toISOString());
  return {
    id: Number(row.id),
    createdAt: time(row.created_at)!,
    recipient: String(row.recipient),
    template: String(row.template),
    variables: (row.variables as Record<string, unknown>) ?? {},
    sealed: typeof row.sealed === 'string' ? row.sealed : null,
    attempts: Number(row.attempts ?? 0),
    nextAttemptAt: time(row.next_attempt_at)!,
    sentAt: time(row.sent_at),
    failedAt: time(row.failed_at),
    lastError: typeof row.last_error === 'string' ? row.last_error : null,
  };
}

function mailList(value: unknown, what: string): OutboxMail[] {
  if (!Array.isArray(value)) throw new StoreContractError(`rolegate.${what} returned ${typeof value}, expected an array`);
  return value.map(toMail);
}

/** The Store, written once over any FunctionCaller. */
function toMirrored(row: Row): MirroredIdentityUser {
  const time = (v: unknown) => (v === null || v === undefined ? null : new Date(String(v)).toISOString());
  return {
    ...identityFields(row),
    createdAt: time(row.created_at),
    updatedAt: time(row.updated_at)!,
    observedAt: time(row.observed_at)!,
    confirmedAt: time(row.confirmed_at),
    lastLoginAt: time(row.last_login_at),
    instanceId: (row.instance_id as string | null) ?? null,
    syncedAt: time(row.synced_at)!,
  };
}

export class SqlStore implements Store {
  readonly kind: Store['kind'];

  constructor(private readonly db: FunctionCaller) {
    this.kind = db.kind;
  }

  async findUserForLogin(email: string): Promise<UserWithPasswordHash | null> {
    return toLoginUser(await this.db.call('find_user_for_login', { p_email: email }));
  }

  async beginLogin(request: ThrottleQuery & { email: string }): Promise<LoginLookup> {
    const row = asRow(await this.db.call('begin_login', {
      p_email: request.email,
      ...loginThrottleArguments(request),
    }), 'begin_login');
    if (row.throttled === true) return { throttled: true, retryAfterSeconds: Number(row.retry_after_seconds ?? 0) };
    return { throttled: false, user: toLoginUser(row.user) };
  }

  async findUserById(id: string): Promise<User | null> {
    if (!isUuid(id)) return null;
    const row = await this.db.call('find_user', { p_user_id: id });
    return row === null || row === undefined ? null : toUser(row);
  }

  async findUserByEmail(email: string): Promise<User | null> {
    const row = await this.db.call('find_user', { p_email: email });
    return row === null || row === undefined ? null : toUser(row);
  }

  async listUsers(options: { limit?: number; offset?: number } = {}): Promise<User[]> {
    const rows = await this.db.call('list_users', { p_limit: options.limit ?? 100, p_offset: options.offset ?? 0 });
    if (!Array.isArray(rows)) throw new StoreContractError('rolegate.list_users did not return an array');
    return rows.map(toUser);
  }

  async createUser(user: NewUser): Promise<CreateUserResult> {
    const row = asRow(await this.db.call('create_user', {
      p_email: user.email,
      p_password_hash: user.passwordHash,
      p_roles: user.roles ?? [],
      p_app_metadata: new Json(user.appMetadata ?? {}),
      p_user_metadata: new Json(user.userMetadata ?? {}),
      p_id: user.id ?? null,
    }), 'create_user');
    return row.status === 'created' ? { status: 'created', user: toUser(row.user) } : { status: 'email_taken' };
  }

  async importUsers(users: NewUser[]): Promise<ImportResult> {
    const payload = users.map((u) => ({
      id: u.id, email: u.email, password_hash: u.passwordHash, roles: u.roles ?? [],
      app_metadata: u.appMetadata ?? {}, user_metadata: u.userMetadata ?? {},
    }));
    const row = asRow(await this.db.call('import_users', { p_users: new Json(payload) }), 'import_users');
    return { created: Number(row.created), skipped: Number(row.skipped) };
  }

  private async update(name: string, args: Record<string, SqlArgument>): Promise<UpdateResult> {
    const row = asRow(await this.db.call(name, args), name);
    return row.status === 'updated' ? { status: 'updated', user: toUser(row.user) } : { status: 'not_found' };
  }

  async setUserRoles(userId: string, roles: string[], actor: AdminActor = {}): Promise<UpdateResult> {
    if (!isUuid(userId)) return { status: 'not_found' };
    return this.update('set_user_roles', { p_user_id: userId, p_roles: roles, ...actorArguments(actor) });
  }

  async searchUsers(search: { query: string; role?: string; limit: number; offset: number }): Promise<{ total: number; users: AdminUser[] }> {
    const row = asRow(await this.db.call('search_users', { p_query: search.query, p_role: search.role ?? null, p_limit: search.limit, p_offset: search.offset }), 'search_users');
    if (!Array.isArray(row.users)) throw new StoreContractError('rolegate.search_users returned no users array');
    return { total: Number(row.total), users: row.users.map(toAdminUser) };
  }

  async adminUserDetail(userId: string): Promise<AdminUserDetail | null> {
    if (!isUuid(userId)) return null;
    const value = await this.db.call('admin_user_detail', { p_user_id: userId });
    if (value === null || value === undefined) return null;
    const row = asRow(value, 'admin_user_detail');
    if (!Array.isArray(row.sessions) || !Array.isArray(row.identities)) throw new StoreContractError('rolegate.admin_user_detail returned no sessions or identities');
    return {
      user: toAdminUser(row.user),
      sessions: row.sessions.map((v) => {
        const s = asRow(v, 'admin_user_detail session');
        return {
          id: String(s.id), createdAt: String(s.created_at), lastSeenAt: String(s.last_seen_at),
          userAgent: s.user_agent === null ? null : String(s.user_agent), ip: s.ip === null ? null : String(s.ip), live: s.live === true,
          revokedAt: s.revoked_at === null ? null : String(s.revoked_at), revokedReason: s.revoked_reason === null ? null : String(s.revoked_reason),
        };
      }),
      identities: row.identities.map(toLinkedIdentity),
    };
  }

  async listAudit(page: { userId?: string; before?: number; limit: number }): Promise<AuditRecord[]> {
    if (page.userId !== undefined && !isUuid(page.userId)) return [];
    const rows = await this.db.call('list_audit', { p_user_id: page.userId ?? null, p_before: page.before ?? null, p_limit: page.limit });
    if (!Array.isArray(rows)) throw new StoreContractError('rolegate.list_audit returned no array');
    return rows.map((v) => {
      const a = asRow(v, 'list_audit');
      return {
        id: Number(a.id), at: String(a.at), event: String(a.event), userId: a.user_id === null ? null : String(a.user_id),
        sessionId: a.session_id === null ? null : String(a.session_id), ip: a.ip === null ? null : String(a.ip), detail: (a.detail as Record<string, unknown>) ?? {},
      };
    });
  }

  async setFirstPassword(which: { userId: string; passwordHash: string }): Promise<{ status: 'updated' | 'already_set' | 'not_found' }> {
    if (!isUuid(which.userId)) return { status: 'not_found' };
    // set_user_password sets only a password that is still null (migration 20261202000100).
    const row = asRow(await this.db.call('set_user_password', { p_user_id: which.userId, p_password_hash: which.passwordHash }), 'set_user_password');
    return { status: row.status === 'updated' || row.status === 'already_set' ? row.status : 'not_found' };
  }

  async upgradePasswordHash(which: { userId: string; from: string; to: string }): Promise<{ status: 'updated' | 'unchanged' }> {
    if (!isUuid(which.userId)) return { status: 'unchanged' };
    const row = asRow(await this.db.call('upgrade_password_hash', { p_user_id: which.userId, p_old_hash: which.from, p_new_hash: which.to }), 'upgrade_password_hash');
    return { status: row.status === 'updated' ? 'updated' : 'unchanged' };
  }

  async setUserDisabled(userId: string, disabled: boolean, actor: AdminActor = {}): Promise<UpdateResult> {
    if (!isUuid(userId)) return { status: 'not_found' };
    return this.update('set_user_disabled', { p_user_id: userId, p_disabled: disabled, ...actorArguments(actor) });
  }

  async revokeUserSessions(userId: string, reason = 'revoked', actor: AdminActor = {}): Promise<RevokeUserSessionsResult> {
    if (!isUuid(userId)) return { status: 'not_found' };
    const row = asRow(await this.db.call('revoke_user_sessions', { p_user_id: userId, p_reason: reason, ...actorArguments(actor) }), 'revoke_user_sessions');
    return row.status === 'revoked' ? { status: 'revoked', sessions: Number(row.sessions) } : { status: 'not_found' };
  }

  async revokeSessionsEverywhere(which: { sessionId: string; userId: string; reason?: string }): Promise<RevokeSessionsEverywhereResult> {
    if (!isUuid(which.sessionId) || !isUuid(which.userId)) return { status: 'not_live' };
    const row = asRow(await this.db.call('revoke_sessions_everywhere', {
      p_session_id: which.sessionId, p_user_id: which.userId, p_reason: which.reason ?? 'logout_everywhere',
    }), 'revoke_sessions_everywhere');
    return row.status === 'revoked' ? { status: 'revoked', sessions: Number(row.sessions) } : { status: 'not_live' };
  }

  async createSession(session: NewSession): Promise<CreateSessionResult> {
    const row = asRow(await this.db.call('create_session', {
      p_user_id: session.userId,
      p_refresh_token_hash: session.refreshTokenHash,
      p_refresh_ttl_seconds: session.refreshTtlSeconds,
      p_user_agent: session.userAgent ?? null,
      p_ip: session.ip ?? null,
      p_clear_throttle_keys: session.clearThrottleKeys ?? [],
      ...(session.refuseIfThrottled ? throttleArguments(session.refuseIfThrottled) : {}),
    }), 'create_session');
    if (row.status === 'throttled') return { status: 'throttled', retryAfterSeconds: Number(row.retry_after_seconds ?? 0) };
    if (row.status !== 'created') return { status: 'user_unavailable' };
    return { status: 'created', sessionId: String(row.session_id), user: toUser(row.user) };
  }

  async rotateRefreshToken(request: RotateRequest): Promise<RotateResult> {
    const row = asRow(await this.db.call('rotate_refresh_token', {
      p_token_hash: request.tokenHash,
      p_successor_hash: request.successorHash,
      p_refresh_ttl_seconds: request.refreshTtlSeconds,
      p_grace_seconds: request.graceSeconds,
      p_client: request.client ?? null,
    }), 'rotate_refresh_token');
    const sessionId = String(row.session_id);
    switch (row.status) {
      case 'rotated':
        return { status: 'rotated', sessionId, expiresAt: String(row.expires_at), user: toUser(row.user) };
      case 'reused':
      case 'revoked':
        return { status: row.status, sessionId, userId: String(row.user_id) };
      case 'conflict':
      case 'expired':
        return { status: row.status, sessionId };
      case 'not_found':
        return { status: 'not_found' };
      default:
        throw new StoreContractError(`rolegate.rotate_refresh_token returned an unknown status`);
    }
  }

  async revokeSession(which: { sessionId?: string; refreshTokenHash?: string; reason?: string }): Promise<RevokeSessionResult> {
    if (which.sessionId !== undefined && !isUuid(which.sessionId)) return { status: 'not_found' };
    if (which.sessionId === undefined && which.refreshTokenHash === undefined) return { status: 'not_found' };
    const row = asRow(await this.db.call('revoke_session', {
      p_session_id: which.sessionId ?? null,
      p_refresh_token_hash: which.refreshTokenHash ?? null,
      p_reason: which.reason ?? 'logout',
    }), 'revoke_session');
    return row.status === 'revoked'
      ? { status: 'revoked', sessionId: String(row.session_id), userId: String(row.user_id) }
      : { status: 'not_found' };
  }

  async loginThrottleStatus(query: ThrottleQuery): Promise<ThrottleStatus> {
    return toThrottle(await this.db.call('login_throttle_status', loginThrottleArguments(query)));
  }

  async recordLoginFailure(query: ThrottleQuery & { userId?: string; ip?: string }): Promise<ThrottleStatus> {
    return toThrottle(await this.db.call('record_login_failure', {
      ...loginThrottleArguments(query),
      p_user_id: query.userId ?? null,
      p_ip: query.ip ?? null,
    }));
  }

  async audit(entry: AuditEntry): Promise<void> {
    await this.db.call('audit', {
      p_event: entry.event,
      p_user_id: entry.userId ?? null,
      p_session_id: entry.sessionId ?? null,
      p_ip: entry.ip ?? null,
      p_detail: new Json(entry.detail ?? {}),
    });
  }

  async requestAccountMail(request: AccountMailRequest): Promise<AccountMailResult> {
    const row = asRow(await this.db.call('request_account_mail', {
      p_purpose: request.purpose,
      p_email: request.email,
      p_token_hash: request.tokenHash,
      p_ttl_seconds: request.ttlSeconds,
      p_sealed: request.sealed,
      ...throttleArguments(request.throttle),
      p_ip: request.ip ?? null,
    }), 'request_account_mail');
    if (row.status === 'queued' || row.status === 'no_account') return { status: row.status };
    if (row.status === 'throttled') return { status: 'throttled', retryAfterSeconds: Number(row.retry_after_seconds ?? 0) };
    throw new StoreContractError('rolegate.request_account_mail returned an unknown status');
  }

  async emailTokenStatus(tokenHash: string): Promise<EmailTokenState> {
    const row = asRow(await this.db.call('email_token_status', { p_token_hash: tokenHash }), 'email_token_status');
    if (row.status === 'not_found') return { status: 'not_found' };
    if ((row.status === 'valid' || row.status === 'used' || row.status === 'expired') && TOKEN_PURPOSES.has(String(row.purpose))) {
      return { status: row.status, purpose: row.purpose as EmailTokenPurpose, email: String(row.email) };
    }
    throw new StoreContractError('rolegate.email_token_status returned an unknown status');
  }

  async resetPasswordWithToken(reset: PasswordReset): Promise<PasswordResetResult> {
    const row = asRow(await this.db.call('reset_password_with_token', {
      p_token_hash: reset.tokenHash,
      p_password_hash: reset.passwordHash,
      p_refresh_token_hash: reset.refreshTokenHash,
      p_refresh_ttl_seconds: reset.refreshTtlSeconds,
      p_user_agent: reset.userAgent ?? null,
      p_ip: reset.ip ?? null,
    }), 'reset_password_with_token');
    if (row.status === 'reset') return { status: 'reset', sessionId: String(row.session_id), user: toUser(row.user) };
    if (row.status === 'user_unavailable') return { status: 'user_unavailable' };
    if (TOKEN_REFUSALS.has(String(row.status))) return { status: row.status as TokenRefusal };
    throw new StoreContractError('rolegate.reset_password_with_token returned an unknown status');
  }

  async requestSignup(request: SignupRequest): Promise<SignupResult> {
    const fn = request.userMetadata ? 'request_signup_with_metadata' : 'request_signup';
    const row = asRow(await this.db.call(fn, {
      p_email: request.email,
      p_password_hash: request.passwordHash,
      p_roles: request.roles,
      p_confirmed: request.confirmed,
      p_token_hash: request.tokenHash,
      p_ttl_seconds: request.ttlSeconds,
      p_sealed: request.sealed,
      ...throttleArguments(request.throttle),
      ...(request.userMetadata ? { p_user_metadata: new Json(request.userMetadata) } : {}),
      p_ip: request.ip ?? null,
    }), fn);
    if (row.status === 'created') return { status: 'created', user: toUser(row.user) };
    if (row.status === 'queued' || row.status === 'exists') return { status: row.status };
    if (row.status === 'throttled') return { status: 'throttled', retryAfterSeconds: Number(row.retry_after_seconds ?? 0) };
    throw new StoreContractError(`rolegate.${fn} returned an unknown status`);
  }

  async signInWithToken(request: TokenSignIn): Promise<TokenSignInResult> {
    return this.linkSignIn('sign_in_with_token', request, ['signup', 'magic_link']);
  }

  async inviteUser(request: InviteRequest): Promise<InviteResult> {
    if ((request.invitedBy !== undefined && !isUuid(request.invitedBy)) || (request.inviterSessionId !== undefined && !isUuid(request.inviterSessionId))) return { status: 'not_live' };
    const row = asRow(await this.db.call('invite_user', {
      p_email: request.email,
      p_roles: request.roles,
      p_token_hash: request.tokenHash,
      p_ttl_seconds: request.ttlSeconds,
      p_sealed: request.sealed,
      ...throttleArguments(request.throttle),
      p_invited_by: request.invitedBy ?? null,
      p_inviter_session: request.inviterSessionId ?? null,
      p_ip: request.ip ?? null,
    }), 'invite_user');
    if (row.status === 'not_live') return { status: 'not_live' };
    if (row.status === 'invited' || row.status === 'resent') return { status: row.status, user: toUser(row.user) };
    if (row.status === 'exists') return { status: 'exists', user: row.user ? toUser(row.user) : null };
    if (row.status === 'throttled') return { status: 'throttled', retryAfterSeconds: Number(row.retry_after_seconds ?? 0) };
    throw new StoreContractError('rolegate.invite_user returned an unknown status');
  }

  async sessionIsLive(session: LiveSession): Promise<boolean> {
    if (!isUuid(session.userId) || !isUuid(session.sessionId)) return false;
    return (await this.db.call('session_is_live', { p_user_id: session.userId, p_session_id: session.sessionId })) === true;
  }

  async changePassword(change: LiveSession & { passwordHash: string; ip?: string }): Promise<ChangePasswordResult> {
    if (!isUuid(change.userId) || !isUuid(change.sessionId)) return { status: 'not_live' };
    const row = asRow(await this.db.call('change_password', {
      p_user_id: change.userId, p_session_id: change.sessionId, p_password_hash: change.passwordHash, p_ip: change.ip ?? null,
    }), 'change_password');
    if (row.status === 'changed') return { status: 'changed', sessionsEnded: Number(row.sessions_ended ?? 0) };
    if (row.status === 'not_live') return { status: 'not_live' };
    throw new StoreContractError('rolegate.change_password returned an unknown status');
  }

  async requestEmailChange(request: EmailChangeRequest): Promise<EmailChangeResult> {
    if (!isUuid(request.userId) || !isUuid(request.sessionId)) return { status: 'not_live' };
    const row = asRow(await this.db.call('request_email_change', {
      p_user_id: request.userId,
      p_session_id: request.sessionId,
      p_new_email: request.newEmail,
      p_token_hash: request.tokenHash,
      p_ttl_seconds: request.ttlSeconds,
      p_sealed: request.sealed,
      ...throttleArguments(request.throttle),
      p_ip: request.ip ?? null,
    }), 'request_email_change');
    if (row.status === 'queued' || row.status === 'unchanged' || row.status === 'not_live') return { status: row.status };
    if (row.status === 'throttled') return { status: 'throttled', retryAfterSeconds: Number(row.retry_after_seconds ?? 0) };
    throw new StoreContractError('rolegate.request_email_change returned an unknown status');
  }

  async changeEmailWithToken(request: Omit<TokenSignIn, 'purposes'>): Promise<EmailChangeWithTokenResult> {
    const row = asRow(await this.db.call('change_email_with_token', {
      p_token_hash: request.tokenHash,
      p_refresh_token_hash: request.refreshTokenHash,
      p_refresh_ttl_seconds: request.refreshTtlSeconds,
      p_user_agent: request.userAgent ?? null,
      p_ip: request.ip ?? null,
    }), 'change_email_with_token');
    if (row.status === 'changed') return { status: 'changed', sessionId: String(row.session_id), user: toUser(row.user) };
    if (row.status === 'email_taken' || row.status === 'user_unavailable') return { status: row.status };
    if (TOKEN_REFUSALS.has(String(row.status))) return { status: row.status as TokenRefusal };
    throw new StoreContractError('rolegate.change_email_with_token returned an unknown status');
  }

  async signInWithPasswordLink(request: PasswordLinkSignIn): Promise<PasswordLinkSignInResult> {
    return this.linkSignIn('sign_in_with_password_link', request, ['recovery', 'invite']);
  }

  /** A link that signs in, through `fn` (which consumes the token, confirms the address and starts the session), for a purpose of `kinds`. */
  private async linkSignIn<P extends EmailTokenPurpose>(fn: string, request: Omit<TokenSignIn, 'purposes'> & { purposes: P[] }, kinds: readonly P[]):
    Promise<{ status: 'signed_in'; purpose: P; sessionId: string; user: User } | { status: TokenRefusal } | { status: 'user_unavailable' }> {
    const row = asRow(await this.db.call(fn, {
      p_token_hash: request.tokenHash,
      p_purposes: request.purposes,
      p_refresh_token_hash: request.refreshTokenHash,
      p_refresh_ttl_seconds: request.refreshTtlSeconds,
      p_user_agent: request.userAgent ?? null,
      p_ip: request.ip ?? null,
    }), fn);
    if (row.status === 'signed_in' && (kinds as readonly unknown[]).includes(row.purpose)) {
      return { status: 'signed_in', purpose: row.purpose as P, sessionId: String(row.session_id), user: toUser(row.user) };
    }
    if (row.status === 'user_unavailable') return { status: 'user_unavailable' };
    if (TOKEN_REFUSALS.has(String(row.status))) return { status: row.status as TokenRefusal };
    throw new StoreContractError(`rolegate.${fn} returned an unknown status`);
  }

  async sessionIsRecent(session: LiveSession & { seconds: number }): Promise<boolean> {
    if (!isUuid(session.userId) || !isUuid(session.sessionId)) return false;
    const seconds = Math.max(0, Math.floor(session.seconds));
    return (await this.db.call('session_is_recent', { p_user_id: session.userId, p_session_id: session.sessionId, p_seconds: seconds })) === true;
  }

  async updateUserMetadata(update: { userId: string; patch: Record<string, unknown>; sessionId?: string }): Promise<MetadataUpdateResult> {
    if (!isUuid(update.userId)) return { status: 'not_found' };
    if (update.sessionId !== undefined && !isUuid(update.sessionId)) return { status: 'not_live' };
    const row = asRow(await this.db.call('update_user_metadata', {
      p_user_id: update.userId, p_patch: new Json(update.patch), p_session_id: update.sessionId ?? null,
    }), 'update_user_metadata');
    if (row.status === 'updated') return { status: 'updated', user: toUser(row.user) };
    if (row.status === 'not_live' || row.status === 'not_found') return { status: row.status };
    throw new StoreContractError('rolegate.update_user_metadata returned an unknown status');
  }

  async changeEmailInSession(request: LiveSession & { tokenHash: string; ip?: string }): Promise<EmailChangeInSessionResult> {
    if (!isUuid(request.userId) || !isUuid(request.sessionId)) return { status: 'not_live' };
    const row = asRow(await this.db.call('change_email_in_session', {
      p_token_hash: request.tokenHash, p_user_id: request.userId, p_session_id: request.sessionId, p_ip: request.ip ?? null,
    }), 'change_email_in_session');
    if (row.status === 'changed') return { status: 'changed', user: toUser(row.user) };
    if (row.status === 'email_taken' || row.status === 'not_live') return { status: row.status };
    if (TOKEN_REFUSALS.has(String(row.status))) return { status: row.status as TokenRefusal };
    throw new StoreContractError('rolegate.change_email_in_session returned an unknown status');
  }

  async deleteUser(which: { userId: string; by?: string; ip?: string }): Promise<{ status: 'deleted' | 'not_found' }> {
    if (!isUuid(which.userId)) return { status: 'not_found' };
    const row = asRow(await this.db.call('delete_user', {
      p_user_id: which.userId, p_by: which.by !== undefined && isUuid(which.by) ? which.by : null, p_ip: which.ip ?? null,
    }), 'delete_user');
    if (row.status === 'deleted' || row.status === 'not_found') return { status: row.status };
    throw new StoreContractError('rolegate.delete_user returned an unknown status');
  }

  async signInWithProvider(request: ProviderSignIn): Promise<ProviderSignInResult> {
    const row = asRow(await this.db.call('sign_in_with_provider', {
      p_provider: request.provider,
      p_subject: request.subject,
      p_email: request.email,
      p_email_verified: request.emailVerified,
      p_state_hash: request.stateHash,
      p_state_ttl_seconds: Math.max(0, Math.ceil(request.stateTtlSeconds)),
      p_may_create: request.mayCreate,
      p_new_roles: request.newUserRoles,
      p_refresh_token_hash: request.refreshTokenHash,
      p_refresh_ttl_seconds: request.refreshTtlSeconds,
      p_user_agent: request.userAgent ?? null,
      p_ip: request.ip ?? null,
    }), 'sign_in_with_provider');
    if (row.status === 'signed_in' && (row.outcome === 'signed_in' || row.outcome === 'linked' || row.outcome === 'created')) {
      return { status: 'signed_in', outcome: row.outcome, sessionId: String(row.session_id), user: toUser(row.user) };
    }
    if (row.status === 'state_used' || row.status === 'email_unverified' || row.status === 'registration_closed' || row.status === 'user_unavailable') {
      return { status: row.status };
    }
    throw new StoreContractError('rolegate.sign_in_with_provider returned an unknown status');
  }

  async listIdentities(userId: string): Promise<LinkedIdentity[]> {
    if (!isUuid(userId)) return [];
    const rows = await this.db.call('list_identities', { p_user_id: userId });
    if (!Array.isArray(rows)) throw new StoreContractError('rolegate.list_identities returned no array');
    return rows.map(toLinkedIdentity);
  }

  async unlinkIdentity(request: LiveSession & { identityId: string; ip?: string }): Promise<UnlinkIdentityResult> {
    if (!isUuid(request.userId) || !isUuid(request.sessionId)) return { status: 'not_live' };
    // An id that is no UUID names no identity, but the session is still asked first, as for any other.
    const identityId = isUuid(request.identityId) ? request.identityId : NIL_UUID;
    const row = asRow(await this.db.call('unlink_identity', {
      p_user_id: request.userId, p_session_id: request.sessionId, p_identity_id: identityId, p_ip: request.ip ?? null,
    }), 'unlink_identity');
    if (row.status === 'removed' || row.status === 'not_found' || row.status === 'not_live' || row.status === 'last_sign_in_method') return { status: row.status };
    throw new StoreContractError('rolegate.unlink_identity returned an unknown status');
  }

  async claimMail(claim: { limit: number; leaseSeconds: number }): Promise<OutboxMail[]> {
    return mailList(await this.db.call('claim_mail', { p_limit: claim.limit, p_lease_seconds: claim.leaseSeconds }), 'claim_mail');
  }

  async finishMail(outcome: MailOutcome): Promise<void> {
    await this.db.call('finish_mail', {
      p_id: outcome.id,
      p_sent: outcome.sent,
      p_error: outcome.error ?? null,
      p_retry_seconds: outcome.retrySeconds ?? 60,
      p_permanent: outcome.permanent ?? false,
    });
  }

  async listMail(query: { limit?: number; state?: 'pending' | 'sent' | 'failed' }): Promise<OutboxMail[]> {
    return mailList(await this.db.call('list_mail', { p_limit: query.limit ?? 50, p_state: query.state ?? null }), 'list_mail');
  }

  async retryMail(id?: number): Promise<{ mails: number }> {
    const row = asRow(await this.db.call('retry_mail', { p_id: id ?? null }), 'retry_mail');
    return { mails: Number(row.mails ?? 0) };
  }

  async upsertIdentityUsers(users: IdentityUser[]): Promise<IdentityUpsertReport> {
    if (users.length === 0) return { created: 0, updated: 0, unchanged: 0, stale: 0 };
    const rows = users.map((u) => ({
      id: u.id, email: u.email, roles: u.roles, app_metadata: u.appMetadata, user_metadata: u.userMetadata,
      created_at: u.createdAt, updated_at: u.updatedAt, observed_at: u.observedAt, confirmed_at: u.confirmedAt,
      last_login_at: u.lastLoginAt, instance_id: u.instanceId,
    }));
    const row = asRow(await this.db.call('upsert_identity_users', { p_users: new Json(rows) }), 'upsert_identity_users');
    return { created: Number(row.created), updated: Number(row.updated), unchanged: Number(row.unchanged), stale: Number(row.stale) };
  }

  async findIdentityUser(which: { id?: string; email?: string }): Promise<MirroredIdentityUser | null> {
    if (which.id !== undefined && !isUuid(which.id)) return null;
    const value = await this.db.call('find_identity_user', { p_id: which.id ?? null, p_email: which.id === undefined ? (which.email ?? null) : null });
    if (value === null || value === undefined) return null;
    return toMirrored(asRow(value, 'find_identity_user'));
  }

  async listUsersWithoutPassword(page: { limit: number; afterEmail?: string }): Promise<User[]> {
    const value = await this.db.call('list_users_without_password', { p_limit: page.limit, p_after_email: page.afterEmail ?? null });
    if (!Array.isArray(value)) throw new StoreContractError(`rolegate.list_users_without_password returned ${typeof value}, expected an array`);
    return value.map(toUser);
  }

  async listIdentityUsers(page: { limit: number; afterEmail?: string }): Promise<MirroredIdentityUser[]> {
    const value = await this.db.call('list_identity_users', { p_limit: page.limit, p_after_email: page.afterEmail ?? null });
    if (!Array.isArray(value)) throw new StoreContractError(`rolegate.list_identity_users returned ${typeof value}, expected an array`);
    return value.map((row) => toMirrored(asRow(row, 'list_identity_users')));
  }

  async getSyncCursor(name: string): Promise<Record<string, unknown> | null> {
    const value = await this.db.call('get_sync_cursor', { p_name: name });
    return value === null || value === undefined ? null : asRow(value, 'get_sync_cursor');
  }

  async setSyncCursor(name: string, cursor: Record<string, unknown> | null): Promise<void> {
    await this.db.call('set_sync_cursor', { p_name: name, p_cursor: cursor === null ? null : new Json(cursor) });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
