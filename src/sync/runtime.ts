import { readDatabaseConfig, type Env } from '../core/config.js';
import { openStore } from '../store/open-store.js';
import { identityConfigSchema, type IdentitySyncConfig } from './config.js';
import { SyncConfigError, type GetSyncDeps, type SyncDeps } from './handlers.js';
import { DEFAULT_RETRY_DELAYS_MS, RETRY_SIGNATURE_HEADER, retryKey, signRetryJob, type RetryJob } from './retry.js';
import { SinkConfigError, openSinks } from './sinks.js';

/** GoTrue waits 5 s for a hook: the sinks' deadline plus the 1 s aftermath must stay well under it. */
const DEFAULT_DEADLINE_MS = 2500;
const MAX_DEADLINE_MS = 3500;
const RETRY_BUDGET_MS = 10 * 60 * 1000;
const HANDOFF_TIMEOUT_MS = 1000;
export const RETRY_FUNCTION_PATH = '/.netlify/functions/identity-sync-background';

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new SyncConfigError(`${name} must be a whole number from ${min} to ${max}`);
  return value;
}

function required(env: Env, name: string, why: string): string {
  const value = env[name];
  if (!value) throw new SyncConfigError(`${name} is required ${why}`);
  return value;
}

/** Queues a retry by calling this site's own background function, signed so nobody else can. */
export function httpHandoff(siteUrl: string, key: Buffer, fetchImpl: typeof fetch = fetch): (job: RetryJob) => Promise<void> {
  return async (job) => {
    const body = JSON.stringify(job);
    const response = await fetchImpl(new URL(RETRY_FUNCTION_PATH, siteUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', [RETRY_SIGNATURE_HEADER]: signRetryJob(body, key) },
      body,
      signal: AbortSignal.timeout(HANDOFF_TIMEOUT_MS),
    });
    // A background function answers 202 at once.
    if (response.status !== 202 && !response.ok) throw new Error(`the retry function answered ${response.status}`);
  };
}

/**
 * What a sync function instance sets up: the `identity` section of
 * rolegate.config.json and the environment, checked at the first request,
 * and a store opened once and kept.
 */
export function syncRuntime(env: Env, siteConfig: unknown): GetSyncDeps {
  let deps: Promise<SyncDeps> | undefined;
  const build = async (): Promise<SyncDeps> => {
    const raw = (siteConfig as { identity?: unknown } | null)?.identity ?? {};
    const parsed = identityConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SyncConfigError(`rolegate.config.json identity${issue?.path.length ? `.${issue.path.join('.')}` : ''} ${issue?.message ?? 'is invalid'}`);
    }
    // Everything the environment can get wrong is checked before the store is opened.
    const jwtSecret = required(env, 'JWT_SECRET', 'to sign retry jobs');
    const deadlineMs = integer(env, 'IDENTITY_SYNC_DEADLINE_MS', DEFAULT_DEADLINE_MS, 100, MAX_DEADLINE_MS);
    const maxAgeSeconds = integer(env, 'IDENTITY_WEBHOOK_MAX_AGE_SECONDS', 300, 10, 3600);
    const siteUrl = env.URL || env.ROLEGATE_SITE_URL || 'http://localhost:8888';
    const store = await openStore(readDatabaseConfig(env));
    const key = retryKey(jwtSecret);
    const log = (line: string) => console.error(line);
    return {
      config: parsed.data,
      store,
      sinks: await openSinks(parsed.data, env, store).catch(async (error: unknown) => {
        await store.close().catch(() => undefined);
        throw error instanceof SinkConfigError ? new SyncConfigError(error.message) : error;
      }),
      deadlineMs,
      handoff: httpHandoff(siteUrl, key),
      recordFailure: async ({ identityUserId, event, failed }) => {
        await store.audit({ event: 'identity_sync_failed', detail: { identity_user_id: identityUserId, event, failed } });
      },
      log,
      now: () => new Date(),
      webhook: {
        secret: env.IDENTITY_WEBHOOK_SECRET ? new TextEncoder().encode(env.IDENTITY_WEBHOOK_SECRET) : null,
        instanceId: env.IDENTITY_INSTANCE_ID || undefined,
        maxAgeSeconds,
      },
      retryKey: key,
      retry: {
        delaysMs: DEFAULT_RETRY_DELAYS_MS,
        budgetMs: RETRY_BUDGET_MS,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        nowMs: () => Date.now(),
      },
    };
  };
  return () => {
    deps ??= build().catch((error: unknown) => {
      deps = undefined;
      throw error;
    });
    return deps;
  };
}
