import { gateTableFromConfig } from '../gates/compile.js';
import { identityConfigSchema } from './identity.js';
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
  return { config, table, identity };
}
