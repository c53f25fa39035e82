/**
 * The entry of the edge runtime bundle (`dist/edge-gate.js`, built by scripts/build.mjs). The
 * generated edge function imports it next to itself and passes in the compiled gate table.
 */
import type { Env } from '../core/environment.js';

export { createEdgeGate } from './gate.js';
export type { EdgeContext, EdgeGateOptions, EdgeHandler } from './gate.js';

interface EnvSource {
  Netlify?: { env?: { toObject(): Record<string, string> } };
  Deno?: { env: { toObject(): Record<string, string> } };
}

/**
 * The site's environment variables: Netlify's `Netlify.env` on the edge
 * (https://docs.netlify.com/edge-functions/api/#netlify-global-object), else Deno's.
 */
export function edgeEnv(): Env {
  const source = globalThis as EnvSource;
  return source.Netlify?.env?.toObject() ?? source.Deno?.env.toObject() ?? {};
}
