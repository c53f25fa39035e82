import type { CompiledSiteConfig } from '../site-config/compiled.js';

/**
 * What a generated function file hands its package handler: the table `rolegate gates build`
 * compiled from the site's rolegate.config.json, written into that file as a literal, so
 * the function and the gates of one build cannot disagree and nothing is read at cold start.
 */
export type CompiledSite = CompiledSiteConfig;

/** The config the table came from, for the checks that compare the two (src/site-config/compiled.ts). */
export function configOf(compiled: CompiledSite): unknown {
  return (compiled as Partial<CompiledSite> | null)?.config;
}
