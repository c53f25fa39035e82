/**
 * The shared gate truth table (test/gates/truth-table.ts) through the edge gate: the generated
 * edge function, run under Node with Web-standard Request/Response. The same cases, the same
 * expected answers as the `_redirects` suite (truth-table.test.ts): `allow` serves the page,
 * `public` serves it without looking at the token, `bounce` sends the visitor to the very
 * address the `_redirects` fallback uses. test/gates/edge-deno.test.ts runs the same table
 * under Deno.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeHandler } from '../../src/edge/gate.js';
import { SITE_SECRET, mintToken } from './matcher.js';
import { gateTruthTable, truthTableConfig, type GateTruthCase } from './truth-table.js';
import { arrivesAsStated, askGate, caseTarget, makeEdgeSite, MALFORMED_GATE_PATHS, routedToGate, SITE, type EdgeSite } from './edge-support.js';

const REFRESH = '/.netlify/functions/refresh';
let site: EdgeSite;
let gate: EdgeHandler;

beforeAll(async () => {
  site = await makeEdgeSite(truthTableConfig);
  // No store reachable over HTTP and no refresh cookie in these cases: the gate only checks tokens.
  gate = await site.loadGenerated({ JWT_SECRET: SITE_SECRET, SITE_URL: SITE, ROLEGATE_DATA_DIR: 'unused' });
}, 60_000);
afterAll(() => site?.close());

type Verdict = GateTruthCase['expect'];


/**
 * What the visitor gets, observed from outside: a 302 to the refresh function is a bounce; a
 * served page is `allow` when the same request without a token is bounced (the gate was in
 * force) and `public` when it is served too.
 */
async function edgeVerdict(testCase: GateTruthCase): Promise<{ verdict: Verdict; location: string | null }> {
  const nfJwt = await mintToken(testCase.token, testCase.roles);
  const answer = await askGate(site, gate, caseTarget(testCase), { nf_jwt: nfJwt });
  if (answer.status === 302) {
    expect(answer.location?.startsWith(`${REFRESH}/`), `location ${answer.location}`).toBe(true);
    return { verdict: 'bounce', location: answer.location };
  }
  expect(answer.served, `status ${answer.status}`).toBe(true);
  const anonymous = await askGate(site, gate, caseTarget(testCase));
  return { verdict: anonymous.served ? 'public' : 'allow', location: null };
}

// WHATWG URL parsing (every Request, so every edge function) resolves dot segments before the
// edge sees the path: `/admin/../x` arrives as `/x`. Netlify's redirect matcher compares the
// raw path. Those cases are a different request at the edge and are checked apart, below.
const arrivesAsWritten = arrivesAsStated;

describe('gate truth table through the edge gate (Node, generated function)', () => {
  it('runs every case of the shared table; only dot-dot paths arrive changed', () => {
    expect(gateTruthTable.filter((tc) => !arrivesAsWritten(tc)).map((tc) => tc.path)).toEqual(['/admin/../x']);
  });

  it.each(gateTruthTable.filter(arrivesAsWritten).map((tc) => [tc.name, tc] as const))('%s', async (_name, testCase) => {
    const { verdict, location } = await edgeVerdict(testCase);
    expect(verdict).toBe(testCase.expect);
    if (testCase.expect === 'bounce') {
      // The same target as the `_redirects` rule, with the visitor's own query after it (which
      // Netlify forwards to a target without a query of its own).
      const target = new URL(location!, SITE);
      expect(target.origin).toBe(SITE);
      expect(decodeURIComponent(target.pathname)).toBe(`${REFRESH}${testCase.next}`);
      expect(target.search).toBe(testCase.query ? `?${testCase.query}` : '');
    }
  });

  it('answers a dot-dot path as the request it becomes: /admin/../x is the request for /x', async () => {
    const dotDot = gateTruthTable.find((tc) => tc.path === '/admin/../x')!;
    const answer = await askGate(site, gate, dotDot.path, {});
    expect(answer.served).toBe(true);
    expect(new URL(`${SITE}${dotDot.path}`).pathname).toBe('/x');
    // And the tree it pointed into is still gated when reached through dot segments.
    const inside = await askGate(site, gate, '/x/../admin/users.html', {});
    expect(inside.status).toBe(302);
    expect(inside.location).toBe(`${REFRESH}/admin/users.html`);
  });
});

