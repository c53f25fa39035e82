/**
 * Runs in every test file (vitest `setupFiles`): captures everything the file
 * logs — the handlers' console output in this process and, through
 * test/support/netlify-dev.ts, the log of every `netlify dev` the file ran,
 * which is where the functions' own output goes — and fails the file if any
 * of the suite's fixed secrets or passwords appears in it, in any encoding a
 * careless log line would use. Together with the per-run scans of
 * test/reliability (random refresh tokens and hashes), this covers what the
 * functions log during the whole suite.
 */
import { readFileSync } from 'node:fs';
import { afterAll, expect } from 'vitest';
import { devJwtSecret } from '../../src/dev/dev-secret.js';
import { captureLogs, leakedSecrets } from './log-capture.js';
import { childLogs } from './child-logs.js';

const SECRETS = new Map<string, string>([
  ['handler tests JWT_SECRET', 'test-secret-for-rolegate-handlers-0123456789'],
  ['sync tests JWT_SECRET', 'sync-tests-jwt-secret-0123456789abcdef'],
  ['sync runtime JWT_SECRET', 'sync-runtime-jwt-secret-0123456789abcdef'],
  ['Identity webhook secret', 'identity-webhook-secret-for-tests-0123456789'],
  ['PostgREST stand-in JWT secret', 'postgrest-standin-jwt-secret-for-tests-only'],
  ['edge PostgREST stand-in JWT secret', 'postgrest-standin-jwt-secret-for-edge-tests'],
  ['gate tests site secret', 'dev-only-site-secret-for-gate-tests-0123456789'],
  ['netlify.toml [dev] jwtSecret', devJwtSecret(readFileSync('netlify.toml', 'utf8')) ?? 'missing-dev-secret'],
  ['test password', 'correct horse battery staple'],
  ['seeded admin password', 'a passphrase for the seeded admin'],
]);

// This file plants leaks on purpose, to prove the scans can fail.
const EXEMPT = [/test\/reliability\/leak-scans\.test\.ts$/];

const capture = captureLogs();

afterAll(() => {
  capture.stop();
  const file = expect.getState().testPath ?? '';
  if (EXEMPT.some((pattern) => pattern.test(file))) return;
  const leaked = leakedSecrets([capture.text(), ...childLogs.splice(0)].join('\n'), SECRETS);
  if (leaked.length > 0) throw new Error(`secrets in what ${file} logged: ${leaked.join(', ')}`);
});
