import { PostgrestClient } from '@supabase/postgrest-js';
import { SqlStore, Json, type FunctionCaller, type SqlArgument } from './sql-store.js';
import { StoreUnavailableError } from './errors.js';

export interface SupabaseStoreOptions {
  /** The project URL, e.g. https://abcd.supabase.co */
  url: string;
  /** The service-role key: the only key the rolegate functions may call with. Never log it. */
  serviceRoleKey: string;
  /** Upper bound for each call, so a dead project answers 503 in bounded time. */
  timeoutMs?: number;
  /** For tests and unusual runtimes. */
  fetch?: typeof fetch;
}

/** PostgREST answered with an error body: the request reached the database and was refused. */
export class StoreRequestError extends Error {
  constructor(message: string, readonly code: string, readonly status: number) {
    super(message);
    this.name = 'StoreRequestError';
  }
}

function plain(args: Record<string, SqlArgument | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined) continue;
    out[key] = value instanceof Json ? value.value : value;
  }
  return out;
}

class SupabaseCaller implements FunctionCaller {
  readonly kind = 'supabase' as const;
  readonly #client: PostgrestClient<any, any, 'rolegate'>;

  constructor(options: SupabaseStoreOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    const baseFetch = options.fetch ?? fetch;
    const timedFetch: typeof fetch = (input, init) =>
      baseFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs) });
    // PostgREST's own client, which supabase-js's createClient wraps as `.rest`,
    // with the headers createClient would send for this key. The rest of
    // supabase-js (auth, realtime, storage) is never used here and would add
    // about 230 KB to every bundle that may reach this store.
    // The rolegate schema must be among the project's exposed schemas
    // (Dashboard → Project Settings → API → Exposed schemas, or `[api] schemas`
    // in supabase/config.toml); the client sends it as Content-Profile.
    this.#client = new PostgrestClient(`${options.url.replace(/\/$/, '')}/rest/v1`, {
      schema: 'rolegate',
      headers: { apikey: options.serviceRoleKey, Authorization: `Bearer ${options.serviceRoleKey}` },
      fetch: timedFetch,
    });
  }

  async call(name: string, args: Record<string, SqlArgument | undefined>): Promise<unknown> {
    let result;
    try {
      result = await this.#client.rpc(name, plain(args));
    } catch (error) {
      throw new StoreUnavailableError('the Supabase API is unreachable', { cause: error });
    }
    const { data, error, status } = result;
    if (!error) return data ?? null;
    // Supabase's API gateway refuses a wrong key before PostgREST sees it,
    // with a 401 and no PostgREST code: a deployment mistake, named as such.
    if ((status === 401 || status === 403) && !error.code) {
      throw new StoreRequestError(`the Supabase API refused the service-role key: ${error.message}`, 'invalid_api_key', status);
    }
    // postgrest-js reports network failures and timeouts as an error with no
    // PostgREST code and status 0; a 5xx is the API or database being down.
    if (status === 0 || status >= 500 || !error.code) {
      throw new StoreUnavailableError(`the Supabase API failed (status ${status})`, { cause: new Error(error.message) });
    }
    throw new StoreRequestError(error.message, error.code, status);
  }

  async close(): Promise<void> {
    // HTTP only: nothing to release.
  }
}

/**
 * A Store on Supabase: every change is one PostgREST `.rpc()` call to the
 * same SQL functions the other adapters run, with the service-role key.
 *
 * @example
 * const store = openSupabaseStore({ url: process.env.SUPABASE_URL!, serviceRoleKey: process.env.SUPABASE_SERVICE_ROLE_KEY! });
 * await store.findUserByEmail('ada@example.com');
 */
export function openSupabaseStore(options: SupabaseStoreOptions): SqlStore {
  return new SqlStore(new SupabaseCaller(options));
}
