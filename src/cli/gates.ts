import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildRedirects } from '../gates/build.js';
import { buildFunctions, clashingFunctions, FunctionNameClashError, functionNames, GENERATED_FUNCTIONS_DIR, siteMailTemplates } from '../gates/functions-build.js';
import { MailTemplateFilesError } from '../mail/template-files.js';
import { readNetlifyToml } from '../site/netlify-toml.js';
import { loadGateConfig, type CompiledGates } from '../gates/compile.js';
import { gateConfigJsonSchema, type GateConfig } from '../site-config/schema.js';
import { buildEdgeGate, EDGE_FUNCTIONS_DIR, EDGE_GATE_NAME, removeEdgeGate } from '../gates/edge-build.js';
import { explainPath, type GateTableRule, type PathVerdict } from '../gates/table.js';
import { CliError, type CliIo } from './io.js';
import { RolegateError } from '../core/rolegate-error.js';

const USAGE = `usage:
  rolegate gates build [--config FILE]                 write <publishDir>/_redirects, the auth functions in
                                                       .netlify/v1/functions/ (and, in mode "edge",
                                                       netlify/edge-functions/rolegate-gate/)
  rolegate gates check URL_PATH [--roles a,b] [--config FILE]
                                                       which rule applies to a visitor and why
  rolegate gates explain [--config FILE]               the table of gates, in matcher order
  rolegate gates schema                                print the JSON Schema of rolegate.config.json`;

async function readConfig(io: CliIo, configOption: string | undefined): Promise<{ path: string; raw: unknown; config: GateConfig; compiled: CompiledGates }> {
  const path = resolve(io.cwd, configOption ?? 'rolegate.config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`no gate config at ${path} (pass --config FILE)`);
    throw error;
  }
  const { config, compiled } = loadGateConfig(text, relative(io.cwd, path) || path);
  return { path, raw: JSON.parse(text) as unknown, config, compiled };
}

function printWarnings(io: CliIo, warnings: readonly string[]): void {
  for (const warning of warnings) io.stderr.write(`warning: ${warning}\n`);
}

async function build(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true, allowPositionals: false });
  const { path, raw, config } = await readConfig(io, values.config);
  // The config sits at the site root, so that is where the hand-written _redirects is read.
  const siteRoot = dirname(path);
  const functionsDir = readNetlifyToml(siteRoot).functions;
  // Checked before anything is written: a clash leaves the site as it was.
  const clashes = clashingFunctions(siteRoot, functionsDir, functionNames(raw));
  if (clashes.length) throw new FunctionNameClashError(clashes);
  const mailTemplates = await siteMailTemplates(siteRoot, raw).catch((error: unknown) => {
    throw error instanceof MailTemplateFilesError ? new CliError(`${error.message}\nnothing was written`) : error;
  });
  const result = await buildRedirects({ siteRoot, config, ...(io.env.ROLEGATE_DATA_DIR ? { dataDir: resolve(io.cwd, io.env.ROLEGATE_DATA_DIR) } : {}) });
  printWarnings(io, result.warnings);
  const where = relative(io.cwd, result.outputPath) || result.outputPath;
  const from = result.sourcePath ? ` (hand-written rules kept from ${relative(io.cwd, result.sourcePath) || result.sourcePath})` : '';
  io.stdout.write(result.changed ? `wrote ${where}: ${result.ruleCount} rolegate rules${from}\n` : `${where} is up to date (${result.ruleCount} rolegate rules)\n`);
  const functions = await buildFunctions({ siteRoot, rawConfig: raw, functionsDir, mailTemplates });
  const functionsWhere = relative(io.cwd, resolve(siteRoot, GENERATED_FUNCTIONS_DIR)) || GENERATED_FUNCTIONS_DIR;
  io.stdout.write(`${functions.written.length ? 'wrote' : 'up to date:'} ${functionsWhere}/: the functions ${functions.names.join(', ')}\n`);
  for (const removed of functions.removed) io.stdout.write(`removed ${removed}: the config has no "identity" section\n`);
  if (config.mode === 'edge') {
    const edge = await buildEdgeGate({ siteRoot, config });
    const entry = relative(io.cwd, edge.entryPath) || edge.entryPath;
    io.stdout.write(`${edge.changed ? 'wrote' : 'up to date:'} ${entry}: edge gate on ${edge.gateCount} ${edge.gateCount === 1 ? 'gate' : 'gates'} (mode "edge")\n`);
  } else if (await removeEdgeGate(siteRoot)) {
    io.stdout.write(`removed the generated edge gate (${EDGE_FUNCTIONS_DIR}/${EDGE_GATE_NAME}): mode is "redirects"\n`);
  }
  return 0;
}

function ruleLine(compiled: CompiledGates, verdict: PathVerdict & { rule: GateTableRule }): string | undefined {
  const { rule } = verdict;
  const startsWith = `${rule.from} `;
  return compiled.rules.find((line) => {
    if (!line.startsWith(startsWith)) return false;
    if (verdict.verdict === 'public') return line.endsWith(' 200') && !line.includes(' Role=');
    if (verdict.verdict === 'allow') return line.includes(' 200! Role=');
    return line.endsWith(' 302!');
  });
}

