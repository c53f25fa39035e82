import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadGateConfig } from '../gates/compile.js';
import { GateConfigError } from '../site-config/schema.js';
import { PAGE_NAMES, planInit, type Gate, type InitAnswers, type InitPlan, type PlannedWrite } from '../init/plan.js';
import { readSiteFacts } from '../init/site-facts.js';
import { assertPublishDirServesNoSecrets, UnsafePublishDirError } from '../gates/publish-dir.js';
import { defaultSiteDataDir } from '../site/data-dir.js';
import { rolegatePackageRoot } from '../site/package-root.js';
import { NetlifyTomlError } from '../site/netlify-toml.js';
import { CliError, type CliIo } from './io.js';

export const INIT_USAGE = `usage:
  rolegate init [--yes] [--dry-run] [--gate PATH=ROLE[,ROLE]]... [--mode edge|redirects] [--publish DIR]
    adds rolegate to the site in this folder: rolegate.config.json, its lines in netlify.toml
    (the build plugin, a local-only [dev] secret), .gitignore entries, and plain sign-in,
    forbidden and account pages where the site has none. On a terminal it asks; --yes takes
    the flags and defaults (gate /admin/*=admin, mode edge). Never overwrites a file; a second
    run changes nothing; --dry-run prints the plan and writes nothing.`;

const DEFAULT_GATE: Gate = { path: '/admin/*', roles: ['admin'] };

function parseGate(text: string): Gate {
  const at = text.lastIndexOf('=');
  const path = at > 0 ? text.slice(0, at).trim() : '';
  const roles = at > 0 ? text.slice(at + 1).split(',').map((r) => r.trim()).filter(Boolean) : [];
  if (!path || !roles.length) throw new CliError(`--gate wants PATH=ROLE[,ROLE], such as /admin/*=admin (got ${JSON.stringify(text)})`);
  return { path, roles };
}

async function ask(io: CliIo, question: string, fallback: string): Promise<string> {
  const answer = (await io.prompt!(`${question} [${fallback}] `)).trim();
  return answer || fallback;
}

async function templates(): Promise<InitAnswers['pages']> {
  const root = rolegatePackageRoot();
  if (!root) throw new CliError('cannot find rolegate\'s own package folder (its page templates); run init through the installed package: npx rolegate init');
  const read = (name: string) => readFile(join(root, 'templates', 'pages', `${name}.html`), 'utf8');
  return Object.fromEntries(await Promise.all(PAGE_NAMES.map(async (name) => [name, await read(name)] as const))) as InitAnswers['pages'];
}

