import { readFile, writeFile } from 'node:fs/promises';
import { gateTableFromConfig } from '../gates/compile.js';
import { identityConfigSchema } from '../sync/config.js';
import type { PrebuiltGateTable } from './prebuilt-gates.js';

/**
 * Compiles rolegate.config.json into the prebuilt gate table of the auth
 * functions (see prebuilt-gates.ts). Build time only: it validates with zod.
 * Writes only when the content changes, so a build leaves a clean checkout clean.
 *
 * @example
 * await writePrebuiltGateTable('rolegate.config.json', 'netlify/gate-table.json');
 */
export async function writePrebuiltGateTable(configPath: string, outputPath: string): Promise<boolean> {
  const prebuilt = compilePrebuiltGateTable(JSON.parse(await readFile(configPath, 'utf8')));
  const content = `${JSON.stringify(prebuilt, null, 2)}\n`;
  if ((await readFile(outputPath, 'utf8').catch(() => null)) === content) return false;
  await writeFile(outputPath, content);
  return true;
}

/** What writePrebuiltGateTable stores for `config`: throws GateConfigError naming what is wrong. */
export function compilePrebuiltGateTable(config: unknown): PrebuiltGateTable {
  // gateTableFromConfig validates the whole file, identity section included.
  const table = gateTableFromConfig(config);
  const identity = identityConfigSchema.parse((config as { identity?: unknown }).identity ?? {});
  return { config, table, identity };
}
