import type { EmailTokenPurpose } from '../core/email-token.js';
import type { IdentityUser } from '../core/identity-user.js';

/**
 * The storage boundary: verbs of the domain, nothing generic. Every adapter
 * implements it by calling the same SQL functions from supabase/migrations,
 * so the adapters cannot disagree about what a change means.
 */

export interface User {
  id: string;
  email: string;
  roles: string[];
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  tokenVersion: number;
  disabledAt: string | null;
  /** When the address was shown to reach its owner (null: a sign-up or invitation not yet confirmed). */
  emailConfirmedAt?: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Only the login path ever sees a hash. */
export interface UserWithPasswordHash extends User {
  passwordHash: string | null;
}

export interface NewUser {
  id?: string;
  email: string;
  passwordHash: string | null;
  roles?: string[];
  appMetadata?: Record<string, unknown>;
  userMetadata?: Record<string, unknown>;
}

export type CreateUserResult = { status: 'created'; user: User } | { status: 'email_taken' };

export interface ImportResult {
  created: number;
  skipped: number;
}

export type UpdateResult = { status: 'updated'; user: User } | { status: 'not_found' };

export interface NewSession {
  userId: string;
  refreshTokenHash: string;
  refreshTtlSeconds: number;
  userAgent?: string;
  ip?: string;
  /** Throttle keys to reset now that the password was right. */
  clearThrottleKeys?: string[];
  /** Asked first, in the same call: with any key past its limit nothing is written (`throttled`). */
  refuseIfThrottled?: ThrottleQuery;
}

export type CreateSessionResult =
  | { status: 'created'; sessionId: string; user: User }
  | { status: 'user_unavailable' }
  | { status: 'throttled'; retryAfterSeconds: number };

/** The throttle and the account of a sign-in, read in one call; a throttled sign-in reads no account. */
export type LoginLookup =
  | { throttled: true; retryAfterSeconds: number }
  | { throttled: false; user: UserWithPasswordHash | null };

export interface RotateRequest {
  tokenHash: string;
  successorHash: string;
  refreshTtlSeconds: number;
  graceSeconds: number;
  /**
   * Who presents the token (a hash; see clientKey in src/auth/refresh.ts). A
   * rotated token is answered again within the grace interval only for the
   * client that rotated it, and only while its successor is unused; otherwise
   * it is reuse. Absent: the caller cannot tell, and only the second rule holds.
   */
  client?: string;
}

export type RotateResult =
  | { status: 'rotated'; sessionId: string; expiresAt: string; user: User }
  | { status: 'reused'; sessionId: string; userId: string }
  | { status: 'revoked'; sessionId: string; userId: string }
  | { status: 'conflict'; sessionId: string }
  | { status: 'expired'; sessionId: string }
  | { status: 'not_found' };

export type RevokeSessionResult =
  | { status: 'revoked'; sessionId: string; userId: string }
  | { status: 'not_found' };

export type RevokeUserSessionsResult = { status: 'revoked'; sessions: number } | { status: 'not_found' };

/** `not_live`: the proving session was revoked, belongs to someone else, or its user was disabled or revoked since; nothing changed. */
export type RevokeSessionsEverywhereResult = { status: 'revoked'; sessions: number } | { status: 'not_live' };

export interface ThrottleKey {
  key: string;
  maxFailures: number;
}

export interface ThrottleQuery {
  keys: ThrottleKey[];
  windowSeconds: number;
}

export interface ThrottleStatus {
  throttled: boolean;
  retryAfterSeconds: number;
}

/** Who made an admin change, for its audit row: the acting admin (none from the CLI) and their client address. */
export interface AdminActor {
  by?: string;
  ip?: string;
}

/** A user as the admin page lists one. */
export interface AdminUser extends User {
  /** False for an invitation not yet taken or an Identity import never signed in. */
  hasPassword: boolean;
  lastSignInAt: string | null;
}

export interface AdminSession {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  userAgent: string | null;
  ip: string | null;
  /** Not ended, of the user's current token_version, the user enabled: its refresh token still works. */
  live: boolean;
  revokedAt: string | null;
  revokedReason: string | null;
}

export interface AdminUserDetail {
  user: AdminUser;
  /** Newest first, ended ones too. */
  sessions: AdminSession[];
  identities: LinkedIdentity[];
}

export interface AuditRecord {
  id: number;
  at: string;
  event: string;
  userId: string | null;
  sessionId: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

export interface AuditEntry {
  event: string;
  userId?: string;
  sessionId?: string;
  ip?: string;
  detail?: Record<string, unknown>;
}

/** What an upsert of Identity users did: every user lands in exactly one count. */
export interface IdentityUpsertReport {
  created: number;
  updated: number;
  unchanged: number;
  /** Older than what the mirror already holds: ignored. */
  stale: number;
}

export type MirroredIdentityUser = IdentityUser & { syncedAt: string };

/** A mail with a link for an existing account (recovery, link sign-in); `throttle` limits requests, not failures. */
export interface AccountMailRequest {
  purpose: 'recovery' | 'magic_link';
  email: string;
  tokenHash: string;
  ttlSeconds: number;
  /** The link, sealed for the outbox (src/mail/seal.ts). */
  sealed: string;
  throttle: ThrottleQuery;
  ip?: string;
}

export type AccountMailResult =
  | { status: 'queued' }
  | { status: 'no_account' }
  | { status: 'throttled'; retryAfterSeconds: number };

export type EmailTokenState =
  | { status: 'valid' | 'used' | 'expired'; purpose: EmailTokenPurpose; email: string }
  | { status: 'not_found' };

/** Why a token was not consumed. */
export type TokenRefusal = 'used' | 'expired' | 'wrong_purpose' | 'not_found';

export interface PasswordReset {
  tokenHash: string;
  passwordHash: string;
  refreshTokenHash: string;
  refreshTtlSeconds: number;
  userAgent?: string;
  ip?: string;
}

export type PasswordResetResult =
  | { status: 'reset'; sessionId: string; user: User }
  | { status: TokenRefusal }
  | { status: 'user_unavailable' };

/** A visitor's sign-up; `confirmed`: no confirmation mail is asked for, the user is confirmed at once. */
export interface SignupRequest {
  email: string;
  passwordHash: string;
  roles: string[];
  confirmed: boolean;
  tokenHash: string;
  ttlSeconds: number;
  sealed: string;
  throttle: ThrottleQuery;
  ip?: string;
  /** Kept as the new account's user_metadata (Identity's clients send it with the sign-up); a known address is left alone. */
  userMetadata?: Record<string, unknown>;
}

/**
 * `created`: a confirmed user, ready to sign in; `queued`: a confirmation mail is on its way;
 * `exists`: the address has an account, nothing of it changed (its owner may be mailed).
 */
export type SignupResult =
  | { status: 'created'; user: User }
  | { status: 'queued' | 'exists' }
  | { status: 'throttled'; retryAfterSeconds: number };

/** A link that signs in (a sign-up confirmation, a link sign-in), for any of `purposes`. */
export interface TokenSignIn {
  tokenHash: string;
  purposes: Array<'signup' | 'magic_link'>;
  refreshTokenHash: string;
  refreshTtlSeconds: number;
  userAgent?: string;
  ip?: string;
}

export type TokenSignInResult =
  | { status: 'signed_in'; purpose: 'signup' | 'magic_link'; sessionId: string; user: User }
  | { status: TokenRefusal }
  | { status: 'user_unavailable' };

/** A recovery or invitation link used to sign in before any password is chosen (Identity's clients do that). */
export interface PasswordLinkSignIn extends Omit<TokenSignIn, 'purposes'> {
  purposes: Array<'recovery' | 'invite'>;
}

export type PasswordLinkSignInResult =
  | { status: 'signed_in'; purpose: 'recovery' | 'invite'; sessionId: string; user: User }
  | { status: TokenRefusal }
  | { status: 'user_unavailable' };

export type EmailChangeInSessionResult =
  | { status: 'changed'; user: User }
  | { status: TokenRefusal }
  | { status: 'email_taken' | 'not_live' };

export type MetadataUpdateResult = { status: 'updated'; user: User } | { status: 'not_live' | 'not_found' };

export interface InviteRequest {
  email: string;
  roles: string[];
  tokenHash: string;
  ttlSeconds: number;
  sealed: string;
  throttle: ThrottleQuery;
  /** The inviting admin and the session they invite from (which must be live); both absent at the terminal. */
  invitedBy?: string;
  inviterSessionId?: string;
  ip?: string;
}

/** `invited`: a new user; `resent`: a user without a password got a new link; `exists`: left alone (has a password, or disabled). */
export type InviteResult =
  | { status: 'invited' | 'resent'; user: User }
  | { status: 'exists'; user: User | null }
  | { status: 'not_live' }
  | { status: 'throttled'; retryAfterSeconds: number };

/** A signed-in user's session, the proof every change to their own account needs. */
export interface LiveSession {
  userId: string;
  sessionId: string;
}

export type ChangePasswordResult = { status: 'changed'; sessionsEnded: number } | { status: 'not_live' };

export interface EmailChangeRequest extends LiveSession {
  newEmail: string;
  tokenHash: string;
  ttlSeconds: number;
  sealed: string;
  throttle: ThrottleQuery;
  ip?: string;
}

/** `queued` also when another account holds the address (nothing is sent then): the answer tells nobody. */
export type EmailChangeResult =
  | { status: 'queued' | 'unchanged' | 'not_live' }
  | { status: 'throttled'; retryAfterSeconds: number };

export type EmailChangeWithTokenResult =
  | { status: 'changed'; sessionId: string; user: User }
  | { status: TokenRefusal }
  | { status: 'email_taken' | 'user_unavailable' };

/** One row of the outbox. `sealed` is only handed to delivery (claimMail). */
export interface OutboxMail {
  id: number;
  createdAt: string;
  recipient: string;
  template: string;
  variables: Record<string, unknown>;
  sealed: string | null;
  attempts: number;
  nextAttemptAt: string;
  sentAt: string | null;
  failedAt: string | null;
  lastError: string | null;
}

export interface MailOutcome {
  id: number;
  sent: boolean;
  error?: string;
  retrySeconds?: number;
  /** The mail server refused this mail for good: no automatic retry. */
  permanent?: boolean;
}

/** A sign-in a provider vouched for (src/auth/provider-sign-in.ts); `stateHash` is used once. */
export interface ProviderSignIn {
  provider: string;
  subject: string;
  /** The address the provider gave, and whether the provider says it verified it. */
  email: string | null;
  emailVerified: boolean;
  stateHash: string;
  /** How long the used state is remembered: as long as its cookie could still be presented. */
  stateTtlSeconds: number;
  /** The registration policy's answer for a new user with this address. */
  mayCreate: boolean;
  newUserRoles: string[];
  refreshTokenHash: string;
  refreshTtlSeconds: number;
  userAgent?: string;
  ip?: string;
}

/** `linked`: an existing user got this identity now; `created`: a new user. */
export type ProviderSignInResult =
  | { status: 'signed_in'; outcome: 'signed_in' | 'linked' | 'created'; sessionId: string; user: User }
  | { status: 'state_used' | 'email_unverified' | 'registration_closed' | 'user_unavailable' };

/** A provider identity linked to a user, as the account page lists it. */
export interface LinkedIdentity {
  id: string;
  provider: string;
  /** The address the provider gave when it was linked. */
  email: string | null;
  createdAt: string;
  lastSignInAt: string;
}

export type UnlinkIdentityResult = { status: 'removed' | 'not_found' | 'not_live' | 'last_sign_in_method' };

export interface Store {
  /** Which adapter this is, for logs and `rolegate` output. */
  readonly kind: 'embedded' | 'postgres' | 'supabase';

