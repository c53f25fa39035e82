import { z } from 'zod';
import type { ProviderKind, ProviderSettings } from './provider-settings.js';

/**
 * The `providers` list of rolegate.config.json: "Sign in with GitHub, Google, GitLab" and any
 * OpenID Connect provider by its issuer. Client ids and secrets are read from environment
 * variables the entry names (by default `<ID>_CLIENT_ID` and `<ID>_CLIENT_SECRET`).
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An https URL without query or fragment; http only on this machine (a provider for local development or tests). */
export function providerUrlProblem(text: string): string | null {
  if (!URL.canParse(text)) return 'must be an absolute URL such as "https://accounts.example.com"';
  const url = new URL(text);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return 'must be an https URL (http only for localhost)';
  if (url.search || url.hash || url.username || url.password) return 'must have no query, fragment or credentials';
  return null;
}

const providerUrl = z.string().superRefine((text, ctx) => {
  const problem = providerUrlProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, input: text });
});

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/u, { error: 'must be an environment variable name in upper case, such as "GITHUB_CLIENT_SECRET"' });

const KIND_DEFAULTS: Record<ProviderKind, { name: string; issuer?: string; scopes: string[] }> = {
  github: { name: 'GitHub', scopes: ['read:user', 'user:email'] },
  google: { name: 'Google', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'] },
  gitlab: { name: 'GitLab', issuer: 'https://gitlab.com', scopes: ['openid', 'email', 'profile'] },
  oidc: { name: 'single sign-on', scopes: ['openid', 'email', 'profile'] },
};

const providerSchema = z
  .strictObject({
    type: z.enum(['github', 'google', 'gitlab', 'oidc']).describe('"github" (OAuth app; the address from its API), "google", "gitlab", or "oidc" for any OpenID Connect provider.'),
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/u, { error: 'must be lower-case letters, digits and inner hyphens, at most 32 characters' })
      .optional()
      .describe('Its name in URLs (/auth/provider/<id>) and in the identities table; the type by default. Changing it later unlinks every identity made under the old one.'),
    name: z.string().min(1).max(60).optional().describe('What the button says after "Sign in with" (GitHub, Google, GitLab; give one for "oidc").'),
    issuer: providerUrl.optional().describe('OpenID Connect issuer (required for "oidc"; for "gitlab" a self-managed instance, https://gitlab.com by default).'),
    url: providerUrl.optional().describe('"github" only: a GitHub Enterprise Server (https://github.example.com); github.com by default.'),
    clientIdEnv: envName.optional().describe('Environment variable holding the client id; <ID>_CLIENT_ID by default.'),
    clientSecretEnv: envName.optional().describe('Environment variable holding the client secret; <ID>_CLIENT_SECRET by default.'),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/u, { error: 'must be one scope token (no spaces or quotes)' }))
      .max(20)
      .optional()
      .describe('Scopes asked for; OpenID Connect always includes "openid" and "email", GitHub "user:email".'),
  })
  .superRefine((entry, ctx) => {
    if (entry.type === 'oidc' && !entry.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'is required for an "oidc" provider' });
    if ((entry.type === 'github' || entry.type === 'google') && entry.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: `has no meaning for "${entry.type}"` });
    if (entry.type !== 'github' && entry.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'is for "github" only (an OpenID Connect provider is named by its issuer)' });
  })
  .describe('One provider people may sign in with.');

export const providersConfigSchema = z
  .array(providerSchema)
  .max(20)
  .superRefine((entries, ctx) => {
    const seen = new Set<string>();
    entries.forEach((entry, index) => {
      const id = entry.id ?? entry.type;
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `"${id}" names two providers; give each its own id` });
      seen.add(id);
    });
  })
  .describe('Sign-in with GitHub, Google, GitLab or any OpenID Connect provider (README, "Sign in with a provider").');

export type ProvidersSection = z.output<typeof providersConfigSchema>;

const REQUIRED_SCOPES: Record<ProviderKind, string[]> = { github: ['user:email'], google: ['openid', 'email'], gitlab: ['openid', 'email'], oidc: ['openid', 'email'] };

/** The entries with every default filled in, for the build to compile into the functions. */
export function providerSettings(section: ProvidersSection): ProviderSettings[] {
  return section.map((entry) => {
    const id = entry.id ?? entry.type;
    const defaults = KIND_DEFAULTS[entry.type];
    const envPrefix = id.toUpperCase().replaceAll('-', '_');
    const settings: ProviderSettings = {
      id,
      kind: entry.type,
      name: entry.name ?? defaults.name,
      clientIdEnv: entry.clientIdEnv ?? `${envPrefix}_CLIENT_ID`,
      clientSecretEnv: entry.clientSecretEnv ?? `${envPrefix}_CLIENT_SECRET`,
      scopes: [...new Set([...REQUIRED_SCOPES[entry.type], ...(entry.scopes ?? defaults.scopes)])],
    };
    if (entry.type === 'github') {
      const web = (entry.url ?? 'https://github.com').replace(/\/+$/u, '');
      return { ...settings, webUrl: web, apiUrl: web === 'https://github.com' ? 'https://api.github.com' : `${web}/api/v3` };
    }
    return { ...settings, issuer: entry.issuer ?? defaults.issuer };
  });
}
