import { beforeAll, describe, expect, it } from 'vitest';
import { compileGates } from '../../src/gates/compile.js';
import { parseGateConfig } from '../../src/site-config/schema.js';
import { BEGIN_MARKER, END_MARKER } from '../../src/gates/redirects-file.js';
import { nextFromBouncePath, requiredRolesFor, type GateTable } from '../../src/gates/table.js';
import { createRequire } from 'node:module';
import { edgeVerdict, loadMatcher, matchRequest, matchRequestAsSent, mintToken, type Matcher, type MatchResult } from './matcher.js';
import { gateTruthTable, truthTableConfig, type GateTruthCase } from './truth-table.js';

let table: GateTable;
let matcher: Matcher;

beforeAll(async () => {
  const compiled = compileGates(parseGateConfig(truthTableConfig));
  table = compiled.table;
  matcher = await loadMatcher([BEGIN_MARKER, ...compiled.rules, END_MARKER].join('\n'));
});

async function askEdge(testCase: Pick<GateTruthCase, 'path' | 'sent' | 'query' | 'token' | 'roles'>) {
  const nfJwt = await mintToken(testCase.token, testCase.roles);
  const options = { query: testCase.query ?? '', nfJwt };
  return matcher.match(testCase.sent === undefined ? matchRequest(testCase.path, options) : matchRequestAsSent(testCase.sent, options));
}

// The table's answers, except where netlify-redirector is known to answer otherwise (pinned below).
const tableCases = gateTruthTable.filter((tc) => !tc.atNetlifyRedirector);
const findings = gateTruthTable.filter((tc) => tc.atNetlifyRedirector);

/** What the refresh function would conclude from the table for a visitor with this token. */
function tableVerdict(testCase: GateTruthCase): GateTruthCase['expect'] {
  const required = requiredRolesFor(table, testCase.path);
  if (required === null) return 'public';
  const usable = testCase.token === 'valid-with-role' || testCase.token === 'valid-without-role' ? testCase.roles : [];
  return required.some((role) => usable.includes(role)) ? 'allow' : 'bounce';
}

describe("gate truth table through Netlify's matcher", () => {
  it.each(tableCases.map((tc) => [tc.name, tc] as const))('%s', async (_name, testCase) => {
    const match = await askEdge(testCase);
    expect(edgeVerdict(match)).toBe(testCase.expect);
    if (testCase.expect === 'bounce') {
      expect((match as MatchResult).to).toBe(`/.netlify/functions/refresh${testCase.nextAtMatcher ?? testCase.next}`);
      expect((match as MatchResult).status).toBe(302);
    }
  });
});

