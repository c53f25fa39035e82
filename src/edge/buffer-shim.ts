/**
 * Injected into the edge bundle (esbuild `inject`): src/core/environment.ts measures secrets with
 * `Buffer.byteLength`, and Deno, unlike Node, has no global `Buffer`. Netlify's edge runtime
 * serves `node:` built-ins, as its own bundler relies on (@netlify/edge-bundler injects the
 * same import for npm modules).
 */
export { Buffer } from 'node:buffer';
