/**
 * The `rolegate` command. `bin/rolegate.js` runs the bundled copy of this file
 * (dist/cli.js); tests call runCli in-process with their own CliIo.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/environment.js';
import { UserImportError } from '../core/user-import.js';
import { StoreLockedError, StoreUnavailableError, isUnavailable } from '../store/errors.js';
import { DB_USAGE, dbCommand } from './db.js';
import { CliError, UsageError, type CliIo } from './io.js';
import { MAIL_USAGE, mailCommand } from './mail.js';
import { USERS_USAGE, usersCommand } from './users.js';

export { nodeIo } from './node-io.js';

const USAGE = `rolegate — own login, own user table, role-gated static paths on Netlify

${USERS_USAGE.replace(/^usage:\n/, 'users:\n')}

${DB_USAGE.replace(/^usage:\n/, 'database:\n')}

${MAIL_USAGE.replace(/^usage:\n/, 'mail (the outbox; sent through SMTP_URL):\n')}

gates:
  rolegate gates <build|check|explain|schema>  see: rolegate gates help

Netlify Identity sync:
  rolegate sync backfill [--identity-url URL]  see: rolegate sync help

adding rolegate to a site:
  rolegate init [--yes] [--dry-run] [--gate PATH=ROLE] [--mode edge|redirects] [--publish DIR]
                                              see: rolegate init --help

local development:
  rolegate dev [--port N]                     the site on http://localhost:8888 (127.0.0.1 only), gated as deployed

  rolegate help | --help                      this text
  rolegate --version                          the installed version

The database is chosen by the environment: SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY,
DATABASE_URL, or the embedded database in ROLEGATE_DATA_DIR (default .rolegate/data).`;

/** The help command that fits what was being run, for the hint under an error. */
function helpFor(argv: string[]): string {
  if (argv[0] === 'users' || argv[0] === 'db' || argv[0] === 'sync' || argv[0] === 'mail') return `rolegate ${argv[0]} help`;
  if (argv[0] === 'init') return 'rolegate init --help';
  return 'rolegate help';
}

function version(): string {
  // Walk up from this file: src/cli/main.ts and the bundled dist/cli.js sit at different depths.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rolegate' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

type Command = (argv: string[], io: CliIo) => Promise<number>;

async function loadGatesCommand(): Promise<Command> {
  try {
    // Imported on demand: the gates compiler is only loaded when it is used.
    const module = (await import('./gates.js')) as { gatesCommand?: Command };
    if (typeof module.gatesCommand === 'function') return module.gatesCommand;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  throw new CliError('the gates commands are not available in this build of rolegate');
}

/** `rolegate dev`: runs on after this returns, until netlify dev exits (src/dev/start.ts). */
async function devCommand(argv: string[], cwd: string): Promise<number> {
  const { startDev, DevStartError } = await import('../dev/start.js');
  try {
    await startDev(argv, cwd);
  } catch (error) {
    if (error instanceof DevStartError) throw new CliError(error.message);
    throw error;
  }
  return 0;
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'users':
      return usersCommand(rest, io);
    case 'db':
      return dbCommand(rest, io);
    case 'mail':
      return mailCommand(rest, io);
    case 'gates':
      return (await loadGatesCommand())(rest, io);
    case 'sync':
      return (await import('./sync.js')).syncCommand(rest, io);
    case 'dev':
      return devCommand(rest, io.cwd);
    case 'init':
      return (await import('./init.js')).initCommand(rest, io);
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(`${USAGE}\n`);
      return 0;
    case '--version':
    case '-v':
      io.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
      io.stderr.write(`${USAGE}\n`);
      return 1;
    default:
      throw new UsageError(command.startsWith('-') ? `unknown option ${command}` : `unknown command ${JSON.stringify(command)}`);
  }
}

/** node:util parseArgs errors, reworded into one short line. */
function parseArgsMessage(error: Error & { code: string }): string {
  const unknown = /Unknown option '([^']+)'/.exec(error.message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const positional = /Unexpected argument '([^']*)'/.exec(error.message);
  if (positional) return `unexpected argument ${JSON.stringify(positional[1])}`;
  const missing = /Option '(-\S+)(?:, -\S+)?[^']*' argument missing/.exec(error.message);
  if (missing) return `${missing[1]} needs a value`;
  return error.message.split('\n')[0]!;
}

function isParseArgsError(error: unknown): error is Error & { code: string } {
  return error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
}

/** The startup parameter a server or pooler refused (PgBouncer: "unsupported startup parameter: options"), looked for along the causes. */
function refusedStartupParameter(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const match = /unsupported startup parameter: ([\w.-]+)/.exec(e.message);
    if (match) return match[1];
  }
  return undefined;
}

/** The one line (or, for a configuration, the list of variables) a person sees for a failure. */
function describeFailure(error: unknown, argv: string[]): { message: string; hint?: string; exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, hint: helpFor(argv), exitCode: error.exitCode };
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (isParseArgsError(error)) return { message: parseArgsMessage(error), hint: helpFor(argv), exitCode: 1 };
  // Messages of these name variables and lines, never values or hashes.
  if (error instanceof ConfigError || error instanceof UserImportError || error instanceof StoreLockedError) {
    return { message: error.message, exitCode: 1 };
  }
  const refused = refusedStartupParameter(error);
  if (refused) {
    return { message: `the database (or its pooler) refused the connection setting "${refused}": remove it from the connection URL (transaction poolers such as PgBouncer accept none but a few)`, exitCode: 1 };
  }
  if (error instanceof StoreUnavailableError || isUnavailable(error)) {
    return { message: 'the database is unreachable (check DATABASE_URL or SUPABASE_URL, and that the server is running)', exitCode: 1 };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `unexpected error: ${message.split('\n')[0]}`, exitCode: 1 };
}

/**
 * Runs one `rolegate` command and returns its exit code. Failures become one
 * line `rolegate: <message>` on stderr (a configuration error lists each bad
 * variable); no stack trace, secret or hash is ever printed.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), nodeIo());
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    const { message, hint, exitCode } = describeFailure(error, argv);
    io.stderr.write(`rolegate: ${message}\n${hint ? `run \`${hint}\` for usage\n` : ''}`);
    if (io.env.ROLEGATE_DEBUG && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}
