import { isPlatformPath, parsePathPattern, patternMatches, splatOf } from './path-pattern.js';

/**
 * The compiled gate table: the generated `_redirects` block as data, in the same order. The
 * refresh function reads it to decide "role still missing → forbidden page", so it answers
 * exactly what Netlify's matcher answers for the same path (test/gates/truth-table.test.ts
 * runs both over one table of cases). Plain JSON, no zod: cheap to import.
 */
export interface GateTable {
  version: 1;
  roleClaimPath: string;
  loginPage: string;
  forbiddenPage: string;
  refreshFunction: string;
  /** First match wins, as in `_redirects`. */
  rules: GateTableRule[];
}

export type GateTableRule =
  | {
      from: string;
      access: 'public';
      /** `friendly-path`: an auth rewrite; `public-exception`: listed in a gate's `public`. */
      reason: 'friendly-path' | 'public-exception';
      /** For public exceptions, the gate they open a hole in. */
      gate?: string;
      /** Set when `from` is another URL of the listed exception's page (`prettyUrlAliases`). */
      aliasOf?: string;
    }
  | {
      from: string;
      access: 'roles';
      roles: string[];
      gate: string;
      /** Set when `from` is another URL of the exact gate's page (`prettyUrlAliases`). */
      aliasOf?: string;
    };

/** The first rule of the table that the matcher would apply to `requestPath`, or null. */
export function matchingRule(table: GateTable, requestPath: string): GateTableRule | null {
  if (isPlatformPath(requestPath)) return null;
  for (const rule of table.rules) {
    if (patternMatches(parsePathPattern(rule.from), requestPath)) return rule;
  }
  return null;
}

/**
 * The roles any one of which lets a visitor through `requestPath` (decoded, without query
 * string, as Netlify's matcher sees it), or `null` when the path is public: not gated, a public
 * exception, an auth path, or a `/.netlify/` platform path (never subject to rules). Case-sensitive;
 * `/admin` is inside `/admin/*`.
 *
 * @example
 * requiredRolesFor(table, '/admin/users')      // ['admin']
 * requiredRolesFor(table, '/admin/login.html') // null
 */
export function requiredRolesFor(table: GateTable, requestPath: string): string[] | null {
  const rule = matchingRule(table, requestPath);
  return rule && rule.access === 'roles' ? [...rule.roles] : null;
}

/**
 * The path the bounce rule appends to the refresh function's path for `requestPath`, as the
 * edge writes it (the visitor's query string travels separately: see compile.ts). `from` is the
 * matching rule's pattern: an exact rule, pretty-URL aliases included, sends back its own path.
 */
export function bounceNextFor(from: string, requestPath: string): string {
  const pattern = parsePathPattern(from);
  if (pattern.kind === 'exact') return pattern.path;
  return `${pattern.prefix}/${splatOf(pattern, requestPath)}`;
}

export type PathVerdict =
  | { verdict: 'not-gated'; reason: string }
  | { verdict: 'public'; rule: GateTableRule; reason: string }
  | { verdict: 'allow'; rule: GateTableRule; role: string; reason: string }
  | { verdict: 'bounce'; rule: GateTableRule; location: string; reason: string };

/**
 * What the edge does with a visitor holding `roles` (from a valid, unexpired token) who asks
 * for `requestPath`, and why. `roles: []` is a visitor without a usable token.
 */
export function explainPath(table: GateTable, requestPath: string, roles: readonly string[]): PathVerdict {
  const rule = matchingRule(table, requestPath);
  if (!rule) return { verdict: 'not-gated', reason: 'not gated: no rolegate rule matches this path' };
  const alias = rule.aliasOf ? `, served at ${rule.from} too` : '';
  if (rule.access === 'public') {
    const reason =
      rule.reason === 'friendly-path'
        ? `public: auth path rewrite ${rule.from}`
        : `public exception ${rule.aliasOf ?? rule.from}${rule.aliasOf ? ` (served at ${rule.from} too)` : ''} of gate ${rule.gate ?? ''}`.trimEnd();
    return { verdict: 'public', rule, reason };
  }
  const role = rule.roles.find((r) => roles.includes(r));
  if (role !== undefined) {
    return { verdict: 'allow', rule, role, reason: `allowed by Role=${rule.roles.join(',')} (gate ${rule.gate}${alias}, role "${role}")` };
  }
  const location = `${table.refreshFunction}${bounceNextFor(rule.from, requestPath)}`;
  const held = roles.length ? `roles ${roles.join(',')} do not include any of` : 'no valid token with any of';
  return {
    verdict: 'bounce',
    rule,
    location,
    reason: `fallback: bounce to refresh (302 ${location}); ${held} ${rule.roles.join(',')} (gate ${rule.gate}${alias})`,
  };
}

/**
 * The gated path a bounce carries: what follows the refresh function's own path in
 * `pathname` (`/.netlify/functions/refresh/admin/x` → `/admin/x`), or null when the request
 * is not a bounce (the bare function path, or another path). The result still has to pass the
 * same-site check for redirect targets before anyone is sent there.
 */
export function nextFromBouncePath(table: Pick<GateTable, 'refreshFunction'>, pathname: string): string | null {
  const prefix = table.refreshFunction;
  if (!pathname.startsWith(`${prefix}/`)) return null;
  return pathname.slice(prefix.length);
}
