import { parseArgs } from 'node:util';
import { openStore } from '../store/open-store.js';
import { UsageError, type CliIo } from './io.js';
import { cliDatabaseConfig } from './store-session.js';
import { copyMigrationsCommand } from './copy-migrations.js';

export const DB_USAGE = `usage:
  rolegate db migrate                  apply the SQL migrations to the database the environment names
  rolegate db copy-migrations [--to D] copy rolegate's migrations into supabase/migrations (or D) for supabase db push`;

async function migrateCommand(argv: string[], io: CliIo): Promise<number> {
  parseArgs({ args: argv, options: {}, strict: true, allowPositionals: false });
  const config = cliDatabaseConfig(io);
  switch (config.kind) {
    case 'supabase':
      // The service role key reaches PostgREST, not DDL: Supabase deploys schema changes itself.
      io.stdout.write('Supabase: run `supabase db push` to deploy supabase/migrations (the service role key cannot change the schema)\n');
      return 0;
    case 'postgres': {
      const { migratePostgres } = await import('../store/postgres.js');
      const applied = await migratePostgres(config.connectionString.reveal());
      io.stdout.write(applied.length
        ? `applied ${applied.length} migration${applied.length === 1 ? '' : 's'} (${config.source}):\n${applied.map((name) => `  ${name}\n`).join('')}`
        : `the database (${config.source}) is up to date\n`);
      return 0;
    }
    case 'embedded': {
      // Opening the embedded store applies any pending migration.
      const store = await openStore(config);
      await store.close();
      io.stdout.write(`the embedded database in ${config.dataDir} is up to date\n`);
      return 0;
    }
  }
}

/** `rolegate db <sub>`. */
export async function dbCommand(argv: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'migrate': return migrateCommand(rest, io);
    case 'copy-migrations': return copyMigrationsCommand(rest, io);
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(`${DB_USAGE}\n`);
      return 0;
    case undefined:
      throw new UsageError('db needs a command (migrate, copy-migrations)');
    default:
      throw new UsageError(`unknown db command ${JSON.stringify(subcommand)}`);
  }
}