function printPlan(io: CliIo, plan: InitPlan, dryRun: boolean): void {
  const lines: string[] = [];
  if (!plan.writes.length) lines.push('rolegate is already set up here: nothing to change');
  for (const write of plan.writes) lines.push(`${dryRun ? 'would ' : ''}${write.kind === 'create' ? 'create' : 'add to'} ${write.path}: ${write.what}`);
  for (const kept of plan.kept) lines.push(`  (${kept})`);
  for (const manual of plan.manual) lines.push(`by hand: ${manual}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Why `write` can no longer be made as planned (the file appeared, changed or went), or null. */
async function staleBecause(root: string, write: PlannedWrite): Promise<string | null> {
  const now = await readIfExists(join(root, write.path));
  if (write.kind === 'create') return now === null ? null : `${write.path} was created while rolegate init ran`;
  if (now === null) return `${write.path} was removed while rolegate init ran`;
  return now === write.basedOn ? null : `${write.path} changed while rolegate init ran`;
}

/** A new file, never over one that appeared since the plan ('wx' fails on an existing path). */
async function createFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content, { flag: 'wx' });
}

/** Replaces a file's content at once (temp file, then rename), so a reader never sees half of it. */
async function replaceFile(path: string, content: string): Promise<void> {
  const temporary = `${path}.rolegate-${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, content, { flag: 'wx' });
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Makes the plan's writes, each only while its file is as the plan saw it: a file created
 * meanwhile is not overwritten, a file edited meanwhile not replaced with content computed from
 * its old text. Every file is checked before the first write, and again as it is written.
 */
async function applyPlan(root: string, writes: PlannedWrite[]): Promise<void> {
  const refuse = (reason: string, done: PlannedWrite[]) =>
    new CliError(`${reason}, so rolegate init stopped: ${done.length ? `it wrote only ${done.map((w) => w.path).join(', ')}` : 'nothing was written'}; run rolegate init again to see the plan for the files as they are now`);
  for (const write of writes) {
    const reason = await staleBecause(root, write);
    if (reason) throw refuse(reason, []);
  }
  const done: PlannedWrite[] = [];
  for (const write of writes) {
    const path = join(root, write.path);
    if (write.kind === 'create') {
      try {
        await createFile(path, write.content);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refuse(`${write.path} was created while rolegate init ran`, done);
        throw error;
      }
    } else {
      const reason = await staleBecause(root, write);
      if (reason) throw refuse(reason, done);
      await replaceFile(path, write.content);
    }
    done.push(write);
  }
}

/** `rolegate init …`: `argv` is what follows `init`. */
export async function initCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { yes: { type: 'boolean', short: 'y' }, 'dry-run': { type: 'boolean' }, gate: { type: 'string', multiple: true }, mode: { type: 'string' }, publish: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(`${INIT_USAGE}\n`);
    return 0;
  }
  const interactive = !values.yes;
  if (interactive && !(io.stdinIsTTY && io.prompt)) throw new CliError('rolegate init asks its questions on a terminal; here, pass --yes with the flags you want (rolegate init --help)');
  if (values.mode !== undefined && values.mode !== 'edge' && values.mode !== 'redirects') throw new CliError(`--mode is "edge" or "redirects" (got ${JSON.stringify(values.mode)})`);

  const root = resolve(io.cwd);
  let site;
  try {
    site = readSiteFacts(root);
  } catch (error) {
    if (error instanceof NetlifyTomlError) throw new CliError(error.message);
    throw error;
  }
  let gates = (values.gate ?? []).map(parseGate);
  let mode = (values.mode ?? 'edge') as InitAnswers['mode'];
  let publishDir = values.publish ?? site.publishDir;
  if (interactive) {
    publishDir = await ask(io, `Publish directory (from ${values.publish ? '--publish' : site.publishFrom}):`, publishDir);
    if (!gates.length) {
      const path = await ask(io, 'Which paths need a role?', DEFAULT_GATE.path);
      const roles = await ask(io, `Which roles may open ${path}? (comma-separated)`, DEFAULT_GATE.roles.join(','));
      gates = [parseGate(`${path}=${roles}`)];
    }
    if (values.mode === undefined) {
      const answer = await ask(io, 'Gate mode: "edge" works on every Netlify plan; "redirects" needs a plan where Netlify checks the site\'s JWT secret:', 'edge');
      if (answer !== 'edge' && answer !== 'redirects') throw new CliError(`the mode is "edge" or "redirects" (got ${JSON.stringify(answer)}); nothing was written`);
      mode = answer;
    }
  }
  if (!gates.length) gates = [DEFAULT_GATE];

  try {
    // The same refusal as the build's, before anything is written.
    assertPublishDirServesNoSecrets(root, { publishDir }, io.env.ROLEGATE_DATA_DIR ? resolve(root, io.env.ROLEGATE_DATA_DIR) : defaultSiteDataDir(root, io.env, publishDir));
  } catch (error) {
    if (error instanceof UnsafePublishDirError) throw new CliError(`${error.message.replace(/^refusing to build/, 'refusing to set up rolegate')}\nnothing was written`);
    throw error;
  }
  const answers: InitAnswers = { gates, mode, publishDir, devJwtSecret: randomBytes(32).toString('base64url'), pages: await templates() };
  const plan = planInit({ ...site, publishDir }, answers);
  const config = plan.writes.find((w) => w.path === 'rolegate.config.json');
  if (config) {
    try {
      loadGateConfig(config.content, 'the gates given');
    } catch (error) {
      if (error instanceof GateConfigError) throw new CliError(`${error.message}\nnothing was written`);
      throw error;
    }
  }
  printPlan(io, plan, Boolean(values['dry-run']));
  if (values['dry-run'] || !plan.writes.length) return 0;
  if (interactive && !/^(y|yes|)$/i.test((await io.prompt!('Write these files? [Y/n] ')).trim())) {
    io.stdout.write('nothing was written\n');
    return 1;
  }
  await applyPlan(root, plan.writes);
  io.stdout.write(`\nDone. Next:\n${plan.nextSteps.map((s) => `  ${s}`).join('\n')}\n`);
  return 0;
}
