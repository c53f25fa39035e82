/**
 * The Identity sync endpoints as Lambda-style handlers: identity-validate,
 * identity-signup and identity-login (Netlify calls them on Identity events),
 * identity-webhook (Identity's signed outgoing webhook) and
 * identity-sync-background (the retry). netlify/functions/*.ts only wire
 * these to the environment.
 */
import type { HandlerEvent, HandlerResponse } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { IdentityPayloadError, parseIdentityEvent, type IdentityEvent, type IdentityEventName } from '../core/identity-user.js';
import { header, rawBodyBytes } from '../http/request.js';
import { json } from '../http/respond.js';
import { isUnavailable } from '../store/errors.js';
import type { Store } from '../store/store.js';
import { describeFailure } from './deliver.js';
import { handleIdentityEvent, type IdentityEventAnswer, type IdentityEventDeps } from './handle-event.js';
import { RETRY_SIGNATURE_HEADER, RetryJobError, openRetryJob, retryJob, type RetryOptions } from './retry.js';
import { syncError } from './respond.js';
import { WebhookError, verifyWebhookSignature } from './webhook.js';
import { RolegateError } from '../core/rolegate-error.js';

export interface SyncDeps extends IdentityEventDeps {
  store: Store;
  /** null: IDENTITY_WEBHOOK_SECRET is not set, so the webhook refuses everything. */
  webhook: { secret: Uint8Array | null; instanceId?: string; maxAgeSeconds: number };
  retryKey: Buffer;
  retry: Omit<RetryOptions, 'log' | 'deadlineMs'>;
}

export type GetSyncDeps = () => Promise<SyncDeps>;
type Handler = (event: HandlerEvent) => Promise<HandlerResponse>;

/**
 * Identity users carry metadata: far more room than the login form's 16 KiB,
 * since a refused event is a refused sign-in.
 */
const MAX_EVENT_BYTES = 1024 * 1024;

/** A configuration problem: said in the log with its cause, and as 503 not_configured to the caller. */
export class SyncConfigError extends RolegateError {
  readonly code = 'sync_not_configured';
  constructor(message: string) {
    super(message);
    this.name = 'SyncConfigError';
  }
}

function answer(result: IdentityEventAnswer): HandlerResponse {
  if (result.kind === 'refuse') {
    // GoTrue shows `webhook_error` to the person whose sign-up was refused.
    return syncError('signup_not_allowed', result.message, { webhook_error: result.message });
  }
  // A body without app_metadata leaves the user as it is; with it, Identity
  // replaces app_metadata by what is sent (handleIdentityEvent kept the rest).
  return json(200, result.appMetadata ? { app_metadata: result.appMetadata } : {});
}

/** identity-login with a misconfigured sync: logged, and answered 200 so the sign-in goes on. */
class LoginPassThrough extends Error {}

function failure(error: unknown, log: (line: string) => void): HandlerResponse {
  if (error instanceof LoginPassThrough) {
    log(`rolegate sync: not configured, login not copied: ${error.message}`);
    return json(200, {});
  }
  if (error instanceof IdentityPayloadError) return syncError('bad_request', error.message, { field: error.field });
  if (error instanceof WebhookError) return syncError(error.code, error.message);
  if (error instanceof RetryJobError) return syncError(error.code === 'bad_request' ? 'bad_request' : error.code === 'stale_job' ? 'stale_signature' : 'invalid_signature', error.message);
  if (error instanceof AuthError && error.code === 'payload_too_large') return syncError('payload_too_large', 'The body is too large.');
  if (error instanceof AuthError && error.code === 'bad_request') return syncError('bad_request', error.message);
  if (error instanceof SyncConfigError) {
    log(`rolegate sync: not configured: ${error.message}`);
    return syncError('not_configured', 'Identity sync is not configured on this site; see the function log.');
  }
  if (isUnavailable(error)) return syncError('unavailable', 'The database is temporarily unavailable.', {}, { 'Retry-After': '5' });
  log(`rolegate sync: unexpected ${describeFailure(error)}`);
  return syncError('internal', 'Something went wrong on our side.');
}

function requirePost(event: HandlerEvent): HandlerResponse | null {
  if (event.httpMethod === 'POST') return null;
  return syncError('method_not_allowed', 'Use POST.', {}, { Allow: 'POST' });
}

