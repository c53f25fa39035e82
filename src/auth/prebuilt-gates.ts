import type { GateTable } from '../gates/table.js';
import type { IdentitySyncConfig } from '../sync/config.js';

/**
 * The gate table the auth functions use, compiled at build time.
 *
 * Validating rolegate.config.json needs zod, which costs ~440 KB of bundle and
 * ~30 ms of every cold start (BENCHMARKS.md, cold start). So `npm run build`
 * (scripts/build.mjs, also run by `npm install`, `npm start` and `npm test`)
 * compiles the config through the same parseGateConfig and compileGates that
 * write `_redirects` and stores the table in netlify/gate-table.json together
 * with the config it came from. A function imports both files and uses the
 * table only when the two configs are still the same: a config edited after
 * the last build fails the cold start with a message saying what to run,
 * never a stale table. The configs are compared as JSON text rather than by
 * a digest, because hashing would load node:crypto (~3 ms) at every cold
 * start (src/core/node-crypto.ts).
 */
export interface PrebuiltGateTable {
  /** The rolegate.config.json this was compiled from, as parsed JSON. */
  config: unknown;
  table: GateTable;
  /** Its `identity` section, checked and with defaults filled in, for the Identity sync functions. */
  identity: IdentitySyncConfig;
}

export class StaleGateTableError extends Error {
  readonly code = 'gate_table_stale';
  constructor() {
    super('netlify/gate-table.json was not compiled from this rolegate.config.json; run "npm run build" (or "npm install") to compile it again');
    this.name = 'StaleGateTableError';
  }
}

/** Whether two configs are the same: compared as parsed JSON, so formatting and the import route do not matter. */
export function sameGateConfig(a: unknown, b: unknown): boolean {
  const text = JSON.stringify(a);
  return text !== undefined && text === JSON.stringify(b);
}

/**
 * The prebuilt table for `config`, or StaleGateTableError.
 *
 * @example
 * const gates = prebuiltGateTable(gateConfig, prebuilt); // both imported as JSON
 */
export function prebuiltGateTable(config: unknown, prebuilt: unknown): GateTable {
  return current(config, prebuilt).table;
}

/**
 * The `identity` section of `config` as the build checked it, so the sync
 * functions do not load zod either; or StaleGateTableError.
 */
export function prebuiltIdentityConfig(config: unknown, prebuilt: unknown): IdentitySyncConfig {
  return current(config, prebuilt).identity;
}

function current(config: unknown, prebuilt: unknown): PrebuiltGateTable {
  const candidate = prebuilt as Partial<PrebuiltGateTable> | null;
  if (!candidate || !sameGateConfig(candidate.config, config) || candidate.table?.version !== 1 || !candidate.identity) throw new StaleGateTableError();
  return candidate as PrebuiltGateTable;
}
