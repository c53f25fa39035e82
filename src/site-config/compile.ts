import { gateTableFromConfig } from '../gates/compile.js';
import { accountsConfigSchema } from './accounts.js';
import { ADMIN_API_PATH, IDENTITY_API_PATH, type AccountSettings } from './account-settings.js';
import { adminConfigSchema } from './admin.js';
import { parseGateConfig } from './schema.js';
import { identityConfigSchema } from './identity.js';
import { identityApiConfigSchema } from './identity-api.js';
import { providerSettings, providersConfigSchema } from './providers.js';
import type { CompiledSiteConfig } from './compiled.js';

/**
 * What the build writes into each generated function for `config` (see compiled.ts and
 * src/gates/functions-build.ts). Build time only: it validates with zod, and throws
 * GateConfigError naming what is wrong.
 */
export function compileSiteConfig(config: unknown): CompiledSiteConfig {
  // gateTableFromConfig validates the whole file, identity section included.
  const table = gateTableFromConfig(config);
  const identity = identityConfigSchema.parse((config as { identity?: unknown }).identity ?? {});
  return { config, table, identity, accounts: accountSettings(config) };
}

function accountSettings(config: unknown): AccountSettings {
  const parsed = parseGateConfig(config);
  const section = accountsConfigSchema.parse(parsed.accounts ?? {});
  return { ...section, verifyPath: parsed.friendlyPaths.verify, verifyPaths: [...new Set([parsed.functions.verify, parsed.friendlyPaths.verify])],
    friendlyPaths: [parsed.friendlyPaths.recover, parsed.friendlyPaths.verify, parsed.friendlyPaths.signup, parsed.friendlyPaths.invite, parsed.friendlyPaths.account, parsed.friendlyPaths.magicLink],
    identityApi: { ...identityApiConfigSchema.parse(parsed.identityApi ?? {}), basePath: IDENTITY_API_PATH },
    admin: { ...adminConfigSchema.parse(parsed.admin ?? {}), basePath: ADMIN_API_PATH },
    providers: providerSettings(providersConfigSchema.parse(parsed.providers ?? [])),
  };
}
