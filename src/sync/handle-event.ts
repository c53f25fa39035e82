import type { IdentityEvent, IdentityUser } from '../core/identity-user.js';
import type { IdentitySyncConfig } from '../site-config/identity.js';
import { deliverToSinks, describeFailure, within, type DeliveryOutcome } from './deliver.js';
import { rolesForSignup, signupRefusal } from './policy.js';
import type { RetryJob } from './retry.js';
import type { IdentitySink } from './sink.js';

export interface IdentityEventDeps {
  config: IdentitySyncConfig;
  sinks: IdentitySink[];
  /** How long the sinks get before the answer goes out anyway. */
  deadlineMs: number;
  /** Queues a retry (the background function in production). Must not throw. */
  handoff(job: RetryJob): Promise<void>;
  /** Best-effort record of a failed delivery (an audit row). Must not throw. */
  recordFailure(detail: { identityUserId: string; event: string; failed: DeliveryOutcome['failed'] }): Promise<void>;
  log(line: string): void;
  now(): Date;
}

/** How long queuing the retry and recording the failure may take, after the sinks' deadline. */
const AFTERMATH_MS = 1000;

/** What Identity gets back: GoTrue reads `app_metadata` from a 2xx body and `webhook_error` from a refusal. */
export type IdentityEventAnswer =
  | { kind: 'accept'; appMetadata?: Record<string, unknown>; sync: DeliveryOutcome | null }
  | { kind: 'refuse'; message: string };

/**
 * The one path every Identity event takes, from an event function or the
 * signed webhook: refuse a sign-up the rules do not allow, add the roles
 * the rules give, copy the user to every sink within the deadline, and hand
 * whatever failed to the retry. Never fails because a sink did.
 */
export async function handleIdentityEvent(deps: IdentityEventDeps, event: IdentityEvent): Promise<IdentityEventAnswer> {
  if (event.event === 'validate' || event.event === 'signup') {
    const refusal = signupRefusal(deps.config, event.user.email);
    if (refusal) return { kind: 'refuse', message: refusal };
  }
  // Validate comes before the user exists; only signup and login are copied.
  if (event.event === 'validate') return { kind: 'accept', sync: null };

  let user: IdentityUser = event.user;
  let appMetadata: Record<string, unknown> | undefined;
  if (event.event === 'signup') {
    const added = rolesForSignup(deps.config, user.email).filter((r) => !user.roles.includes(r));
    if (added.length > 0) {
      const roles = [...user.roles, ...added];
      // Identity replaces app_metadata with what we answer: keep every key it
      // had (provider above all) and change only roles.
      const existing = (event.rawUser.app_metadata ?? {}) as Record<string, unknown>;
      appMetadata = { ...existing, roles };
      user = { ...user, roles, appMetadata };
    }
  }

  const sync = await deliverToSinks(deps.sinks, [user], deps.deadlineMs);
  if (sync.failed.length > 0) {
    for (const failure of sync.failed) {
      deps.log(`rolegate sync: ${failure.sink} failed for identity user ${user.id} on ${event.event}; queued for retry: ${failure.error}`);
    }
    const job: RetryJob = { v: 1, event: event.event, user, sinks: sync.failed.map((f) => f.sink), queuedAt: deps.now().toISOString() };
    // Both are bounded too: the store being down is the likely reason we are here.
    await Promise.all([
      within(AFTERMATH_MS, deps.handoff(job)).catch((error: unknown) => deps.log(`rolegate sync: could not queue the retry for identity user ${user.id}: ${describeFailure(error)}`)),
      within(AFTERMATH_MS, deps.recordFailure({ identityUserId: user.id, event: event.event, failed: sync.failed })).catch(() => undefined),
    ]);
  }
  return { kind: 'accept', ...(appMetadata ? { appMetadata } : {}), sync };
}
