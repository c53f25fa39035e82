import { nodeCrypto } from '../core/node-crypto.js';
import { toIdentityUser, IDENTITY_EVENTS, type IdentityEventName, type IdentityUser } from '../core/identity-user.js';
import { deliverToSinks } from './deliver.js';
import type { IdentitySink } from './sink.js';
import { RolegateError } from '../core/rolegate-error.js';

/**
 * Retrying a delivery that missed its deadline: the event function hands the
 * job to the `identity-sync-background` function (Netlify runs background
 * functions for up to 15 minutes and re-invokes a failed one after 1 and 2
 * minutes), which retries with backoff. Sinks are idempotent and ordered, so
 * a job that lands twice changes nothing the second time.
 */
export interface RetryJob {
  v: 1;
  event: IdentityEventName;
  user: IdentityUser;
  /** Only the sinks that failed. */
  sinks: string[];
  queuedAt: string;
}

export const RETRY_SIGNATURE_HEADER = 'x-rolegate-signature';
/** A job older than this is refused: it can only be a replay. */
export const RETRY_MAX_AGE_SECONDS = 3600;

/** The background function is a public URL; only a job signed with a key derived from JWT_SECRET is taken. */
export function retryKey(jwtSecret: string): Buffer {
  return nodeCrypto().createHmac('sha256', jwtSecret).update('rolegate identity-sync retry v1').digest();
}

export function signRetryJob(body: string, key: Buffer): string {
  return `sha256=${nodeCrypto().createHmac('sha256', key).update(body).digest('hex')}`;
}

export class RetryJobError extends RolegateError {
  constructor(readonly code: 'invalid_signature' | 'stale_job' | 'bad_request', message: string) {
    super(message);
    this.name = 'RetryJobError';
  }
}

/** Checks the signature first, then the shape and age of the job. */
export function openRetryJob(body: string, signature: string | undefined, key: Buffer, nowMs: number): RetryJob {
  const expected = Buffer.from(signRetryJob(body, key));
  const given = Buffer.from(signature ?? '');
  if (given.length !== expected.length || !nodeCrypto().timingSafeEqual(given, expected)) {
    throw new RetryJobError('invalid_signature', 'the retry job is not signed by this site');
  }
  let job: Partial<RetryJob>;
  try {
    job = JSON.parse(body) as Partial<RetryJob>;
  } catch {
    throw new RetryJobError('bad_request', 'the retry job is not JSON');
  }
  if (job.v !== 1 || !(IDENTITY_EVENTS as readonly string[]).includes(String(job.event)) || !Array.isArray(job.sinks)
    || typeof job.queuedAt !== 'string' || Number.isNaN(Date.parse(job.queuedAt))) {
    throw new RetryJobError('bad_request', 'the retry job is malformed');
  }
  if (nowMs - Date.parse(job.queuedAt) > RETRY_MAX_AGE_SECONDS * 1000) {
    throw new RetryJobError('stale_job', 'the retry job is too old');
  }
  // The user went through toIdentityUser before it was queued; check again, it is input.
  const u = job.user as IdentityUser;
  const user = toIdentityUser({
    id: u?.id, email: u?.email, app_metadata: u?.appMetadata, user_metadata: u?.userMetadata,
    created_at: u?.createdAt, updated_at: u?.updatedAt, confirmed_at: u?.confirmedAt, last_sign_in_at: u?.lastLoginAt,
  }, { observedAt: u?.observedAt ?? job.queuedAt, instanceId: u?.instanceId ?? null });
  return { v: 1, event: job.event as IdentityEventName, user, sinks: job.sinks.map(String), queuedAt: job.queuedAt };
}

export interface RetryOptions {
  /** Waits between attempts, in ms; the last one repeats until the budget is spent. */
  delaysMs: number[];
  budgetMs: number;
  deadlineMs: number;
  sleep: (ms: number) => Promise<void>;
  nowMs: () => number;
  log: (line: string) => void;
}

export const DEFAULT_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000, 32000, 60000];

/**
 * Delivers the job to its sinks until every one has taken it or the budget
 * is spent. Returns the sinks still failing (empty: done).
 */
export async function retryJob(job: RetryJob, sinks: IdentitySink[], options: RetryOptions): Promise<{ attempts: number; failing: string[] }> {
  let pending = sinks.filter((s) => job.sinks.includes(s.name));
  const started = options.nowMs();
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const outcome = await deliverToSinks(pending, [job.user], options.deadlineMs);
    for (const failure of outcome.failed) {
      options.log(`rolegate sync: ${failure.sink} still failing for identity user ${job.user.id} (attempt ${attempts}): ${failure.error}`);
    }
    pending = pending.filter((s) => !outcome.delivered.includes(s.name));
    if (pending.length === 0) return { attempts, failing: [] };
    const delay = options.delaysMs[Math.min(attempts - 1, options.delaysMs.length - 1)] ?? 1000;
    if (options.nowMs() + delay - started > options.budgetMs) return { attempts, failing: pending.map((s) => s.name) };
    await options.sleep(delay);
  }
}