async function check(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, roles: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new CliError(`gates check needs exactly one URL_PATH\n${USAGE}`);
  const raw = positionals[0]!;
  if (!raw.startsWith('/')) throw new CliError(`URL_PATH must start with "/" (got ${JSON.stringify(raw)})`);
  const queryAt = raw.search(/[?#]/);
  let path = queryAt === -1 ? raw : raw.slice(0, queryAt);
  try {
    // Netlify's matcher sees the decoded path (netlify-cli decodes it the same way).
    path = decodeURIComponent(path);
  } catch {
    throw new CliError(`URL_PATH has a malformed %-escape: ${JSON.stringify(raw)}`);
  }
  const roles = (values.roles ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  const { config, compiled } = await readConfig(io, values.config);
  const verdict = explainPath(compiled.table, path, roles);
  const lines = [`${path} for ${roles.length ? `a visitor with roles ${roles.join(',')}` : 'a visitor without a valid token'}:`];
  lines.push(`  ${verdict.verdict}: ${verdict.reason}`);
  if (verdict.verdict !== 'not-gated') {
    const line = ruleLine(compiled, verdict);
    if (line) lines.push(`  rule: ${line}`);
  }
  if (queryAt !== -1) lines.push('  note: the query string plays no part in gating; the bounce to refresh does not carry it (see src/gates/compile.ts)');
  if (verdict.verdict === 'allow') lines.push('  (an expired token, a token signed with another secret or one without typ "JWT" is bounced instead)');
  if (config.mode === 'edge' && verdict.verdict === 'bounce') {
    lines.push(`  mode "edge": decided by the edge function ${EDGE_FUNCTIONS_DIR}/${EDGE_GATE_NAME}; with a refresh cookie and a Supabase store it refreshes inline instead of bouncing`);
  }
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text}  ` : text.padEnd(width + 2);
}

async function explain(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true, allowPositionals: false });
  const { config, compiled } = await readConfig(io, values.config);
  printWarnings(io, compiled.warnings);
  const { rules } = compiled.table;
  const gates = rules.filter((r): r is Extract<GateTableRule, { access: 'roles' }> => r.access === 'roles' && !r.aliasOf);
  const rows = gates.map((gate, i) => [
    String(i + 1),
    gate.from,
    gate.roles.join(','),
    rules.filter((r) => r.access === 'public' && r.gate === gate.from && !r.aliasOf).map((r) => r.from).join(' ') || '-',
  ]);
  // Pretty URLs: the other paths at which Netlify serves an exact gate's or exception's page.
  const aliases = new Map<string, string[]>();
  for (const rule of rules) if (rule.aliasOf) aliases.set(rule.aliasOf, [...(aliases.get(rule.aliasOf) ?? []), rule.from]);
  const header = ['#', 'path', 'roles (any of)', 'public exceptions'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const format = (row: string[]) => row.map((cell, c) => (c === row.length - 1 ? cell : pad(cell, widths[c]!))).join('').trimEnd();
  const out = [format(header), ...rows.map(format)];
  if (!rows.length) out.push('(no gates)');
  if (aliases.size) {
    out.push('');
    out.push('Netlify serves a page at more than one path (pretty URLs), so these are covered alike:');
    for (const [path, others] of aliases) out.push(`  ${path}: also ${others.join(' ')}`);
  }
  out.push('');
  out.push('Most specific first; the first matching gate decides. A visitor whose token lacks every role');
  out.push(`is bounced (302) to ${config.functions.refresh}/PATH, which refreshes the session and returns to PATH.`);
  if (config.mode === 'edge') out.push(`mode "edge": the edge function ${EDGE_FUNCTIONS_DIR}/${EDGE_GATE_NAME} decides, refreshing inline when it can.`);
  out.push(`auth paths: ${Object.entries(config.friendlyPaths).map(([name, p]) => `${p} → ${config.functions[name as keyof GateConfig['functions']]}`).join(', ')}`);
  out.push(`login page ${config.loginPage}, forbidden page ${config.forbiddenPage}, roles read from ${config.roleClaimPath}, output ${config.publishDir}/_redirects`);
  io.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

/**
 * `rolegate gates …`: `argv` is what follows `gates` on the command line. Returns the exit code;
 * every expected failure (bad config, conflicting _redirects, bad arguments) is printed to
 * stderr as a message, not a stack.
 */
export async function gatesCommand(argv: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  try {
    switch (subcommand) {
      case 'build':
        return await build(rest, io);
      case 'check':
        return await check(rest, io);
      case 'explain':
        return await explain(rest, io);
      case 'schema':
        io.stdout.write(`${JSON.stringify(gateConfigJsonSchema(), null, 2)}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
        io.stdout.write(`${USAGE}\n`);
        return subcommand === undefined ? 1 : 0;
      default:
        throw new CliError(`unknown gates command ${JSON.stringify(subcommand)}\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr.write(`rolegate gates: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof RolegateError) {
      io.stderr.write(`rolegate gates: ${error.message}\n`);
      return 1;
    }
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`rolegate gates: ${error.message}\n${USAGE}\n`);
      return 1;
    }
    throw error;
  }
}
