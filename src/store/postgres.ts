import pg from 'pg';
import { SqlStore, type FunctionCaller, type SqlArgument } from './sql-store.js';
import { functionCallScript } from './sql-call.js';
import { StoreUnavailableError, isUnavailable } from './errors.js';
import { migrate, type MigrationConnection } from './migrate.js';

export interface PostgresStoreOptions {
  connectionString: string;
  /** Upper bound for connecting and for each statement, so a dead database answers 503 in bounded time. */
  timeoutMs?: number;
  /** Connections per function instance: one instance answers one request at a time, so two are plenty. */
  maxConnections?: number;
}

// Keep timestamps as the text PostgreSQL sends; jsonb results carry their own strings anyway.
const NO_PARSE = (value: string) => value;

/** How much longer than the server's statement timeout the client waits for any answer. */
const SILENT_SERVER_MARGIN_MS = 1000;

/** Hundreds of function instances share one server (or one pooler): each keeps few connections, and not for long. */
export const POOL_DEFAULTS = { maxConnections: 2, idleTimeoutMs: 5000 } as const;

class PostgresCaller implements FunctionCaller {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly timeoutMs: number;

  constructor(options: PostgresStoreOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    this.timeoutMs = timeoutMs;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? POOL_DEFAULTS.maxConnections,
      connectionTimeoutMillis: timeoutMs,
      // The server cancels a statement at timeoutMs and rolls it back; the client gives up
      // only later, on a server that says nothing at all. With both at timeoutMs the client
      // could answer 503 while the statement, released a moment later, still committed.
      // The server's timeout is set inside each call's own transaction (functionCallScript),
      // never as a startup parameter, which transaction poolers refuse.
      query_timeout: timeoutMs + SILENT_SERVER_MARGIN_MS,
      idleTimeoutMillis: POOL_DEFAULTS.idleTimeoutMs,
      allowExitOnIdle: true,
      types: { getTypeParser: (oid: number, format?: string) => (oid === 1184 || oid === 1114 ? NO_PARSE : pg.types.getTypeParser(oid, format as 'text')) } as pg.CustomTypesConfig,
    });
    // A dropped idle connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  async call(name: string, args: Record<string, SqlArgument | undefined>): Promise<unknown> {
    const script = functionCallScript(name, args, this.timeoutMs);
    try {
      // One round trip: the script's results are the SET's and the call's.
      const results = (await this.pool.query(script)) as unknown as pg.QueryResult[];
      return results.at(-1)?.rows[0]?.result ?? null;
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError('the database is unreachable', { cause: error });
      throw error;
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * A Store on any PostgreSQL reachable by connection string (DATABASE_URL,
 * NETLIFY_DB_URL). Migrations are not run here: use `rolegate db migrate`.
 *
 * @example
 * const store = openPostgresStore({ connectionString: 'postgres://localhost/app' });
 * await store.findUserByEmail('a@example.com');
 */
export function openPostgresStore(options: PostgresStoreOptions): SqlStore {
  return new SqlStore(new PostgresCaller(options));
}

/** Runs the migrations over one dedicated connection. */
export async function migratePostgres(connectionString: string): Promise<string[]> {
  const client = new pg.Client({ connectionString });
  client.on('error', () => undefined); // surfaced through the failing query instead
  await client.connect();
  try {
    const connection: MigrationConnection = {
      exec: async (sql) => { await client.query(sql); },
      query: async (text, values) => (await client.query(text, values)).rows,
    };
    return await migrate(connection);
  } finally {
    await client.end();
  }
}