  findUserForLogin(email: string): Promise<UserWithPasswordHash | null>;
  /** A sign-in's first call: the throttle for `keys`, then, unless it refuses, findUserForLogin(email). */
  beginLogin(request: ThrottleQuery & { email: string }): Promise<LoginLookup>;
  findUserById(id: string): Promise<User | null>;
  findUserByEmail(email: string): Promise<User | null>;
  listUsers(options?: { limit?: number; offset?: number }): Promise<User[]>;
  /** Enabled users who never chose a password (pending invitations, Identity imports never signed in), by address, `limit` at a time after `afterEmail`. */
  listUsersWithoutPassword(page: { limit: number; afterEmail?: string }): Promise<User[]>;
  createUser(user: NewUser): Promise<CreateUserResult>;
  /** All rows or none; existing emails/ids are skipped, never overwritten. */
  importUsers(users: NewUser[]): Promise<ImportResult>;
  setUserRoles(userId: string, roles: string[], actor?: AdminActor): Promise<UpdateResult>;
  /** Users whose address contains `query` (any case; '' for all), holding `role` when given, by address; `total` counts every match. */
  searchUsers(search: { query: string; role?: string; limit: number; offset: number }): Promise<{ total: number; users: AdminUser[] }>;
  /** One user with their latest sessions and linked providers, or null. */
  adminUserDetail(userId: string): Promise<AdminUserDetail | null>;
  /** The audit log newest first, everything or one user's; `before` (an id) pages back. */
  listAudit(page: { userId?: string; before?: number; limit: number }): Promise<AuditRecord[]>;
  /**
   * Gives a user who has no password one (an Identity user imported from the mirror, at their
   * first login), only while it is still unset: a parallel first login or a password set
   * meanwhile is never overwritten (`already_set`).
   */
  setFirstPassword(which: { userId: string; passwordHash: string }): Promise<{ status: 'updated' | 'already_set' | 'not_found' }>;
  /** Replaces the hash only while it is still `from` (a rehash at login, not a password change). */
  upgradePasswordHash(which: { userId: string; from: string; to: string }): Promise<{ status: 'updated' | 'unchanged' }>;
  setUserDisabled(userId: string, disabled: boolean, actor?: AdminActor): Promise<UpdateResult>;
  revokeUserSessions(userId: string, reason?: string, actor?: AdminActor): Promise<RevokeUserSessionsResult>;
  /** "Sign out everywhere": like revokeUserSessions, but only while `sessionId` (the caller's proof) is a live session of `userId`. */
  revokeSessionsEverywhere(which: { sessionId: string; userId: string; reason?: string }): Promise<RevokeSessionsEverywhereResult>;

