import { ConfigError, readConfig, readDatabaseConfig, type DatabaseConfig, type Env } from '../core/environment.js';
import type { ProviderSettings } from '../site-config/provider-settings.js';

const WHERE = "set them in Netlify's UI: Site configuration → Environment variables, with the Builds and Functions scopes";

/**
 * What stops a deploy from working, checked at build time from the build's environment (which
 * on Netlify holds the same variables as the functions unless their scopes say otherwise):
 * every problem readConfig finds, no SITE_URL/URL, a store that is only for local use, and a
 * configured sign-in provider without its client id or secret (its button would only fail).
 * Returns one message, or null when the environment is fit to deploy. Never echoes a value.
 */
export function deployEnvironmentProblem(env: Env, providers: readonly ProviderSettings[] = []): string | null {
  const problems: string[] = [];
  try {
    readConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  let database: DatabaseConfig | undefined;
  try {
    database = readDatabaseConfig(env);
  } catch {
    /* its problems are among readConfig's */
  }
  if (database?.kind === 'embedded') {
    problems.push('no database is set: set DATABASE_URL (or NETLIFY_DB_URL) to PostgreSQL, or SUPABASE_URL with SUPABASE_SERVICE_ROLE_KEY; the embedded database is for local development only');
  }
  for (const provider of providers) {
    const unset = [provider.clientIdEnv, provider.clientSecretEnv].filter((name) => !env[name]?.trim());
    if (unset.length) problems.push(`${unset.join(' and ')} ${unset.length > 1 ? 'are' : 'is'} required for sign-in with ${provider.name} (provider "${provider.id}" in rolegate.config.json; remove it there to deploy without it)`);
  }
  if (!env.SITE_URL?.trim() && !env.URL?.trim()) problems.push('SITE_URL is required (the site\'s https:// address; Netlify\'s own builds set URL)');
  if (!problems.length) return null;
  return `rolegate cannot deploy this site as configured:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${WHERE}, then deploy again`;
}
