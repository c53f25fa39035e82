/**
 * The shared gate truth table through the generated edge function under Deno, the runtime of
 * Netlify's edge (the `deno` devDependency ships the binary through npm, so this needs no
 * network). Same cases and same expected answers as the `_redirects` suite and the Node run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE_SECRET, mintToken } from './matcher.js';
import { gateTruthTable, truthTableConfig, type GateTruthCase } from './truth-table.js';
import { arrivesAsStated, askGateUnderDeno, caseTarget, cookieHeader, denoAvailable, makeEdgeSite, MALFORMED_GATE_PATHS, pathAtEdge, routedToGate, SITE, type DenoAnswer, type EdgeSite } from './edge-support.js';

const REFRESH = '/.netlify/functions/refresh';
const ENV = { JWT_SECRET: SITE_SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'unused' };

// Every case of the table except those whose path the URL parser rewrites (dot segments; see
// edge-truth-table.test.ts, which checks that there is exactly one and what it becomes).
const cases = gateTruthTable.filter(arrivesAsStated);

let site: EdgeSite;
let runtime: string;
const answers = new Map<string, { withToken: DenoAnswer | 'not-routed'; anonymous: DenoAnswer | 'not-routed' }>();
const malformedAnswers = new Map<string, DenoAnswer[]>();


describe('gate truth table through the edge gate under Deno', () => {
  beforeAll(async () => {
    // Required, not skipped: the `deno` devDependency ships the binary with `npm install`.
    if (!denoAvailable()) throw new Error('node_modules/.bin/deno does not run: reinstall the "deno" devDependency');
    site = await makeEdgeSite(truthTableConfig);
    // Netlify invokes the function only for routed paths; the rest never reach Deno.
    const requests: Array<{ key: string; url: string; cookie?: string }> = [];
    for (const tc of cases) {
      if (!routedToGate(site.declaration, pathAtEdge(tc))) continue;
      const nfJwt = await mintToken(tc.token, tc.roles);
      requests.push({ key: `${tc.name}|token`, url: `${SITE}${caseTarget(tc)}`, cookie: cookieHeader({ nf_jwt: nfJwt }) });
      requests.push({ key: `${tc.name}|anonymous`, url: `${SITE}${caseTarget(tc)}` });
    }
    // Paths no browser sends (edge-support.ts), as sent: anonymous and with every role.
    const everyRole = cookieHeader({ nf_jwt: await mintToken('valid-with-role', ['admin', 'member', 'staff', 'finance']) });
    for (const pathname of MALFORMED_GATE_PATHS) {
      requests.push({ key: `${pathname}|malformed-anonymous`, url: `${SITE}${pathname}` });
      requests.push({ key: `${pathname}|malformed-token`, url: `${SITE}${pathname}`, cookie: everyRole });
    }
    const result = await askGateUnderDeno(site, ENV, requests);
    runtime = result.runtime;
    const byKey = new Map(requests.map((r, i) => [r.key, result.answers[i]!]));
    for (const pathname of MALFORMED_GATE_PATHS) {
      malformedAnswers.set(pathname, [byKey.get(`${pathname}|malformed-anonymous`)!, byKey.get(`${pathname}|malformed-token`)!]);
    }
    for (const tc of cases) {
      answers.set(tc.name, {
        withToken: byKey.get(`${tc.name}|token`) ?? 'not-routed',
        anonymous: byKey.get(`${tc.name}|anonymous`) ?? 'not-routed',
      });
    }
  }, 120_000);
  afterAll(() => site?.close());

  it('ran in Deno', () => {
    expect(runtime).toMatch(/^deno 2\./);
  });

  it.each(cases.map((tc) => [tc.name, tc] as const))('%s', (_name, testCase) => {
    const { withToken, anonymous } = answers.get(testCase.name)!;
    const served = (a: DenoAnswer | 'not-routed') => a === 'not-routed' || a.served;
    let verdict: GateTruthCase['expect'];
    if (withToken !== 'not-routed' && withToken.status === 302) verdict = 'bounce';
    else {
      expect(served(withToken), JSON.stringify(withToken)).toBe(true);
      verdict = served(anonymous) ? 'public' : 'allow';
    }
    expect(verdict).toBe(testCase.expect);
    if (testCase.expect === 'bounce' && withToken !== 'not-routed') {
      const location = new URL(withToken.location!, SITE);
      expect(location.origin).toBe(SITE);
      expect(decodeURIComponent(location.pathname)).toBe(`${REFRESH}${testCase.next}`);
      expect(location.search).toBe(testCase.query ? `?${testCase.query}` : '');
      expect(withToken.cacheControl).toBe('no-store');
    }
  });

  it.each(MALFORMED_GATE_PATHS)('refuses %s (400 no-store, nothing served), with or without a token', (pathname) => {
    expect(routedToGate(site.declaration, pathname)).toBe(true);
    for (const answer of malformedAnswers.get(pathname)!) {
      expect(answer).toEqual({ status: 400, location: null, served: false, setCookies: [], cacheControl: 'no-store' });
    }
  });
});