describe('what Netlify routes to the edge gate', () => {
  it('declares one pattern per gate (an exact gate\'s other paths in its own), one for dot segments, and fails closed on errors', () => {
    expect(site.declaration.pattern).toHaveLength(8);
    expect(site.declaration.onError).toBe('fail');
  });

  // Sent as-is (curl --path-as-is); every Request resolves them, so the gate judges the target.
  it.each(['/x/../admin/users.html', '/x/%2e%2e/admin/users.html', '/x/%2E%2E%2Fadmin/users.html', '/members/./../admin/', '/./admin/x'])(
    'routes the unresolved %s to the gate',
    (pathname) => {
      expect(routedToGate(site.declaration, pathname)).toBe(true);
    },
  );

  // Repeated slashes, raw or escaped, anywhere in a gate's path: netlify dev's static server
  // serves the gated page for them (measured), so they must reach the gate, which decides on
  // the page served (the shared table's repeated-slash cases).
  it.each([
    '//admin/', '///admin/x', '//admin', '//admin//index.html', '/\\admin/', '/\\/admin/', '//%61dmin/', '/%2F/admin/', '/%2f%2Fadmin/x',
    '/staff//admin/payroll.html', '/staff///admin/payroll.html', '/members//board/', '/reports//annual.html', '/reports/annual.html//', '//handbook', '/handbook//',
  ])('routes the repeated-slash spelling %s to the gate, which bounces it anonymous', async (pathname) => {
    expect(routedToGate(site.declaration, pathname)).toBe(true);
    const answer = await askGate(site, gate, pathname);
    expect(answer.status).toBe(302);
    expect(answer.served).toBe(false);
    expect(answer.location).not.toContain('//');
  });

  // A raw backslash is a slash to the URL parser: routed, and judged as the path it becomes.
  it.each(['/x/..\\admin/users.html', '/admin\\users.html', '/x/..%5Cadmin/users.html', '/x/..%5cadmin/users.html'])('routes %s to the gate', (pathname) => {
    expect(routedToGate(site.declaration, pathname)).toBe(true);
  });

  it('answers an unresolved dot-dot path for the path it resolves to', async () => {
    const answer = await askGate(site, gate, '/x/%2e%2e/admin/users.html');
    expect(answer.status).toBe(302);
    expect(answer.location).toBe(`${REFRESH}/admin/users.html`);
  });

  // Netlify matches declarations against the path as sent; the gate decides on the decoded path.
  // A gated path must reach the gate however it is escaped, or the file would be served unchecked.
  it.each([
    ['/%61dmin/users.html', '/admin/users.html'],
    ['/%61%64%6D%69%6E/users.html', '/admin/users.html'],
    ['/admin%2Fusers.html', '/admin/users.html'],
    ['/%61dmin', '/admin/'],
    ['/reports/annual%2Ehtml', '/reports/annual.html'],
    ['/reports/annual%2ehtml/', '/reports/annual.html'],
    ['/staff/%61dmin/payroll.html', '/staff/admin/payroll.html'],
    ['/members/%C3%A9', '/members/é'],
  ])('routes the escaped %s to the gate, which bounces it as %s', async (pathname, next) => {
    const answer = await askGate(site, gate, pathname);
    expect(answer.status).toBe(302);
    expect(decodeURIComponent(new URL(answer.location!, SITE).pathname)).toBe(`${REFRESH}${next}`);
    const admin = await mintToken('valid-with-role', ['admin', 'member', 'staff', 'finance']);
    expect((await askGate(site, gate, pathname, { nf_jwt: admin })).served).toBe(true);
  });

  // The request the gate got as it was sent: the URL parser left the `..` (its slash is
  // escaped) or could not decode the path. Served before; now refused whatever the token.
  it.each(MALFORMED_GATE_PATHS)('routes %s to the gate, which answers 400 no-store and serves nothing', async (pathname) => {
    expect(routedToGate(site.declaration, pathname)).toBe(true);
    expect(new URL(pathname, SITE).pathname).toBe(pathname);
    const everyRole = await mintToken('valid-with-role', ['admin', 'member', 'staff', 'finance']);
    for (const cookies of [{}, { nf_jwt: everyRole }] as Array<Record<string, string>>) {
      const answer = await askGate(site, gate, pathname, cookies);
      expect(answer.status).toBe(400);
      expect(answer.served).toBe(false);
      expect(answer.location).toBeNull();
      expect(answer.setCookies).toEqual([]);
      expect(answer.response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('answers a raw backslash path for the path the URL parser makes of it', async () => {
    const answer = await askGate(site, gate, '/x/..\\admin/users.html');
    expect(answer.status).toBe(302);
    expect(answer.location).toBe(`${REFRESH}/admin/users.html`);
  });

  it.each(['/', '/index.html', '/login', '/auth/login', '/adminx', '/ADMIN/x', '/reports/annual.html/x', '/.netlify/functions/refresh/admin/x', '/a.b/c', '/x/..a', '/x/.well-known/y'])(
    'does not invoke the gate for %s',
    (pathname) => {
      expect(site.declaration.pattern.some((source) => new RegExp(source).test(pathname))).toBe(false);
    },
  );
});
