import { ConfigError, readConfig, readIdentitySyncEnv, type Env } from '../core/config.js';
import { openStoreOnFirstUse } from '../store/open-store.js';
import { identityConfigSchema, type IdentitySyncConfig } from './config.js';
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
 * What a sync function instance sets up: the `identity` section of
 * rolegate.config.json and the environment, checked at the first request,
 * and a store opened by the first call that needs it, then kept.
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
    // The same checks as every other function (JWT_SECRET signs retry jobs,
    // SITE_URL/URL is where the background function lives), then the sync's own.
    const problems: string[] = [];
    const site = checked(problems, () => readConfig(env));
    const syncEnv = checked(problems, () => readIdentitySyncEnv(env));
    if (!site || !syncEnv) throw new SyncConfigError(problems.join('; '));
    const store = openStoreOnFirstUse(site.database);
    const key = retryKey(site.auth.jwtSecret.reveal());
    const log = (line: string) => console.error(line);
    return {
      config: parsed.data,
      store,
      sinks: await openSinks(parsed.data, env, store).catch((error: unknown) => {
        throw error instanceof SinkConfigError ? new SyncConfigError(error.message) : error;
      }),
      deadlineMs: syncEnv.deadlineMs,
      handoff: httpHandoff(site.auth.siteUrl.origin, key),
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
