import { z } from 'zod';
import { identityConfigSchema } from './identity.js';
import { accountsConfigSchema } from './accounts.js';
import { identityApiConfigSchema } from './identity-api.js';
import { adminConfigSchema } from './admin.js';
import { providersConfigSchema } from './providers.js';
import { DEFAULT_ROLE_CLAIM_PATH } from '../core/access-token.js';
import { EXACT_PATH_PATTERN, GATE_PATH_PATTERN, pathPatternProblem } from '../gates/path-pattern.js';
import { ROLE_NAME_PATTERN, roleNameProblem } from '../core/role-name.js';
import { RolegateError } from '../core/rolegate-error.js';

/**
 * The schema of `rolegate.config.json`. `rolegate.config.schema.json` (for editors) is generated
 * from it with `gateConfigJsonSchema()`; test/site-config/schema.test.ts fails when the two drift.
 */

function problemText(iss: { input?: unknown }, problem: (text: string) => string | null): string {
  return typeof iss.input === 'string' ? (problem(iss.input) ?? 'is invalid') : 'must be a string';
}

const gatePath = z
  .string()
  .regex(new RegExp(GATE_PATH_PATTERN, 'u'), {
    error: (iss) => problemText(iss, (text) => pathPatternProblem(text, { allowSplat: true })),
  });

const exactPath = z
  .string()
  .regex(new RegExp(EXACT_PATH_PATTERN, 'u'), {
    error: (iss) => problemText(iss, (text) => pathPatternProblem(text, { allowSplat: false })),
  });

const roleName = z.string().regex(new RegExp(ROLE_NAME_PATTERN, 'u'), { error: (iss) => problemText(iss, roleNameProblem) });

const gateSchema = z
  .strictObject({
    path: gatePath.describe(
      'Netlify path pattern: an exact path ("/reports/annual.html", which also covers "/reports/annual", where Netlify serves the same page) or a tree ("/admin/*").',
    ),
    roles: z
      .array(roleName)
      .min(1, { error: 'a gate needs at least one role' })
      .describe('A visitor whose token holds any of these roles passes. Case-sensitive.'),
    public: z
      .array(gatePath)
      .default([])
      .describe('Paths inside this gate that stay open to everyone (e.g. "/admin/login.html").'),
  })
  .describe('One gated path and the roles that may pass.');

const functionsSchema = z
  .strictObject({
    login: exactPath.default('/.netlify/functions/login'),
    refresh: exactPath.default('/.netlify/functions/refresh'),
    logout: exactPath.default('/.netlify/functions/logout'),
    recover: exactPath.default('/.netlify/functions/recover'),
    verify: exactPath.default('/.netlify/functions/verify'),
    signup: exactPath.default('/.netlify/functions/signup'),
    invite: exactPath.default('/.netlify/functions/invite'),
    account: exactPath.default('/.netlify/functions/account'),
    magicLink: exactPath.default('/.netlify/functions/magic-link'),
  })
  .describe('Where the auth functions are served.');

const friendlyPathsSchema = z
  .strictObject({
    login: exactPath.default('/auth/login'),
    refresh: exactPath.default('/auth/refresh'),
    logout: exactPath.default('/auth/logout'),
    recover: exactPath.default('/auth/recover'),
    verify: exactPath.default('/auth/verify'),
    signup: exactPath.default('/auth/signup'),
    invite: exactPath.default('/auth/invite'),
    account: exactPath.default('/auth/account'),
    magicLink: exactPath.default('/auth/magic-link'),
  })
  .describe('Short public paths rewritten (200) to the auth functions.');

