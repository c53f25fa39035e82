import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packageMigrationsDirectory } from '../store/migrate.js';
import { CliError, type CliIo } from './io.js';

const MIGRATION_FILE = /^\d+_[\w-]+\.sql$/;

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * `rolegate db copy-migrations [--to DIR]`: puts rolegate's SQL migrations in
 * the site's `supabase/migrations/` so `supabase db push` deploys them with the
 * site's own. Files already there unchanged are left alone; a file of the same
 * name with other content stops the command before anything is written.
 */
export async function copyMigrationsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { to: { type: 'string' } }, strict: true, allowPositionals: false });
  const source = packageMigrationsDirectory();
  const target = resolve(io.cwd, values.to ?? 'supabase/migrations');
  if (resolve(source) === target) {
    io.stdout.write(`${target} is rolegate's own migrations folder: nothing to copy\n`);
    return 0;
  }
  const files = (await readdir(source)).filter((file) => MIGRATION_FILE.test(file)).sort();
  const plan: { file: string; action: 'add' | 'same' }[] = [];
  for (const file of files) {
    const theirs = await readIfExists(join(target, file));
    if (theirs === undefined) plan.push({ file, action: 'add' });
    else if (theirs === (await readFile(join(source, file), 'utf8'))) plan.push({ file, action: 'same' });
    else throw new CliError(`${join(target, file)} exists with other content; nothing was copied (move it away, or compare it with rolegate's ${join(source, file)})`);
  }
  await mkdir(target, { recursive: true });
  for (const { file } of plan.filter((p) => p.action === 'add')) await copyFile(join(source, file), join(target, file));
  const added = plan.filter((p) => p.action === 'add').map((p) => p.file);
  io.stdout.write(added.length
    ? `copied ${added.length} migration${added.length === 1 ? '' : 's'} to ${target}:\n${added.map((f) => `  ${f}\n`).join('')}then run \`supabase db push\`\n`
    : `${target} already has rolegate's ${files.length} migrations\n`);
  return 0;
}
