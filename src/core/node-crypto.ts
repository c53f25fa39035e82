import type * as NodeCrypto from 'node:crypto';

let loaded: typeof NodeCrypto | undefined;

/**
 * node:crypto, loaded on first use. Loading it takes a fresh Node process
 * ~3 ms (it brings streams and every cipher binding with it: twice a whole
 * hello-world function's cold start, BENCHMARKS.md), and many first requests
 * never hash or sign anything: a visitor without a session, a malformed
 * login, a sign-out without cookies. A static import would be evaluated at
 * load in Netlify's CommonJS bundle; `process.getBuiltinModule` (Node ≥
 * 20.16) loads a built-in synchronously from ES modules and CommonJS alike.
 * The edge bundle swaps this module for src/edge/node-crypto.ts.
 *
 * @example
 * nodeCrypto().createHash('sha256').update(token).digest('hex');
 */
export function nodeCrypto(): typeof NodeCrypto {
  return (loaded ??= process.getBuiltinModule('node:crypto'));
}