export const gateConfigSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Path or URL of this JSON Schema, for editors.'),
    mode: z
      .enum(['redirects', 'edge'])
      // Edge by default: it verifies the token's signature itself (HS256 only), while Netlify's
      // role matcher under `netlify dev` accepts an unsigned (`alg: none`) token (README,
      // "Choosing a gate mode"; test/gates/truth-table.test.ts pins that finding).
      .default('edge')
      .describe('"edge" (the default) generates a Netlify Edge Function that verifies the token itself and refreshes inline (every plan; one edge invocation per gated request). "redirects" compiles gates into role rules in _redirects (needs a plan where Netlify checks the site\'s own JWT secret, and trusts Netlify\'s matcher to check the signature).'),
    gates: z.array(gateSchema).describe('Gated paths. The most specific gate wins, whatever the order here.'),
    loginPage: exactPath.default('/login').describe('Where visitors without a session are sent to log in.'),
    forbiddenPage: exactPath.default('/403').describe('Where logged-in visitors without the role are sent.'),
    functions: functionsSchema.default({
      login: '/.netlify/functions/login',
      refresh: '/.netlify/functions/refresh',
      logout: '/.netlify/functions/logout',
      recover: '/.netlify/functions/recover',
      verify: '/.netlify/functions/verify',
      signup: '/.netlify/functions/signup',
      invite: '/.netlify/functions/invite',
      account: '/.netlify/functions/account',
      magicLink: '/.netlify/functions/magic-link',
    }),
    friendlyPaths: friendlyPathsSchema.default({ login: '/auth/login', refresh: '/auth/refresh', logout: '/auth/logout', recover: '/auth/recover', verify: '/auth/verify',
      signup: '/auth/signup', invite: '/auth/invite', account: '/auth/account', magicLink: '/auth/magic-link' }),
    roleClaimPath: z
      .string()
      .regex(/^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*$/u, { error: 'must be a dotted claim path such as "app_metadata.authorization.roles"' })
      .default(DEFAULT_ROLE_CLAIM_PATH)
      .describe('Where the roles are in the access token; must equal the site\'s Netlify "JWT role path" (netlify.toml [dev] jwtRolePath).'),
    publishDir: z
      .string()
      .regex(/^(?!\/)(?![A-Za-z]:)(?!.*(?:^|[\\/])\.\.(?:[\\/]|$)).+$/u, { error: 'must be a relative path inside the site (no "..")' })
      .default('public')
      .describe('The publish directory, relative to the site root; _redirects is written there.'),
    identity: identityConfigSchema.optional(),
    accounts: accountsConfigSchema.optional(),
    identityApi: identityApiConfigSchema.optional(),
    admin: adminConfigSchema.optional(),
    providers: providersConfigSchema.optional(),
  })
  .describe('rolegate configuration: role-gated paths compiled into Netlify _redirects or an edge function.');

export type GateConfig = z.output<typeof gateConfigSchema>;
export type GateConfigInput = z.input<typeof gateConfigSchema>;
export type GateDefinition = GateConfig['gates'][number];

/** The JSON Schema shipped as `rolegate.config.schema.json`. */
export function gateConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(gateConfigSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}

/** A config that cannot be compiled. `problems` are one line each and name the offending entry. */
export class GateConfigError extends RolegateError {
  readonly code = 'invalid_gate_config';
  constructor(readonly problems: readonly string[], source = 'rolegate.config.json') {
    super(`${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'GateConfigError';
  }
}

/** `['gates', 1, 'roles', 0]` → `gates[1].roles[0]`. */
export function entryLabel(path: readonly PropertyKey[]): string {
  let label = '';
  for (const part of path) {
    if (typeof part === 'number') label += `[${part}]`;
    else label += label ? `.${String(part)}` : String(part);
  }
  return label || '(top level)';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const label = entryLabel(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${label}: unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${label}: is required`;
  const shown = typeof issue.input === 'string' ? ` ${JSON.stringify(issue.input)}` : '';
  return `${label}${shown}: ${issue.message}`;
}

/**
 * Validates the shape of an already-parsed config (e.g. a JSON import) and fills defaults.
 * Throws GateConfigError listing every problem. Cross-entry rules are checked by compileGates.
 */
export function parseGateConfig(value: unknown, source?: string): GateConfig {
  const result = gateConfigSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new GateConfigError(result.error.issues.map(describeIssue), source);
  return result.data;
}
