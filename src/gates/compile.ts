import { ADMIN_API_FUNCTION, ADMIN_API_PATH, DEFAULT_ACCOUNT_SETTINGS, IDENTITY_API_FUNCTION, IDENTITY_API_PATH } from '../site-config/account-settings.js';
import { PROVIDER_FUNCTION, PROVIDER_PATH } from '../site-config/provider-settings.js';
import { entryLabel, GateConfigError, parseGateConfig, type GateConfig } from '../site-config/schema.js';
import { isPlatformPath, parsePathPattern, patternCovers, patternMatches, prettyUrlAliases, specificity, type PathPattern } from './path-pattern.js';
import { matchingRule, type GateTable, type GateTableRule } from './table.js';

/**
 * Compiles gates into the rolegate block of `_redirects` and into the gate table the refresh
 * function reads.
 *
 * How the refresh function gets the table: the same build compiles it through this same function
 * and writes it, with the config it came from, into each generated function file
 * (src/gates/functions-build.ts). So `_redirects`, the edge gate and the functions' table cannot
 * drift, and no function loads zod to check the config.
 *
 * Query strings — measured with netlify-redirector 0.5 and read in netlify-cli 26's proxy
 * (node_modules/netlify-cli/dist/utils/proxy.js: "We pass through request params if the
 * redirect rule doesn't have any query params"): the matcher's `to` never carries the visitor's
 * query; the server forwards it only when the target has no query of its own. So the bounce
 * puts the original path in the target's path — `/admin/* /.netlify/functions/refresh/admin/:splat 302!`
 * — and the refresh function reads `next` from the path after its own prefix and the original
 * query from the request's query string, and joins them. (Under `netlify dev` the query is
 * still lost for role-gated rules: its proxy replaces the request URL with a placeholder while
 * checking the JWT and builds the target from that; README documents this local difference.)
 * A crafted path cannot add parameters either: `&next=//evil` in the splat stays part of a
 * same-site path.
 */

export interface CompiledGates {
  /** The lines between the markers (rules and short comments), in matcher order. */
  rules: string[];
  table: GateTable;
  /** Things that compile but are probably mistakes (e.g. roles differing only by case). */
  warnings: string[];
}

interface OrderedGate {
  index: number;
  path: string;
  pattern: PathPattern;
  /** The other URLs of an exact gate's page (`prettyUrlAliases`); none for a tree. */
  aliases: string[];
  roles: string[];
  publicPaths: string[];
}

/**
 * The other URLs of the page behind an exact path; a tree has none (it covers its own). Never a
 * `/.netlify` path (`/.netlify.html`'s alias): Netlify refuses rules for those.
 */
function aliasesOf(pattern: PathPattern): string[] {
  return pattern.kind === 'exact' ? prettyUrlAliases(pattern.path).filter((alias) => !isPlatformPath(alias)) : [];
}

/** A gate's public exceptions, each with the other URLs of its page that lie inside the gate. */
function exceptionsOf(gate: OrderedGate): Array<{ path: string; aliases: string[] }> {
  return gate.publicPaths.map((path) => ({
    path,
    aliases: aliasesOf(parsePathPattern(path)).filter((alias) => patternMatches(gate.pattern, alias)),
  }));
}

const ACCOUNT_PAGE_DEFAULTS = DEFAULT_ACCOUNT_SETTINGS.pages;

function orderGates(config: GateConfig): OrderedGate[] {
  const gates = config.gates.map((gate, index) => {
    const pattern = parsePathPattern(gate.path);
    return { index, path: gate.path, pattern, aliases: aliasesOf(pattern), roles: [...new Set(gate.roles)], publicPaths: gate.public };
  });
  // Most specific first, so a nested gate (/staff/admin/*) decides before the one around it
  // (/staff/*); equal specificity keeps the config's order (Array.prototype.sort is stable).
  // An exact gate's aliases go with it: an alias is an exact path too, and every tree that
  // matches it (`/dir/*` for `/dir`, alias of `/dir/index.html`) is less specific than that.
  return gates.sort((a, b) => specificity(b.pattern) - specificity(a.pattern));
}