  createSession(session: NewSession): Promise<CreateSessionResult>;
  rotateRefreshToken(request: RotateRequest): Promise<RotateResult>;
  revokeSession(which: { sessionId?: string; refreshTokenHash?: string; reason?: string }): Promise<RevokeSessionResult>;

  loginThrottleStatus(query: ThrottleQuery): Promise<ThrottleStatus>;
  recordLoginFailure(query: ThrottleQuery & { userId?: string; ip?: string }): Promise<ThrottleStatus>;
  audit(entry: AuditEntry): Promise<void>;

  /** Counts the request, then, for an enabled user only, writes the token and its mail together. */
  requestAccountMail(request: AccountMailRequest): Promise<AccountMailResult>;
  /** What a mailed token is, without using it. */
  emailTokenStatus(tokenHash: string): Promise<EmailTokenState>;
  /** Consumes a recovery or invitation token, sets the password, ends every session and starts a new one, in one transaction. */
  resetPasswordWithToken(reset: PasswordReset): Promise<PasswordResetResult>;
  /** Counts the request, then makes the user, its token and its mail together, or mails an existing account's owner. */
  requestSignup(request: SignupRequest): Promise<SignupResult>;
  /** Consumes a sign-in link's token, confirms the address and starts a session, in one transaction. */
  signInWithToken(request: TokenSignIn): Promise<TokenSignInResult>;
  /** Counts the request, then makes the invitee (or renews a passwordless user's link) with its token and mail. */
  inviteUser(request: InviteRequest): Promise<InviteResult>;
  /** Whether `sessionId` is a live session of `userId` (not revoked, the user enabled, its token_version current). */
  sessionIsLive(session: LiveSession): Promise<boolean>;
  /** Sets a new password while `sessionId` is live; every other session of the user ends. */
  changePassword(change: LiveSession & { passwordHash: string; ip?: string }): Promise<ChangePasswordResult>;
  /** Counts the request, then mails a confirmation link to the new address and a notice to the old one. */
  requestEmailChange(request: EmailChangeRequest): Promise<EmailChangeResult>;
  /** Consumes an address change link, moves the address and starts a session, in one transaction. */
  changeEmailWithToken(request: Omit<TokenSignIn, 'purposes'>): Promise<EmailChangeWithTokenResult>;
  /** Consumes a recovery or invitation link's token, confirms the address and starts a session, leaving the password as it is. */
  signInWithPasswordLink(request: PasswordLinkSignIn): Promise<PasswordLinkSignInResult>;
  /** Whether `sessionId` is live (as sessionIsLive) and started less than `seconds` ago. */
  sessionIsRecent(session: LiveSession & { seconds: number }): Promise<boolean>;
  /** Merges `patch` into user_metadata (null removes a key); with `sessionId`, only while that session is live. */
  updateUserMetadata(update: { userId: string; patch: Record<string, unknown>; sessionId?: string }): Promise<MetadataUpdateResult>;
  /** Consumes `userId`'s own address change link inside their live session `sessionId`, starting no new session. */
  changeEmailInSession(request: LiveSession & { tokenHash: string; ip?: string }): Promise<EmailChangeInSessionResult>;
  /** Deletes a user with their sessions, links and waiting mail; the audit log keeps the event and who did it. */
  deleteUser(which: { userId: string; by?: string; ip?: string }): Promise<{ status: 'deleted' | 'not_found' }>;

