import { ConfigError, readConfig, readIdentitySyncEnv, type Env } from '../core/environment.js';
import { openStoreOnFirstUse } from '../store/open-store.js';
import type { IdentitySyncConfig } from '../site-config/identity.js';
import { SyncConfigError, type GetSyncDeps, type SyncDeps } from './handlers.js';
import { DEFAULT_RETRY_DELAYS_MS, RETRY_SIGNATURE_HEADER, retryKey, signRetryJob, type RetryJob } from './retry.js';
import { SinkConfigError, openSinks } from './sinks.js';

const RETRY_BUDGET_MS = 10 * 60 * 1000;
const HANDOFF_TIMEOUT_MS = 1000;
export const RETRY_FUNCTION_PATH = '/.netlify/functions/identity-sync-background';

/** Runs the shared environment checks, gathering their problems instead of throwing at the first. */
function checked<T>(problems: string[], read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    return undefined;
  }
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
 * What a sync function instance sets up at its first request: the `identity`
 * section of rolegate.config.json (checked at build time, see
 * src/site-config/compiled.ts, so zod stays out of the bundle), the environment, and a
 * store opened by the first call that needs it, then kept.
 */
export function syncRuntime(env: Env, identityConfig: () => IdentitySyncConfig): GetSyncDeps {
  let deps: Promise<SyncDeps> | undefined;
  const build = async (): Promise<SyncDeps> => {
    let identity: IdentitySyncConfig;
    try {
      identity = identityConfig();
    } catch (error) {
      // A table compiled from another config (src/site-config/compiled.ts) says what to run.
      throw new SyncConfigError(error instanceof Error ? error.message : String(error));
    }
    // The same checks as every other function (JWT_SECRET signs retry jobs,
    // SITE_URL/URL is where the background function lives), then the sync's own.
    const problems: string[] = [];
    const site = checked(problems, () => readConfig(env));
    const syncEnv = checked(problems, () => readIdentitySyncEnv(env));
    if (!site || !syncEnv) throw new SyncConfigError(problems.join('; '));
    const store = openStoreOnFirstUse(site.database);
    // Derived on first use: an answer that queues or checks no retry job never loads node:crypto.
    let key: Buffer | undefined;
    const jobKey = () => (key ??= retryKey(site.auth.jwtSecret.reveal()));
    const log = (line: string) => console.error(line);
    return {
      config: identity,
      store,
      sinks: await openSinks(identity, env, store).catch((error: unknown) => {
        throw error instanceof SinkConfigError ? new SyncConfigError(error.message) : error;
      }),
      deadlineMs: syncEnv.deadlineMs,
      handoff: (job) => httpHandoff(site.auth.siteUrl.origin, jobKey())(job),
      recordFailure: async ({ identityUserId, event, failed }) => {
        await store.audit({ event: 'identity_sync_failed', detail: { identity_user_id: identityUserId, event, failed } });
      },
      log,
      now: () => new Date(),
      webhook: {
        secret: syncEnv.webhookSecret?.bytes() ?? null,
        instanceId: syncEnv.instanceId,
        maxAgeSeconds: syncEnv.webhookMaxAgeSeconds,
      },
      get retryKey() {
        return jobKey();
      },
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