describe('netlify-redirector 0.5.0: measured findings, pinned (not passes of the table)', () => {
  it('is the version these findings were measured on (re-measure them when it changes)', () => {
    const version = (createRequire(import.meta.url)('netlify-redirector/package.json') as { version: string }).version;
    expect(version).toBe('0.5.0');
  });

  it.each(findings.map((tc) => [`${tc.name}: ${tc.atNetlifyRedirector!.why}`, tc] as const))('%s', async (_name, testCase) => {
    const finding = testCase.atNetlifyRedirector!;
    expect(finding.verdict).not.toBe(testCase.expect);
    if (finding.verdict === 'throws') {
      await expect(askEdge(testCase)).rejects.toThrow();
      return;
    }
    expect(edgeVerdict(await askEdge(testCase))).toBe(finding.verdict);
  });

  it('serves a Role=admin rule to an unsigned token with the admin role, and refuses a wrong HS256 signature', async () => {
    const unsigned = await mintToken('alg-none', ['admin']);
    expect(JSON.parse(Buffer.from(unsigned.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'none', typ: 'JWT' });
    expect(unsigned.endsWith('.')).toBe(true);
    expect(edgeVerdict(matcher.match(matchRequest('/admin/users.html', { nfJwt: unsigned })))).toBe('allow');
    expect(edgeVerdict(matcher.match(matchRequest('/admin/users.html', { nfJwt: await mintToken('other-secret', ['admin']) })))).toBe('bounce');
  });
});

describe('requiredRolesFor agrees with the matcher', () => {
  // The table decides on the path as Netlify's matcher sees it; the spellings whose page differs
  // (repeated slashes: the edge gate decides on the page served) are the findings above.
  const asTheMatcherSees = tableCases.filter((tc) => tc.sent === undefined && !tc.path.includes('//'));

  it.each(asTheMatcherSees.map((tc) => [tc.name, tc] as const))('%s', async (_name, testCase) => {
    expect(tableVerdict(testCase)).toBe(edgeVerdict(await askEdge(testCase)));
  });

  it('sends every bounce back into the same gate, so refresh never judges a different path', async () => {
    for (const testCase of tableCases.filter((tc) => tc.expect === 'bounce')) {
      const match = (await askEdge(testCase)) as MatchResult;
      const next = nextFromBouncePath(table, match.to)!;
      expect(requiredRolesFor(table, next), testCase.name).toEqual(requiredRolesFor(table, testCase.next!));
    }
  });

  const trickyPaths = [
    '', '/', '//', '/admin', '/admin/', '/admin//', '/admin//x', '/admin/../x', '/x/../admin/y', '//admin/x', '/ADMIN/x',
    '/Admin', '/admin.html', '/adminx', '/admin/login.html', '/admin/login.html/', '/admin/login.html//',
    '/admin/login.html/x', '/admin/assets', '/admin/assets/', '/admin/assetsx', '/admin/assets/a/b', '/reports',
    '/reports/', '/reports/annual.html', '/reports/annual.html/', '/reports/annual.html//', '/reports/annual.htm',
    '/staff', '/staff/', '/staff/admin', '/staff/admin/', '/staff/adminx', '/staff/admin/x/y', '/members/a b',
    '/members/é', '/members/%2e%2e', '/auth/login', '/auth/login/', '/auth/loginx', '/auth/logout', '/auth', '/.netlify/functions/refresh',
  ];
  const roles = ['admin', 'member', 'staff', 'finance'];

  it.each(trickyPaths)('agrees on %j for anonymous visitors and for every single role', async (path) => {
    const required = requiredRolesFor(table, path);
    const anonymous = edgeVerdict(matcher.match(matchRequest(path)));
    expect(anonymous).toBe(required === null ? 'public' : 'bounce');
    for (const role of roles) {
      const nfJwt = await mintToken('valid-with-role', [role]);
      const verdict = edgeVerdict(matcher.match(matchRequest(path, { nfJwt })));
      expect(verdict, `role ${role}`).toBe(required === null ? 'public' : required.includes(role) ? 'allow' : 'bounce');
    }
  });
});

describe('query strings on the bounce (finding documented in src/gates/compile.ts)', () => {
  it("keeps the bounce target free of a query, so the server forwards the visitor's own", async () => {
    const match = (await askEdge({ path: '/admin/report.html', query: 'year=2024&tab=2', token: 'none', roles: [] })) as MatchResult;
    expect(match.to).toBe('/.netlify/functions/refresh/admin/report.html');
    expect(match.to).not.toContain('?');
  });

  it('keeps a crafted path a path: it cannot smuggle a second next parameter', async () => {
    const match = (await askEdge({ path: '/admin/x&next=https://evil.example', token: 'none', roles: [] })) as MatchResult;
    const target = new URL(match.to, 'https://site.example');
    expect(target.origin).toBe('https://site.example');
    expect(target.searchParams.getAll('next')).toEqual([]);
    expect(target.pathname).toBe('/.netlify/functions/refresh/admin/x&next=https://evil.example');
  });
});

describe('the matcher is strict about where the role comes from', () => {
  it('ignores roles when it is told to read another claim path', async () => {
    const compiled = compileGates(parseGateConfig(truthTableConfig));
    const otherPath = await loadMatcher(compiled.rules.join('\n'), { jwtRoleClaim: 'user_metadata.roles' });
    const nfJwt = await mintToken('valid-with-role', ['admin']);
    expect(edgeVerdict(otherPath.match(matchRequest('/admin/x', { nfJwt })))).toBe('bounce');
  });
});
