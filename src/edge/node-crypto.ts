/**
 * The edge bundle's stand-in for src/core/node-crypto.ts (scripts/edge-bundle.mjs
 * swaps it in): a plain import, because the edge's Deno is not guaranteed to
 * have `process.getBuiltinModule`, and its start-up is not the Node functions'.
 */
import * as crypto from 'node:crypto';

export function nodeCrypto(): typeof crypto {
  return crypto;
}