function identityApiOn(config: GateConfig): boolean {
  return config.identityApi?.enabled === true;
}

function adminOn(config: GateConfig): boolean {
  return config.admin?.enabled === true;
}

function providersOn(config: GateConfig): boolean {
  return (config.providers?.length ?? 0) > 0;
}

function buildTable(config: GateConfig, gates: OrderedGate[]): GateTable {
  const rules: GateTableRule[] = [];
  for (const from of Object.values(config.friendlyPaths)) rules.push({ from, access: 'public', reason: 'friendly-path' });
  if (identityApiOn(config)) rules.push({ from: `${IDENTITY_API_PATH}/*`, access: 'public', reason: 'friendly-path' });
  if (providersOn(config)) rules.push({ from: `${PROVIDER_PATH}/*`, access: 'public', reason: 'friendly-path' });
  // The admin function checks the role itself, against the database; the gate only needs to let it be reached.
  if (adminOn(config)) rules.push({ from: `${ADMIN_API_PATH}/*`, access: 'public', reason: 'friendly-path' });
  for (const gate of gates) {
    for (const exception of exceptionsOf(gate)) {
      rules.push({ from: exception.path, access: 'public', reason: 'public-exception', gate: gate.path });
      for (const from of exception.aliases) rules.push({ from, access: 'public', reason: 'public-exception', gate: gate.path, aliasOf: exception.path });
    }
    rules.push({ from: gate.path, access: 'roles', roles: gate.roles, gate: gate.path });
    for (const from of gate.aliases) rules.push({ from, access: 'roles', roles: gate.roles, gate: gate.path, aliasOf: gate.path });
  }
  return {
    version: 1,
    roleClaimPath: config.roleClaimPath,
    loginPage: config.loginPage,
    forbiddenPage: config.forbiddenPage,
    refreshFunction: config.functions.refresh,
    rules,
  };
}

function gateLabel(gate: OrderedGate): string {
  return `gates[${gate.index}] ${JSON.stringify(gate.path)}`;
}

/** Cross-entry rules that zod cannot express. Returns problems (errors) and warnings. */
/** The admin page must sit inside a gate that one of the admin roles passes: the page itself lists every user. */
function adminPageProblems(config: GateConfig, gates: OrderedGate[], table: GateTable): string[] {
  const { page, roles } = { ...DEFAULT_ACCOUNT_SETTINGS.admin, ...config.admin };
  const rule = matchingRule(table, page);
  if (!rule || rule.access !== 'roles') {
    return [`admin.page ${JSON.stringify(page)} is not inside any gate; add one for it, e.g. { "path": ${JSON.stringify(page)}, "roles": ${JSON.stringify(roles)} }`];
  }
  if (!rule.roles?.some((role) => roles.includes(role))) {
    const gate = gates.find((g) => g.path === rule.gate);
    return [`admin.page ${JSON.stringify(page)}: inside ${gate ? gateLabel(gate) : JSON.stringify(rule.gate)}, which none of admin.roles ${JSON.stringify(roles)} passes, so no admin could open it`];
  }
  return [];
}

