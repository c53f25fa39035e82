import type { PrebuiltGateTable } from '../auth/prebuilt-gates.js';

/**
 * What a generated function file hands its package handler: the table `rolegate gates build`
 * compiled from the site's rolegate.config.json, written into that file as a literal, so
 * the function and the gates of one build cannot disagree and nothing is read at cold start.
 */
export type CompiledSite = PrebuiltGateTable;

/** The config the table came from, for the checks that compare the two (src/auth/prebuilt-gates.ts). */
export function configOf(compiled: CompiledSite): unknown {
  return (compiled as Partial<CompiledSite> | null)?.config;
}
