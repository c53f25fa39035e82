import { parseArgs } from 'node:util';
import { nowSeconds } from '../core/access-token-claims.js';
import { AuthError } from '../core/auth-errors.js';
import { inviteUser } from '../auth/invite.js';
import type { AuthDeps } from '../auth/deps.js';
import { deliverUntilIdle } from '../mail/deliver.js';
import { mailTransportFor } from '../mail/handlers.js';
import { unconfiguredTransport } from '../mail/transport.js';
import type { Store, User } from '../store/store.js';
import { CliError, UsageError, type CliIo } from './io.js';
import { deliverySettings } from './mail.js';
import { siteConfigForCli } from './site-config-file.js';
import { cliDatabaseConfig, withStore } from './store-session.js';

/** How long the command keeps delivering the invitations it queued before it leaves the rest to the site. */
const DELIVERY_BUDGET_MS = 30_000;

/** What an invitation needs, from the environment and the site's config; checked before anything changes. */
async function inviteSettings(io: CliIo) {
  const database = cliDatabaseConfig(io);
  if (database.kind !== 'embedded' && !io.env.SITE_URL && !io.env.URL) {
    throw new CliError("set SITE_URL to the site's address (https://…): the invitation links point there");
  }
  const { config, secrets } = deliverySettings(io, database);
  const { compiled, mailTemplates } = await siteConfigForCli(io);
  const transport = mailTransportFor(io.env, config.mail, (line) => io.stdout.write(`${line}\n`));
  const deps = (store: Store): AuthDeps => ({ store, config: config.auth, gates: compiled.table, now: nowSeconds, accounts: compiled.accounts, mail: config.mail });
  return { config, secrets, transport, deps, mailTemplates };
}

type Tally = Record<'invited' | 'resent' | 'exists' | 'throttled', string[]>;

async function inviteOne(deps: AuthDeps, email: string, roles: string[] | undefined, tally: Tally): Promise<void> {
  try {
    const outcome = await inviteUser(deps, { fields: { email, ...(roles ? { roles } : {}) } });
    tally[outcome.status].push(outcome.user.email);
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    if (error.code === 'user_exists') tally.exists.push(email);
    else if (error.code === 'throttled') tally.throttled.push(email);
    else throw new CliError(error.message);
  }
}

async function pendingUsers(store: Store): Promise<User[]> {
  const users: User[] = [];
  for (let page = await store.listUsersWithoutPassword({ limit: 500 }); page.length; page = await store.listUsersWithoutPassword({ limit: 500, afterEmail: page.at(-1)!.email })) {
    users.push(...page);
  }
  return users;
}

/**
 * `rolegate users invite --email E [--roles a,b]`, or `--pending`: everyone who never chose a
 * password here (open invitations, Identity users imported and never signed in) gets a new
 * link. The mails go through the outbox like the site's own; with SMTP_URL set they are sent
 * from here at once.
 */
export async function invite(argv: string[], io: CliIo, emailOption: (value: string | undefined) => string, rolesOption: (value: string) => string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { email: { type: 'string' }, roles: { type: 'string' }, pending: { type: 'boolean' } }, strict: true, allowPositionals: false });
  if (values.pending && (values.email !== undefined || values.roles !== undefined)) throw new UsageError('users invite --pending takes no --email or --roles (each keeps the roles it has)');
  const email = values.pending ? undefined : emailOption(values.email);
  const roles = values.roles === undefined ? undefined : rolesOption(values.roles);
  const settings = await inviteSettings(io);
  return withStore(io, async (store) => {
    const deps = settings.deps(store);
    const tally: Tally = { invited: [], resent: [], exists: [], throttled: [] };
    const targets = email ? [email] : (await pendingUsers(store)).map((u) => u.email);
    if (!targets.length) {
      io.stdout.write('nobody is waiting for an invitation: every enabled user has a password\n');
      return 0;
    }
    for (const target of targets) await inviteOne(deps, target, roles, tally);
    report(io, tally, deps.accounts!.linkLifetimes.invite);
    if (tally.invited.length + tally.resent.length === 0) return tally.exists.length && email ? 1 : 0;
    if (settings.transport === unconfiguredTransport) {
      io.stdout.write("queued in the outbox; the site's mail functions send it (or set SMTP_URL here and run rolegate mail retry)\n");
      return 0;
    }
    const counts = await deliverUntilIdle({
      store, transport: settings.transport, secrets: settings.secrets, siteUrl: settings.config.auth.siteUrl, from: settings.config.mail.from,
      budgetMs: DELIVERY_BUDGET_MS, log: (line) => io.stderr.write(`${line}\n`), ...(settings.mailTemplates ? { overrides: settings.mailTemplates } : {}),
    });
    io.stdout.write(`sent ${counts.sent}, to retry ${counts.retrying}, failed ${counts.failed} (see rolegate mail)\n`);
    return counts.failed === 0 ? 0 : 1;
  });
}

function report(io: CliIo, tally: Tally, lifetimeSeconds: number): void {
  const days = lifetimeSeconds >= 86_400 ? `${Math.round(lifetimeSeconds / 86_400)} days` : `${Math.round(lifetimeSeconds / 3600)} hours`;
  for (const address of tally.invited) io.stdout.write(`invited ${address}; the link works for ${days}\n`);
  for (const address of tally.resent) io.stdout.write(`sent ${address} an invitation to an account that has no password yet (an earlier link no longer works); the link works for ${days}\n`);
  for (const address of tally.exists) io.stderr.write(`rolegate: ${address} already has an account with a password (or a disabled one): nothing sent\n`);
  for (const address of tally.throttled) io.stderr.write(`rolegate: ${address} was mailed too often lately (MAIL_MAX_PER_ADDRESS): nothing sent, try again later\n`);
}