function checkGates(config: GateConfig, gates: OrderedGate[], table: GateTable): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const platformPaths: Array<[string, string]> = [
    ...config.gates.flatMap((gate, i): Array<[string, string]> => [
      [`gates[${i}].path`, gate.path],
      ...gate.public.map((p, j): [string, string] => [`gates[${i}].public[${j}]`, p]),
    ]),
    ...Object.entries(config.friendlyPaths).map(([name, p]): [string, string] => [`friendlyPaths.${name}`, p]),
  ];
  for (const [label, path] of platformPaths) {
    if (isPlatformPath(path.replace(/\/\*$/, ''))) {
      errors.push(`${label} ${JSON.stringify(path)}: Netlify never applies _redirects rules to /.netlify/ paths, so they cannot be gated, opened or rewritten`);
    }
  }

  const byConfigOrder = [...gates].sort((a, b) => a.index - b.index);
  byConfigOrder.forEach((gate, i) => {
    const earlier = byConfigOrder.slice(0, i).find((other) => other.path === gate.path);
    if (earlier) {
      errors.push(`${gateLabel(gate)}: shadowed by the earlier ${gateLabel(earlier)} (same path, so it would never match); merge their roles into one gate`);
    }
  });

  for (const gate of gates) {
    gate.publicPaths.forEach((publicPath, publicIndex) => {
      const label = `${entryLabel(['gates', gate.index, 'public', publicIndex])} ${JSON.stringify(publicPath)}`;
      const exception = parsePathPattern(publicPath);
      if (!patternCovers(gate.pattern, exception)) {
        errors.push(`${label}: outside its gate ${JSON.stringify(gate.path)}; a public exception can only open a path inside the gate it is listed under`);
        return;
      }
      if (patternCovers(exception, gate.pattern)) {
        errors.push(`${label}: opens the whole gate ${JSON.stringify(gate.path)}; remove the gate instead`);
        return;
      }
      // A more specific gate is matched before this gate's exceptions are reached.
      const inner = gates.find((other) => other !== gate && specificity(other.pattern) > specificity(gate.pattern) && patternCovers(other.pattern, exception));
      if (inner) {
        errors.push(`${label}: inside the more specific ${gateLabel(inner)}, which is matched first, so this exception would never apply; list it under that gate's "public"`);
      }
    });
  }

  // Pretty URLs: each URL of a gate's page (its path and aliases) must be decided by that gate,
  // and each URL of an exception's page opened by it; otherwise one page would answer to two
  // sets of roles depending on how it is spelled.
  for (const gate of gates) {
    for (const path of gate.pattern.kind === 'exact' ? [gate.path, ...gate.aliases] : []) {
      const rule = matchingRule(table, path);
      // The same path twice is reported above.
      if (rule?.access !== 'roles' || rule.gate === gate.path) continue;
      const other = gates.find((g) => g.path === rule.gate);
      if (!other) continue;
      errors.push(
        path === gate.path
          ? `${gateLabel(gate)}: the same page as ${gateLabel(other)}, which Netlify also serves at ${JSON.stringify(path)} and which is matched first; merge them into one gate`
          : `${gateLabel(gate)}: Netlify also serves this page at ${JSON.stringify(path)}, where ${gateLabel(other)} is matched first; merge them into one gate`,
      );
      break;
    }
    for (const exception of exceptionsOf(gate)) {
      if (!exception.aliases.length) continue;
      for (const path of [exception.path, ...exception.aliases]) {
        const rule = matchingRule(table, path);
        if (rule?.access !== 'roles') continue;
        const inner = gates.find((g) => g.path === rule.gate);
        // An exception inside a more specific tree is reported above.
        if (path === exception.path && inner && patternCovers(inner.pattern, parsePathPattern(path))) break;
        const label = `${entryLabel(['gates', gate.index, 'public', gate.publicPaths.indexOf(exception.path)])} ${JSON.stringify(exception.path)}`;
        const page = path === exception.path ? "that gate's page" : 'this page';
        errors.push(`${label}: ${inner ? gateLabel(inner) : JSON.stringify(rule.gate)} is matched first at ${JSON.stringify(path)} (Netlify serves ${page} there too), so the page would stay gated there; list it under that gate's "public" or move it`);
        break;
      }
    }
  }

  const mustStayReachable: Array<[string, string, string]> = [
    ['loginPage', config.loginPage, 'visitors without a session could never reach the login page'],
    ['forbiddenPage', config.forbiddenPage, 'visitors without the role would be bounced instead of seeing the forbidden page'],
    ['functions.login', config.functions.login, 'nobody could log in'],
    ['functions.refresh', config.functions.refresh, 'the bounce would loop'],
    ['functions.logout', config.functions.logout, 'visitors without the role could not log out'],
    ['functions.recover', config.functions.recover, 'nobody who forgot a password could ask for a link'],
    ['functions.verify', config.functions.verify, 'no mailed link would work'],
    ['functions.signup', config.functions.signup, 'nobody could sign up'],
    ['functions.invite', config.functions.invite, 'no invitation could be sent'],
  ];
  // A gated account page breaks only that flow, and a site gating "/*" from before the pages
  // existed must still build: a warning, not an error.
  // (The account page is for signed-in users: gating it is fine.)
  const shouldStayReachable: Array<[string, string, string]> = Object.entries({ ...ACCOUNT_PAGE_DEFAULTS, ...config.accounts?.pages })
    .filter(([name]) => name !== 'account')
    .map(([name, path]) => [`accounts.pages.${name}`, path, 'visitors without a session (someone signing up, or who forgot a password) could never reach it']);
  if (identityApiOn(config)) {
    const linkPage = config.identityApi?.linkPage ?? DEFAULT_ACCOUNT_SETTINGS.identityApi.linkPage;
    shouldStayReachable.push(['identityApi.linkPage', linkPage, 'a visitor opening a mailed link (a confirmation, a recovery, an invitation) could never reach the widget there']);
  }
  if (adminOn(config)) errors.push(...adminPageProblems(config, gates, table));
  for (const [list, reachable] of [[errors, mustStayReachable], [warnings, shouldStayReachable]] as const) {
    for (const [name, path, consequence] of reachable) {
      const rule = matchingRule(table, path);
      if (rule && rule.access === 'roles') {
        const gate = gates.find((g) => g.path === rule.gate);
        list.push(`${name} ${JSON.stringify(path)}: inside ${gate ? gateLabel(gate) : JSON.stringify(rule.gate)}, so ${consequence}; add it to that gate's "public" list or move it`);
      }
    }
  }

  const seen = new Map<string, { role: string; label: string }>();
  for (const gate of byConfigOrder) {
    config.gates[gate.index]?.roles.forEach((role, roleIndex) => {
      const label = entryLabel(['gates', gate.index, 'roles', roleIndex]);
      const first = seen.get(role.toLowerCase());
      if (!first) seen.set(role.toLowerCase(), { role, label });
      else if (first.role !== role) {
        warnings.push(`${label} ${JSON.stringify(role)} and ${first.label} ${JSON.stringify(first.role)} differ only by case; Netlify compares roles case-sensitively, so they are two different roles`);
      }
    });
  }
  return { errors, warnings };
}