/** POST only; every failure, including a bad configuration, becomes a JSON answer and a log line. */
function syncHandler(getDeps: GetSyncDeps, handle: (event: HandlerEvent, deps: SyncDeps) => Promise<HandlerResponse>): Handler {
  return async (event) => {
    const refused = requirePost(event);
    if (refused) return refused;
    let log = (line: string) => console.error(line);
    try {
      const deps = await getDeps();
      log = deps.log;
      return await handle(event, deps);
    } catch (error) {
      return failure(error, log);
    }
  };
}

function parse(event: HandlerEvent, now: Date): { raw: Buffer; parsed: IdentityEvent } {
  const raw = rawBodyBytes(event, MAX_EVENT_BYTES);
  return { raw, parsed: parseIdentityEvent(raw.toString('utf8'), now.toISOString()) };
}

/** identity-validate / identity-signup / identity-login: Netlify calls each with its own event. */
export function identityEventHandler(expected: IdentityEventName, getDeps: GetSyncDeps): Handler {
  // A login has no rule to apply: if the sync is misconfigured, say so in the
  // log and let the person in rather than block every sign-in.
  const get: GetSyncDeps = expected !== 'login' ? getDeps : async () => getDeps().catch((error: unknown) => {
    if (error instanceof SyncConfigError) throw new LoginPassThrough(error.message);
    throw error;
  });
  return syncHandler(get, async (event, deps) => {
    const { parsed } = parse(event, deps.now());
    if (parsed.event !== expected) {
      return syncError('wrong_event', `This function takes "${expected}" events; the body is a "${parsed.event}" event.`);
    }
    return answer(await handleIdentityEvent(deps, parsed));
  });
}

function instanceIdOf(raw: Buffer): string | null {
  try {
    const value = (JSON.parse(raw.toString('utf8')) as { instance_id?: unknown }).instance_id;
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** identity-webhook: the signature is checked against the exact bytes before anything is parsed or stored. */
export function identityWebhookHandler(getDeps: GetSyncDeps): Handler {
  return syncHandler(getDeps, async (event, deps) => {
    if (!deps.webhook.secret) throw new SyncConfigError('IDENTITY_WEBHOOK_SECRET is not set, so no webhook can be verified');
    const raw = rawBodyBytes(event, MAX_EVENT_BYTES);
    await verifyWebhookSignature(raw.toString('utf8'), header(event, 'x-webhook-signature'), instanceIdOf(raw), {
      secret: deps.webhook.secret,
      instanceId: deps.webhook.instanceId,
      maxAgeSeconds: deps.webhook.maxAgeSeconds,
      now: Math.floor(deps.now().getTime() / 1000),
    });
    // A second delivery of the same signed request is answered like the
    // first: GoTrue re-sends the identical signature when its 5 s timed out,
    // and refusing it would fail the sign-in. Sinks are idempotent and the
    // signature is fresh and bound to this body, so a replay changes nothing.
    const parsed = parseIdentityEvent(raw.toString('utf8'), deps.now().toISOString());
    return answer(await handleIdentityEvent(deps, parsed));
  });
}

/**
 * identity-sync-background: retries a delivery queued by an event. Netlify
 * answers the caller 202 itself; a job still failing when the budget is spent
 * is thrown so that Netlify runs the function again (after 1 and 2 minutes).
 */
export function identityRetryHandler(getDeps: GetSyncDeps): Handler {
  return async (event) => {
    const refused = requirePost(event);
    if (refused) return refused;
    const deps = await getDeps().catch((error: unknown) => {
      throw error instanceof SyncConfigError ? error : new Error(`rolegate sync: retry could not start: ${describeFailure(error)}`);
    });
    let job;
    try {
      const raw = rawBodyBytes(event, MAX_EVENT_BYTES).toString('utf8');
      job = openRetryJob(raw, header(event, RETRY_SIGNATURE_HEADER), deps.retryKey, deps.now().getTime());
    } catch (error) {
      return failure(error, deps.log);
    }
    const result = await retryJob(job, deps.sinks, { ...deps.retry, deadlineMs: deps.deadlineMs, log: deps.log });
    if (result.failing.length > 0) {
      throw new Error(`rolegate sync: ${result.failing.join(', ')} still failing for identity user ${job.user.id} after ${result.attempts} attempts`);
    }
    deps.log(`rolegate sync: identity user ${job.user.id} delivered to ${job.sinks.join(', ')} after ${result.attempts} attempt(s)`);
    await deps.store.audit({ event: 'identity_sync_recovered', detail: { identity_user_id: job.user.id, sinks: job.sinks, attempts: result.attempts } }).catch(() => undefined);
    return json(200, { delivered: job.sinks, attempts: result.attempts });
  };
}