  /** Signs in through a provider identity, linking it or making the user as ProviderSignIn allows, in one transaction. */
  signInWithProvider(request: ProviderSignIn): Promise<ProviderSignInResult>;
  listIdentities(userId: string): Promise<LinkedIdentity[]>;
  /** Removes one of the user's identities from their live session, never their last way to sign in. */
  unlinkIdentity(request: LiveSession & { identityId: string; ip?: string }): Promise<UnlinkIdentityResult>;

  /** Up to `limit` due mails, each leased to this caller for `leaseSeconds`. */
  claimMail(claim: { limit: number; leaseSeconds: number }): Promise<OutboxMail[]>;
  finishMail(outcome: MailOutcome): Promise<void>;
  /** The outbox, newest first, without the sealed parts. */
  listMail(query: { limit?: number; state?: 'pending' | 'sent' | 'failed' }): Promise<OutboxMail[]>;
  /** Makes every unsent mail (or the one with `id`) due now. */
  retryMail(id?: number): Promise<{ mails: number }>;

  /** The Identity mirror: one statement per batch, ordered by (updatedAt, observedAt) (see the migration). */
  upsertIdentityUsers(users: IdentityUser[]): Promise<IdentityUpsertReport>;
  findIdentityUser(which: { id?: string; email?: string }): Promise<MirroredIdentityUser | null>;
  /** The mirror by address (the newest copy of each), `limit` at a time after `afterEmail`. */
  listIdentityUsers(page: { limit: number; afterEmail?: string }): Promise<MirroredIdentityUser[]>;
  /** A resumable job's position; null when it has none (never run, or finished). */
  getSyncCursor(name: string): Promise<Record<string, unknown> | null>;
  setSyncCursor(name: string, cursor: Record<string, unknown> | null): Promise<void>;

  close(): Promise<void>;
}