/**
 * The `_redirects` lines of one table rule, written for `from`: its own path, or one of its host
 * forms (`hostFormsOf`). The target is always the rule's own path, so both forms lead to the page
 * and the bounce of the same path.
 */
function tableRuleLines(config: GateConfig, rule: GateTableRule, from: string): string[] {
  const pattern = parsePathPattern(rule.from);
  // The target is always written out. `/admin/* 200! Role=admin` is shorthand for
  // `/admin/* /admin/:splat 200! …` (@netlify/redirect-parser's addForwardRule), but the
  // shorthand exists only for splats: for an exact path Netlify's parser reports 'Missing "to"
  // field' and netlify-redirector's plain parser silently drops the rule, so the gate would
  // bounce everyone (measured; test/gates/truth-table.test.ts, exact gate cases).
  const self = pattern.kind === 'splat' ? `${pattern.prefix}/:splat` : pattern.path;
  if (rule.access === 'public') return [`${from} ${self} 200`];
  return [
    // `Role=` exactly so, comma-separated without spaces (PLATFORM-NOTES.md).
    `${from} ${self} 200! Role=${rule.roles.join(',')}`,
    // Forced: an unforced fallback lets anonymous visitors through to an existing static file.
    // The original path rides in the target's PATH, not in a `?next=` query: a target without a
    // query of its own is what lets the visitor's query string through to the refresh function.
    `${from} ${config.functions.refresh}${self} 302!`,
  ];
}

/** A gate's rules in table order: its public exceptions (and their pages' other URLs), the gate, its aliases. */
function gateTableRules(table: GateTable, gate: OrderedGate): GateTableRule[] {
  // Auth path rewrites belong to no gate.
  return table.rules.filter((rule) => rule.gate === gate.path);
}

