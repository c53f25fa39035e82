import { gateTableFromConfig } from '../gates/compile.js';
import { identityConfigSchema } from '../sync/config.js';
import type { PrebuiltGateTable } from './prebuilt-gates.js';

/**
 * What the build writes into each generated function for `config` (see prebuilt-gates.ts and
 * src/gates/functions-build.ts). Build time only: it validates with zod, and throws
 * GateConfigError naming what is wrong.
 */
export function compilePrebuiltGateTable(config: unknown): PrebuiltGateTable {
  // gateTableFromConfig validates the whole file, identity section included.
  const table = gateTableFromConfig(config);
  const identity = identityConfigSchema.parse((config as { identity?: unknown }).identity ?? {});
  return { config, table, identity };
}
