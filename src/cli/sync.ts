import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BackfillInterrupted, backfillIdentityUsers, type BackfillSummary } from '../sync/backfill.js';
import { identityConfigSchema, type IdentitySyncConfig } from '../site-config/identity.js';
import { gotrueAdminSource, IdentityAdminError, type IdentityAdminSource } from '../sync/identity-admin.js';
import { SinkConfigError, openSinks } from '../sync/sinks.js';
import { CliError, UsageError, type CliIo } from './io.js';
import { withStore } from './store-session.js';

export const SYNC_USAGE = `usage:
  rolegate sync backfill [--identity-url URL] [--per-page N] [--batch-size N] [--restart] [--config FILE]
                         copy every Netlify Identity user into identity.sinks (default: this
                         database), resuming where an interrupted run stopped; the admin
                         token is read from IDENTITY_ADMIN_TOKEN, the URL from IDENTITY_URL
                         (https://<site>/.netlify/identity) when --identity-url is not given`;

const MAX_PER_PAGE = 1000;

function positiveInteger(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= max)) throw new CliError(`${name} must be a whole number from 1 to ${max}`);
  return n;
}

async function identityConfig(io: CliIo, configOption: string | undefined): Promise<IdentitySyncConfig> {
  const path = resolve(io.cwd, configOption ?? 'rolegate.config.json');
  if (!existsSync(path)) {
    if (configOption) throw new CliError(`no config at ${path}`);
    return identityConfigSchema.parse({});
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new CliError(`${path} is not valid JSON`);
  }
  const parsed = identityConfigSchema.safeParse((raw as { identity?: unknown })?.identity ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${path}: identity${issue?.path.length ? `.${issue.path.join('.')}` : ''} ${issue?.message ?? 'is invalid'}`);
  }
  return parsed.data;
}

function progressBar(io: CliIo): (p: { done: number; total: number | null }) => void {
  if (!io.stderr.isTTY) return () => undefined;
  return ({ done, total }) => {
    const width = 30;
    const filled = total ? Math.min(width, Math.round((done / total) * width)) : 0;
    const bar = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    io.stderr.write(`\r${bar}${done.toLocaleString('en-US')}${total ? `/${total.toLocaleString('en-US')}` : ''} users`);
  };
}

function summaryText(summary: BackfillSummary): string {
  const lines = [
    `${summary.users} Identity user${summary.users === 1 ? '' : 's'} read in ${summary.pages} page${summary.pages === 1 ? '' : 's'}${summary.resumedFromPage ? ` (resumed at page ${summary.resumedFromPage})` : ''}`,
  ];
  for (const [name, r] of Object.entries(summary.sinks)) {
    lines.push(`  ${name}: created ${r.created}, updated ${r.updated}, unchanged ${r.unchanged}${r.stale ? `, older than held ${r.stale}` : ''}`);
  }
  lines.push(`  failed ${summary.failed.length}`);
  for (const warning of summary.warnings) lines.push(`  warning: ${warning}`);
  for (const f of summary.failed.slice(0, 20)) lines.push(`    ${f.id ?? '(no id)'}: ${f.reason}`);
  if (summary.failed.length > 20) lines.push(`    … and ${summary.failed.length - 20} more`);
  return `${lines.join('\n')}\n`;
}

async function backfillCommand(argv: string[], io: CliIo, sourceFor?: (url: string, token: string) => IdentityAdminSource): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'identity-url': { type: 'string' },
      'per-page': { type: 'string' },
      'batch-size': { type: 'string' },
      restart: { type: 'boolean', default: false },
      config: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const url = values['identity-url'] ?? io.env.IDENTITY_URL;
  if (!url) throw new UsageError('give --identity-url https://<site>/.netlify/identity (or set IDENTITY_URL)');
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new CliError('--identity-url must be an http(s) URL');
  const token = io.env.IDENTITY_ADMIN_TOKEN;
  if (!token) throw new CliError('set IDENTITY_ADMIN_TOKEN to an admin token of the Identity instance (it is not taken on the command line, where other users could see it)');
  const perPage = positiveInteger('--per-page', values['per-page'], 100, MAX_PER_PAGE);
  const batchSize = positiveInteger('--batch-size', values['batch-size'], perPage, MAX_PER_PAGE);
  const config = await identityConfig(io, values.config);
  const source = (sourceFor ?? ((u, t) => gotrueAdminSource({ url: u, token: t })))(url, token);

  return withStore(io, async (store) => {
    const sinks = await openSinks(config, io.env, store).catch((error: unknown) => {
      throw error instanceof SinkConfigError ? new CliError(error.message) : error;
    });
    const cursorName = `identity-backfill:${source.url}`;
    const progress = progressBar(io);
    try {
      const summary = await backfillIdentityUsers({
        source, sinks, perPage, batchSize, restart: values.restart,
        cursor: {
          get: async () => (await store.getSyncCursor(cursorName)) as { page: number; perPage: number } | null,
          set: (cursor) => store.setSyncCursor(cursorName, cursor ? { ...cursor } : null),
        },
        onProgress: progress,
      });
      if (io.stderr.isTTY) io.stderr.write('\n');
      io.stdout.write(summaryText(summary));
      return summary.failed.length > 0 || summary.warnings.length > 0 ? 2 : 0;
    } catch (error) {
      if (io.stderr.isTTY) io.stderr.write('\n');
      if (error instanceof BackfillInterrupted) {
        io.stdout.write(summaryText(error.summary));
        throw new CliError(`${error.message}; run the same command again to resume`);
      }
      if (error instanceof IdentityAdminError) throw new CliError(error.message);
      throw error;
    }
  });
}

/** `rolegate sync <sub>`. `sourceFor` lets tests point the backfill at their own admin API. */
export async function syncCommand(argv: string[], io: CliIo, sourceFor?: (url: string, token: string) => IdentityAdminSource): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'backfill': return backfillCommand(rest, io, sourceFor);
    case 'help':
    case undefined:
      io.stdout.write(`${SYNC_USAGE}\n`);
      return subcommand === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown sync command ${JSON.stringify(subcommand)}`);
  }
}