function gateRules(config: GateConfig, table: GateTable, gate: OrderedGate): string[] {
  const servedAt = gate.aliases.length ? ` (the same page at ${gate.aliases.join(' ')})` : '';
  // Netlify's pretty URLs serve the page of an exact gate under other paths too (`/p.html` at
  // `/p`): each alias gets the same pair of rules, right after the gate and so before every tree
  // around it. The bounce sends the visitor back to the path they asked for.
  return [`# gate ${gate.path}: roles ${gate.roles.join(', ')}${servedAt}`, ...gateTableRules(table, gate).flatMap((rule) => tableRuleLines(config, rule, rule.from))];
}

// A host that names the machine itself: a rule for it would apply to every request netlify dev serves.
const OWN_HOST = /^(?:localhost|[\d.]+|\[.*\])$/i;

/**
 * `from` written as the URL netlify dev makes of a request for `//seg/rest`, or [] when it has none.
 *
 * netlify-cli's rules proxy parses the request target with `new URL(req.url, base)`
 * (node_modules/netlify-cli/dist/utils/rules-proxy.js), which reads `//admin/x`, `///admin/x`
 * and `/\admin/x` as the URL `http://admin/x`: its matcher sees host `admin` and path `/x`, so no
 * path rule matches, while its static server still serves `admin/x` (measured: an anonymous
 * `GET //admin/` served the admin page). netlify-redirector matches a rule written for that
 * host (`http://admin/*`), so each gate rule is repeated in that form, for both schemes. Rules
 * whose `from` itself starts with `//` or has `//` inside never match in netlify-redirector 0.5
 * (measured), and a gate on `/*` has no first segment to name: test/gates/truth-table.test.ts
 * pins what stays open.
 */
function hostFormsOf(from: string): string[] {
  const segment = from.split('/')[1] ?? '';
  if (segment === '' || segment === '*') return [];
  let host: string;
  try {
    host = new URL(`//${segment}/`, 'http://site.invalid').hostname;
  } catch {
    // netlify dev cannot parse such a request either, and does not serve it.
    return [];
  }
  if (host === '' || OWN_HOST.test(host)) return [];
  const rest = from.slice(1 + segment.length) || '/';
  return ['http', 'https'].map((scheme) => `${scheme}://${host}${rest}`);
}

function hostFormRules(config: GateConfig, table: GateTable, gates: OrderedGate[]): string[] {
  const lines = gates.flatMap((gate) => gateTableRules(table, gate).flatMap((rule) => hostFormsOf(rule.from).flatMap((from) => tableRuleLines(config, rule, from))));
  return lines.length ? ['# the same gates for //-paths, which netlify dev reads as a host (see src/gates/compile.ts)', ...lines] : [];
}

/**
 * Gates whose page Netlify's matcher under `netlify dev` (netlify-redirector 0.5) leaves open to
 * a spelling with a run of slashes, which no `_redirects` rule can close (rules written with `//`
 * never match). Measured: a tree two or more segments deep is not matched to `/staff///admin/x`
 * (one doubled slash is tolerated, three are not), an exact path two or more segments deep not
 * to `/reports//annual.html`; the static server serves the page for both. A gate one segment deep
 * is covered by the host forms. Edge mode decides on the page served, so it has no such gap.
 */
function runOfSlashesWarnings(gates: OrderedGate[]): string[] {
  return gates.flatMap((gate) => {
    const stem = gate.pattern.kind === 'exact' ? gate.pattern.path : gate.pattern.prefix;
    const segments = stem.split('/').filter(Boolean);
    if (segments.length < 2) return [];
    const spelling = gate.pattern.kind === 'exact' ? `/${segments[0]}//${segments.slice(1).join('/')}` : `/${segments[0]}///${segments.slice(1).join('/')}/…`;
    return [
      `${gateLabel(gate)}: in redirects mode Netlify's matcher under netlify dev (netlify-redirector 0.5, measured) does not apply this gate to ${spelling}, where the static server serves the same page; "mode": "edge" decides on the page served (production Netlify not verified)`,
    ];
  });
}

/**
 * Compiles a parsed config into the `_redirects` rules and the gate table. Throws
 * GateConfigError when gates conflict (shadowed gate, stray exception, locked login page…).
 *
 * @example
 * const { rules, table } = compileGates(parseGateConfig(json));
 * requiredRolesFor(table, '/admin/x'); // ['admin']
 */
