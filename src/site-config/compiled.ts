import type { GateTable } from '../gates/table.js';
import type { IdentitySyncConfig } from './identity.js';
import type { AccountSettings } from './account-settings.js';
import { RolegateError } from '../core/rolegate-error.js';

/**
 * The gate table the auth functions use, compiled at build time.
 *
 * Validating rolegate.config.json needs zod, which costs ~440 KB of bundle and
 * ~30 ms of every cold start (BENCHMARKS.md, cold start). So `rolegate gates build`
 * compiles the config through the same parseGateConfig and compileGates that
 * write `_redirects`, and writes the table with the config it came from into
 * each generated function file (src/gates/functions-build.ts). The function
 * still checks that the two belong together, so a hand-edited file fails its
 * cold start with a message saying what to run rather than gating with another
 * config's rules. The configs are compared as JSON text rather than by a digest,
 * because hashing would load node:crypto (~3 ms) at every cold start.
 */
export interface CompiledSiteConfig {
  /** The rolegate.config.json this was compiled from, as parsed JSON. */
  config: unknown;
  table: GateTable;
  /** Its `identity` section, checked and with defaults filled in, for the Identity sync functions. */
  identity: IdentitySyncConfig;
  /** Its `accounts` section with defaults, and the verify function's paths, for the account functions. */
  accounts: AccountSettings;
}

export class StaleGateTableError extends RolegateError {
  readonly code = 'gate_table_stale';
  constructor() {
    super('the compiled gate table of this function was not made from the config beside it; run "rolegate gates build" to generate the functions again');
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

/** The `accounts` settings the build compiled for `config`; or StaleGateTableError. */
export function prebuiltAccountSettings(config: unknown, prebuilt: unknown): AccountSettings {
  return current(config, prebuilt).accounts;
}

function current(config: unknown, prebuilt: unknown): CompiledSiteConfig {
  const candidate = prebuilt as Partial<CompiledSiteConfig> | null;
  if (!candidate || !sameGateConfig(candidate.config, config) || candidate.table?.version !== 1 || !candidate.identity || !candidate.accounts) {
    throw new StaleGateTableError();
  }
  return candidate as CompiledSiteConfig;
}
