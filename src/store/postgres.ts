import pg from 'pg';
import { SqlStore, type FunctionCaller, type SqlArgument } from './sql-store.js';
import { functionCallStatement } from './sql-call.js';
import { StoreUnavailableError, isUnavailable } from './errors.js';
import { migrate, type MigrationConnection } from './migrate.js';

export interface PostgresStoreOptions {
  connectionString: string;
  /** Upper bound for connecting and for each statement, so a dead database answers 503 in bounded time. */
  timeoutMs?: number;
  /** Connections per function instance; functions are many and small, so keep it low. */
  maxConnections?: number;
}

// Keep timestamps as the text PostgreSQL sends; jsonb results carry their own strings anyway.
const NO_PARSE = (value: string) => value;

/** How much longer than the server's statement timeout the client waits for any answer. */
const SILENT_SERVER_MARGIN_MS = 1000;

class PostgresCaller implements FunctionCaller {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;

  constructor(options: PostgresStoreOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 5,
      connectionTimeoutMillis: timeoutMs,
      // The server cancels a statement at timeoutMs and rolls it back; the client gives up
      // only later, on a server that says nothing at all. With both at timeoutMs the client
      // could answer 503 while the statement, released a moment later, still committed.
      query_timeout: timeoutMs + SILENT_SERVER_MARGIN_MS,
      statement_timeout: timeoutMs,
      idleTimeoutMillis: 10_000,
      types: { getTypeParser: (oid: number, format?: string) => (oid === 1184 || oid === 1114 ? NO_PARSE : pg.types.getTypeParser(oid, format as 'text')) } as pg.CustomTypesConfig,
    });
    // A dropped idle connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  async call(name: string, args: Record<string, SqlArgument | undefined>): Promise<unknown> {
    const statement = functionCallStatement(name, args);
    try {
      const result = await this.pool.query(statement.text, statement.values);
      return result.rows[0]?.result ?? null;
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