export function compileGates(config: GateConfig): CompiledGates {
  const gates = orderGates(config);
  const table = buildTable(config, gates);
  const { errors, warnings } = checkGates(config, gates, table);
  if (errors.length) throw new GateConfigError(errors);
  const rules = ['# auth paths'];
  for (const [name, from] of Object.entries(config.friendlyPaths)) {
    rules.push(`${from} ${config.functions[name as keyof GateConfig['functions']]} 200`);
  }
  if (identityApiOn(config)) rules.push(`${IDENTITY_API_PATH}/* ${IDENTITY_API_FUNCTION}/:splat 200`);
  if (providersOn(config)) rules.push(`${PROVIDER_PATH}/* ${PROVIDER_FUNCTION}/:splat 200`);
  if (adminOn(config)) rules.push(`${ADMIN_API_PATH}/* ${ADMIN_API_FUNCTION}/:splat 200`);
  if (publishesSiteRoot(config.publishDir)) {
    rules.push('# the site\'s own files, which publishing the site root (publishDir ".") would serve');
    for (const path of SITE_ROOT_FILES) rules.push(`${path} /404.html 404!`);
  }
  // In edge mode the generated edge function decides gated paths (src/edge/gate.ts); `Role=`
  // rules would bounce everyone on plans where Netlify does not check the site's JWT secret,
  // so only the auth path rewrites go into _redirects.
  if (config.mode === 'redirects') {
    // The host forms first: a request netlify dev reads as `http://staff/admin/x` must be judged
    // as /staff/admin/x, not by the path rule for /admin/* (they never match a real host).
    rules.push(...hostFormRules(config, table, gates));
    for (const gate of gates) rules.push(...gateRules(config, table, gate));
  }
  const modeWarnings = config.mode === 'redirects' ? runOfSlashesWarnings([...gates].sort((a, b) => a.index - b.index)) : [];
  return { rules, table, warnings: [...warnings, ...modeWarnings] };
}

/**
 * Reads `rolegate.config.json` text: JSON, then shape, then the cross-entry rules.
 *
 * @example
 * const { config, compiled } = loadGateConfig(await readFile('rolegate.config.json', 'utf8'));
 */
export function loadGateConfig(jsonText: string, source = 'rolegate.config.json'): { config: GateConfig; compiled: CompiledGates } {
  let value: unknown;
  try {
    value = JSON.parse(jsonText);
  } catch (error) {
    throw new GateConfigError([`not valid JSON: ${(error as Error).message}`], source);
  }
  const config = parseGateConfig(value, source);
  try {
    return { config, compiled: compileGates(config) };
  } catch (error) {
    if (error instanceof GateConfigError) throw new GateConfigError(error.problems, source);
    throw error;
  }
}

/**
 * Files and folders at a site's root that are configuration, sources or local state, never pages:
 * with publishDir "." the build answers 404 for each. An `.env` file there is refused outright
 * (publish-dir.ts); its committed templates are listed here. `.npmrc` can hold a registry token,
 * `.envrc` (direnv) exported secrets.
 */
export const SITE_ROOT_FILES = [
  '/rolegate.config.json', '/netlify.toml', '/package.json', '/tsconfig.json', '/.gitignore',
  '/package-lock.json', '/npm-shrinkwrap.json', '/yarn.lock', '/pnpm-lock.yaml', '/bun.lock', '/bun.lockb',
  '/.npmrc', '/.envrc', '/.env.example', '/.env.sample', '/.env.template',
  '/node_modules/*', '/netlify/*', '/.rolegate/*', '/.git/*', '/supabase/*',
];

/** Whether the publish directory is the site root itself ("." and its spellings). */
export function publishesSiteRoot(publishDir: string): boolean {
  return /^(\.\/?|\.?\/)?$/.test(publishDir.trim());
}

/**
 * The gate table for a parsed config object: what the build writes into the generated
 * functions (compileSiteConfig), and what tests use.
 */
export function gateTableFromConfig(value: unknown): GateTable {
  return compileGates(parseGateConfig(value)).table;
}
