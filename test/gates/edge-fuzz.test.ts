/**
 * Property test of the edge gate (the generated function, under Node): requests an attacker can
 * build from the shared truth table's gates — paths with repeated, mixed and escaped slashes,
 * dot segments, backslashes and non-Latin-1 text; `nf_jwt` values that are unsigned, carry odd
 * `alg` headers or a payload that is not an object, or are plain junk — must never crash the gate
 * (no exception, no 5xx: only 200, 302 or 400), and must never serve a gated page without a
 * genuinely signed token holding one of its roles.
 *
 * "Gated" is judged independently of the gate's own code: the path a file server resolves
 * (decoded, then normalised with runs of slashes and dot segments resolved) looked up in the gate
 * table. The seed is fixed (FUZZ_SEED overrides it); fast-check prints the failing request.
 */
import { posix } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeHandler } from '../../src/edge/gate.js';
import { compileGates } from '../../src/gates/compile.js';
import { parseGateConfig } from '../../src/site-config/schema.js';
import { requiredRolesFor, type GateTable } from '../../src/gates/table.js';
import { askGate, makeEdgeSite, routedToGate, SITE, type EdgeSite } from './edge-support.js';
import { ARRAY_PAYLOAD_TOKEN, ODD_TOKEN_KINDS, SITE_SECRET, mintToken } from './matcher.js';
import { truthTableConfig } from './truth-table.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = 400;

let site: EdgeSite;
let gate: EdgeHandler;
let table: GateTable;
/** Tokens signed with the site's secret, and the roles each carries. */
const genuine = new Map<string, string[]>();
const forged: string[] = [];

const ROLE_SETS = [['admin'], ['member'], ['staff'], ['finance'], ['admin', 'member', 'staff', 'finance']];
const b64 = (text: string) => Buffer.from(text).toString('base64url');

beforeAll(async () => {
  site = await makeEdgeSite(truthTableConfig);
  gate = await site.loadGenerated({ JWT_SECRET: SITE_SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'unused' });
  table = compileGates(parseGateConfig({ ...truthTableConfig, mode: 'edge' })).table;
  for (const roles of ROLE_SETS) {
    genuine.set(await mintToken('valid-with-role', roles), roles);
    for (const kind of [...ODD_TOKEN_KINDS, 'expired', 'other-secret', 'wrong-claim-path', 'missing-typ'] as const) forged.push(await mintToken(kind, roles));
  }
  // Payloads that are not a JSON object, under honest and unsigned headers.
  for (const payload of ['[1,2,3]', '[]', 'null', '1', '"admin"', 'true', '{"app_metadata":{"authorization":{"roles":"admin"}}}']) {
    for (const header of ['{"alg":"HS256","typ":"JWT"}', '{"alg":"none","typ":"JWT"}', '[]', 'null', '{"alg":["HS256"],"typ":"JWT"}']) {
      forged.push(`${b64(header)}.${b64(payload)}.`, `${b64(header)}.${b64(payload)}.AAAA`);
    }
  }
  forged.push(ARRAY_PAYLOAD_TOKEN);
}, 60_000);
afterAll(() => site?.close());

const SEGMENTS = ['admin', 'staff', 'members', 'board', 'reports', 'annual.html', 'annual', 'handbook', 'handbook.html', 'index.html', 'login.html', 'assets', 'payroll.html', 'x', 'ADMIN', 'é', '日本', '😀', '.', '..', '%2e', '%2E%2E', '.%2e', '', '%61dmin', '%C3%A9', 'a b', '%00', '%ff', '%'];
const SEPARATORS = ['/', '/', '/', '//', '///', '\\', '/\\', '%2F', '%2f', '%5C', '/./', '/%2e/', '/../', '%2F%2F'];

/** A path from gate-like segments joined by every spelling of a slash; unescaped text is escaped as a browser would. */
const pathArb = fc
  .array(fc.tuple(fc.constantFrom(...SEPARATORS), fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...SEGMENTS) }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) })), { minLength: 1, maxLength: 6 })
  .chain((parts) => fc.tuple(fc.constant(parts), fc.constantFrom('', '/', '//', '?next=//evil.example', '?a=1')))
  .map(([parts, tail]) => {
    const path = parts.map(([separator, segment]) => `${separator}${segment}`).join('');
    const [pathname, query] = tail.startsWith('?') ? [path, tail] : [`${path}${tail}`, ''];
    return `${/^[/\\]/.test(pathname) ? '' : '/'}${escapeLoosely(pathname)}${query}`;
  });

/** Escapes what a URL cannot carry raw (spaces, non-ASCII), keeping `%`, `\` and the slashes as they are. */
function escapeLoosely(path: string): string {
  return [...path].map((char) => (/[\x21-\x7e]/.test(char) ? char : encodeURIComponent(char))).join('');
}

const junkToken = fc.oneof(
  fc.string({ maxLength: 40 }).map((text) => text.replace(/[;,\s"\\]/g, '')),
  fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 60 }), fc.string({ maxLength: 10 })).map(([h, p, s]) => `${b64(h)}.${b64(p)}.${b64(s)}`),
);

const tokenArb = fc.oneof(
  fc.constant(''),
  fc.constantFrom(...[0, 1, 2, 3, 4].map((i) => i)).map((i) => [...genuine.keys()][i]!),
  fc.nat().map((i) => forged[i % forged.length]!),
  junkToken,
);

/** The path a file server serves for a request path, or null when it cannot be decoded. */
function fileServerPath(pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  return posix.normalize(decoded.replace(/\\/g, '/'));
}

describe('edge gate under hostile paths and tokens (property)', () => {
  it('never throws or answers 5xx, and never serves a gated page without a signed token holding its role', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(pathArb, tokenArb, async (target, token) => {
        let parsed: URL;
        try {
          parsed = new URL(`${SITE}${target}`);
        } catch {
          return; // Not a request anyone can send.
        }
        const answer = await askGate(site, gate, target, token ? { nf_jwt: token } : {});
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        expect([200, 302, 400]).toContain(answer.status);
        if (answer.status === 400) expect(answer.response.headers.get('cache-control')).toBe('no-store');
        if (!answer.served) return;
        // What the page request carries on: the parsed URL (the edge never sees the raw target;
        // how the origin would resolve that is the routing property below).
        const served = fileServerPath(parsed.pathname);
        const required = served === null ? null : requiredRolesFor(table, served);
        if (required === null) return;
        const roles = genuine.get(token) ?? [];
        expect(required.some((role) => roles.includes(role)), `${target} served ${served} (needs ${required.join(',')}) to ${token.slice(0, 40)}`).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The run exercised every answer, so the property was not trivially true.
    expect([...statuses.keys()].sort()).toEqual([200, 302, 400]);
  }, 120_000);

  it('routes every request whose served path is gated to the gate, by the path as sent and as parsed', () => {
    fc.assert(
      fc.property(pathArb, (target) => {
        let parsed: URL;
        try {
          parsed = new URL(`${SITE}${target}`);
        } catch {
          return;
        }
        for (const pathname of [parsed.pathname, target.split('?')[0]!]) {
          const served = fileServerPath(pathname);
          if (served === null || requiredRolesFor(table, served) === null) continue;
          expect(routedToGate(site.declaration, pathname), `${pathname} serves the gated ${served}`).toBe(true);
        }
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
  });
});
