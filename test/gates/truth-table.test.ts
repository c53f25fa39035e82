import { beforeAll, describe, expect, it } from 'vitest';
import { compileGates } from '../../src/gates/compile.js';
import { parseGateConfig } from '../../src/gates/config.js';
import { BEGIN_MARKER, END_MARKER } from '../../src/gates/redirects-file.js';
import { nextFromBouncePath, requiredRolesFor, type GateTable } from '../../src/gates/table.js';
import { edgeVerdict, loadMatcher, matchRequest, mintToken, type Matcher, type MatchResult } from './matcher.js';
import { gateTruthTable, truthTableConfig, type GateTruthCase } from './truth-table.js';

let table: GateTable;
let matcher: Matcher;

beforeAll(async () => {
  const compiled = compileGates(parseGateConfig(truthTableConfig));
  table = compiled.table;
  matcher = await loadMatcher([BEGIN_MARKER, ...compiled.rules, END_MARKER].join('\n'));
});

async function askEdge(testCase: Pick<GateTruthCase, 'path' | 'query' | 'token' | 'roles'>) {
  const nfJwt = await mintToken(testCase.token, testCase.roles);
  return matcher.match(matchRequest(testCase.path, { query: testCase.query ?? '', nfJwt }));
}

/** What the refresh function would conclude from the table for a visitor with this token. */
function tableVerdict(testCase: GateTruthCase): GateTruthCase['expect'] {
  const required = requiredRolesFor(table, testCase.path);
  if (required === null) return 'public';
  const usable = testCase.token === 'valid-with-role' || testCase.token === 'valid-without-role' ? testCase.roles : [];
  return required.some((role) => usable.includes(role)) ? 'allow' : 'bounce';
}

describe("gate truth table through Netlify's matcher", () => {
  it.each(gateTruthTable.map((tc) => [tc.name, tc] as const))('%s', async (_name, testCase) => {
    const match = await askEdge(testCase);
    expect(edgeVerdict(match)).toBe(testCase.expect);
    if (testCase.expect === 'bounce') {
      expect((match as MatchResult).to).toBe(`/.netlify/functions/refresh${testCase.next}`);
      expect((match as MatchResult).status).toBe(302);
    }
  });
});

describe('requiredRolesFor agrees with the matcher', () => {
  it.each(gateTruthTable.map((tc) => [tc.name, tc] as const))('%s', async (_name, testCase) => {
    expect(tableVerdict(testCase)).toBe(edgeVerdict(await askEdge(testCase)));
  });

  it('sends every bounce back into the same gate, so refresh never judges a different path', async () => {
    for (const testCase of gateTruthTable.filter((tc) => tc.expect === 'bounce')) {
      const match = (await askEdge(testCase)) as MatchResult;
      const next = nextFromBouncePath(table, match.to)!;
      expect(requiredRolesFor(table, next), testCase.name).toEqual(requiredRolesFor(table, testCase.path));
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
    const otherPath = await loadMatcher(compiled.rules.join('\n'), { jwtRoleClaim: 'app_metadata.roles' });
    const nfJwt = await mintToken('valid-with-role', ['admin']);
    expect(edgeVerdict(otherPath.match(matchRequest('/admin/x', { nfJwt })))).toBe('bounce');
  });
});
