import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readConfig, verificationSecrets, type DatabaseConfig } from '../core/environment.js';
import { Secret } from '../core/secret.js';
import { devJwtSecret } from '../dev/dev-secret.js';
import { deliverUntilIdle } from '../mail/deliver.js';
import { mailTransportFor } from '../mail/handlers.js';
import { unconfiguredTransport } from '../mail/transport.js';
import type { OutboxMail } from '../store/store.js';
import { CliError, UsageError, type CliIo } from './io.js';
import { siteConfigForCli } from './site-config-file.js';
import { cliDatabaseConfig, withStore } from './store-session.js';
import { table, timestamp } from './table.js';

export const MAIL_USAGE = `usage:
  rolegate mail [--state pending|sent|failed] [--limit N] [--json]
                                              the mail outbox, newest first: id, state, recipient,
                                              template, attempts, last error, created
  rolegate mail retry [ID]                    make every unsent mail (or mail ID) due now, failed ones
                                              included, and deliver what is due through SMTP_URL`;

const STATES = ['pending', 'sent', 'failed'] as const;
type MailState = (typeof STATES)[number];

/** How long `mail retry` keeps delivering before it leaves the rest to the site's mail-background function. */
const RETRY_BUDGET_MS = 2 * 60 * 1000;
const LAST_ERROR_WIDTH = 60;

function stateOf(mail: OutboxMail): MailState {
  return mail.sentAt ? 'sent' : mail.failedAt ? 'failed' : 'pending';
}

/** One table cell: a server's reply can span lines and run long; --json shows it whole. */
function cell(text: string | null): string {
  if (!text) return '-';
  const line = text.replace(/\s+/gu, ' ').trim();
  return line.length > LAST_ERROR_WIDTH ? `${line.slice(0, LAST_ERROR_WIDTH - 1)}…` : line;
}

function stateOption(value: string | undefined): MailState | undefined {
  if (value === undefined || (STATES as readonly string[]).includes(value)) return value as MailState | undefined;
  throw new UsageError(`--state must be one of ${STATES.join(', ')}`);
}

function limitOption(value: string | undefined): number {
  if (value === undefined) return 50;
  const limit = /^\d+$/u.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= 1000)) throw new UsageError('--limit must be a whole number from 1 to 1000');
  return limit;
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { state: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, strict: true, allowPositionals: false });
  const state = stateOption(values.state);
  const limit = limitOption(values.limit);
  const mails = await withStore(io, (store) => store.listMail({ limit, ...(state ? { state } : {}) }));
  if (values.json) {
    // listMail leaves out the sealed link, so nothing here opens an account.
    const out = mails.map((m) => ({ id: m.id, state: stateOf(m), recipient: m.recipient, template: m.template, attempts: m.attempts, lastError: m.lastError, createdAt: m.createdAt, nextAttemptAt: m.nextAttemptAt, sentAt: m.sentAt, failedAt: m.failedAt }));
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  if (mails.length === 0) {
    io.stdout.write(state ? `no ${state} mail\n` : 'the outbox is empty\n');
    return 0;
  }
  io.stdout.write(table(['ID', 'STATE', 'RECIPIENT', 'TEMPLATE', 'ATTEMPTS', 'LAST ERROR', 'CREATED'], mails.map((m) => [
    String(m.id), stateOf(m), m.recipient, m.template, String(m.attempts), cell(m.lastError), timestamp(m.createdAt),
  ])));
  return 0;
}

function idArgument(positionals: string[]): number | undefined {
  if (positionals.length > 1) throw new UsageError(`mail retry takes at most one ID, not ${positionals.length}`);
  const raw = positionals[0];
  if (raw === undefined) return undefined;
  const id = /^\d{1,15}$/u.test(raw) ? Number(raw) : NaN;
  if (!(id >= 1)) throw new UsageError(`mail retry: ${JSON.stringify(raw)} is not a mail id (a whole number from rolegate mail)`);
  return id;
}

/** netlify.toml's [dev] jwtSecret: what `rolegate dev` signs and seals with, so what opens the local outbox. */
function localDevSecret(cwd: string): string | undefined {
  try {
    return devJwtSecret(readFileSync(join(cwd, 'netlify.toml'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** The environment's mail and auth settings; with the embedded database, the local dev secret seals and opens too (as `rolegate dev` does). */
export function deliverySettings(io: CliIo, database: DatabaseConfig) {
  const devSecret = database.kind === 'embedded' ? localDevSecret(io.cwd) : undefined;
  const config = readConfig({ ...io.env, ...(io.env.JWT_SECRET || !devSecret ? {} : { JWT_SECRET: devSecret }) });
  const secrets = verificationSecrets(config.auth);
  if (devSecret && !secrets.some((s) => s.reveal() === devSecret)) secrets.push(new Secret(devSecret));
  return { config, secrets };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function retry(argv: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args: argv, options: {}, strict: true, allowPositionals: true });
  const id = idArgument(positionals);
  // Checked before anything changes: a bad environment leaves the outbox as it was.
  const { config, secrets } = deliverySettings(io, cliDatabaseConfig(io));
  const transport = mailTransportFor(io.env, config.mail, (line) => io.stdout.write(`${line}\n`));
  const { mailTemplates } = await siteConfigForCli(io);
  return withStore(io, async (store) => {
    const { mails } = await store.retryMail(id);
    if (id !== undefined && mails === 0) throw new CliError(`no unsent mail with id ${id} (see rolegate mail; sent mail is never sent again)`);
    io.stdout.write(`${plural(mails, 'mail')} due now\n`);
    if (transport === unconfiguredTransport) {
      throw new CliError("not delivered from here: SMTP_URL is not set (set it as on the site, or the site's mail-background function sends due mail at its next run)");
    }
    const counts = await deliverUntilIdle({
      store, transport, secrets, siteUrl: config.auth.siteUrl, from: config.mail.from, budgetMs: RETRY_BUDGET_MS,
      log: (line) => io.stderr.write(`${line}\n`), ...(mailTemplates ? { overrides: mailTemplates } : {}),
    });
    io.stdout.write(`sent ${counts.sent}, to retry ${counts.retrying}, failed ${counts.failed}\n`);
    return counts.retrying + counts.failed === 0 ? 0 : 1;
  });
}

/** `rolegate mail [retry]`. */
export async function mailCommand(argv: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'retry': return retry(rest, io);
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(`${MAIL_USAGE}\n`);
      return 0;
    case undefined:
      return list([], io);
    default:
      if (subcommand.startsWith('-')) return list(argv, io);
      throw new UsageError(`unknown mail command ${JSON.stringify(subcommand)}`);
  }
}
