import type { GateConfigInput } from '../../src/site-config/schema.js';
import { TOKEN_KINDS, UNSIGNED_TOKEN_KINDS, type TokenKind, type UnsignedTokenKind } from './matcher.js';

/**
 * One table of gate behaviour, shared by every gate implementation: the `_redirects` compiler
 * checked with Netlify's matcher now, an edge-function gate later. Each case is a request an
 * outsider can make: a path, a query, and a `nf_jwt` cookie of some kind.
 */

export type { TokenKind };

export interface GateTruthCase {
  name: string;
  /** Decoded request path, as the edge matches it. */
  path: string;
  /**
   * The request target exactly as sent, when it is not just `path` percent-encoded (repeated
   * slashes, dot segments, backslashes): each matcher is given what its server makes of it.
   */
  sent?: string;
  query?: string;
  token: TokenKind;
  /** Roles the token carries (ignored for `none`). */
  roles: string[];
  expect: 'allow' | 'bounce' | 'public';
  /** For `bounce`: the `next` the refresh function receives. */
  next?: string;
  /** For `bounce`, when Netlify's matcher keeps the slashes it saw in the bounce (`/admin//x`). */
  nextAtMatcher?: string;
  /**
   * What netlify-redirector 0.5.0 does instead of `expect`: a measured fact of Netlify's matcher,
   * not a pass of the table (truth-table.test.ts pins it, so a new version that changes it is
   * noticed). The edge gate answers `expect`.
   */
  atNetlifyRedirector?: { verdict: 'allow' | 'bounce' | 'public' | 'throws'; why: string };
}

const UNSIGNED_ACCEPTED = "netlify-redirector accepts an unsigned token (header alg none, any case, empty signature)";
const NO_RULE_FOR_EMPTY_SEGMENT = "netlify-redirector matches no rule to a path starting with // (rules written so never match), while netlify dev's static server serves the page";

/** The gates the table is written against (nested gate listed after its parent on purpose). */
export const truthTableConfig: GateConfigInput = {
  // Stated, not defaulted: the truth table is run through the `_redirects` rules here, and
  // through the edge gate by edge-truth-table.test.ts (which sets mode "edge" itself).
  mode: 'redirects',
  gates: [
    { path: '/admin/*', roles: ['admin'], public: ['/admin/login.html', '/admin/assets/*'] },
    { path: '/members/*', roles: ['member', 'admin'] },
    { path: '/staff/*', roles: ['staff'] },
    { path: '/staff/admin/*', roles: ['admin'] },
    { path: '/reports/annual.html', roles: ['finance'] },
    // Exact gates on pages Netlify also serves elsewhere (pretty URLs): an extensionless path,
    // and a folder index inside a tree gate with other roles (the more specific gate must win).
    { path: '/handbook', roles: ['staff'] },
    { path: '/members/board/index.html', roles: ['admin'] },
  ],
};

interface GateSample {
  gate: string;
  path: string;
  next: string;
  role: string;
  otherRole: string;
}

const samples: GateSample[] = [
  { gate: '/admin/*', path: '/admin/users.html', next: '/admin/users.html', role: 'admin', otherRole: 'member' },
  { gate: '/members/*', path: '/members/news/2024.html', next: '/members/news/2024.html', role: 'member', otherRole: 'staff' },
  { gate: '/members/* (second role)', path: '/members/', next: '/members/', role: 'admin', otherRole: 'Member' },
  { gate: '/staff/*', path: '/staff/rota.html', next: '/staff/rota.html', role: 'staff', otherRole: 'admin' },
  { gate: '/staff/admin/* (nested)', path: '/staff/admin/payroll.html', next: '/staff/admin/payroll.html', role: 'admin', otherRole: 'staff' },
  { gate: '/reports/annual.html (exact)', path: '/reports/annual.html', next: '/reports/annual.html', role: 'finance', otherRole: 'admin' },
  { gate: '/reports/annual.html at /reports/annual (pretty URL)', path: '/reports/annual', next: '/reports/annual', role: 'finance', otherRole: 'admin' },
  { gate: '/handbook (exact, no extension)', path: '/handbook', next: '/handbook', role: 'staff', otherRole: 'member' },
  { gate: '/handbook as /handbook.html', path: '/handbook.html', next: '/handbook.html', role: 'staff', otherRole: 'member' },
  { gate: '/handbook as /handbook/index.html', path: '/handbook/index.html', next: '/handbook/index.html', role: 'staff', otherRole: 'admin' },
  { gate: '/members/board/index.html at /members/board/', path: '/members/board/', next: '/members/board', role: 'admin', otherRole: 'member' },
];

/** What netlify-redirector 0.5.0 does with a gated path's token of this kind, where it is not a bounce. */
function tokenFinding(token: TokenKind): Pick<GateTruthCase, 'atNetlifyRedirector'> {
  if (UNSIGNED_TOKEN_KINDS.includes(token as UnsignedTokenKind)) return { atNetlifyRedirector: { verdict: 'allow', why: UNSIGNED_ACCEPTED } };
  if (token === 'alg-hs256-lower-case') return { atNetlifyRedirector: { verdict: 'allow', why: 'netlify-redirector reads alg case-insensitively (signed with the right secret, so not a forgery)' } };
  if (token === 'array-payload') return { atNetlifyRedirector: { verdict: 'throws', why: 'netlify-redirector throws on a payload that is not an object (netlify-cli then ends with an unhandled rejection)' } };
  return {};
}

const perToken: GateTruthCase[] = samples.flatMap((sample) =>
  TOKEN_KINDS.map((token): GateTruthCase => {
    const roles = token === 'valid-without-role' ? [sample.otherRole] : [sample.role];
    const expect = token === 'valid-with-role' ? 'allow' : 'bounce';
    return {
      name: `${sample.gate}: ${token}${token === 'none' ? '' : ` (${roles.join(',')})`}`,
      path: sample.path,
      token,
      roles,
      expect,
      ...(expect === 'bounce' ? { next: sample.next } : {}),
      ...tokenFinding(token),
    };
  }),
);

const c = (name: string, path: string, token: TokenKind, roles: string[], expect: GateTruthCase['expect'], extra: Partial<GateTruthCase> = {}): GateTruthCase => ({
  name,
  path,
  token,
  roles,
  expect,
  ...extra,
});

export const gateTruthTable: GateTruthCase[] = [
  ...perToken,
  // Public exceptions stay open to everyone, and only exactly what is listed.
  c('public exception, no cookie', '/admin/login.html', 'none', [], 'public'),
  c('public exception, trailing slash', '/admin/login.html/', 'none', [], 'public'),
  c('public exception with a token without the role', '/admin/login.html', 'valid-without-role', ['member'], 'public'),
  c('public exception tree root', '/admin/assets', 'none', [], 'public'),
  c('public exception tree', '/admin/assets/css/site.css', 'none', [], 'public'),
  c('below a public exception file is gated', '/admin/login.html/x', 'none', [], 'bounce', { next: '/admin/login.html/x' }),
  c('public exception is case-sensitive', '/admin/Login.html', 'none', [], 'bounce', { next: '/admin/Login.html' }),
  c('look-alike of a public exception', '/admin/login.htm', 'none', [], 'bounce', { next: '/admin/login.htm' }),
  // Splats: the tree root with and without slash, deep paths, odd segments.
  c('tree root without slash', '/admin', 'none', [], 'bounce', { next: '/admin/' }),
  c('tree root with slash', '/admin/', 'none', [], 'bounce', { next: '/admin/' }),
  c('tree root with the role', '/admin', 'valid-with-role', ['admin'], 'allow'),
  c('deep path', '/admin/a/b/c.html', 'none', [], 'bounce', { next: '/admin/a/b/c.html' }),
  c('empty segment stays inside the tree', '/admin//x', 'none', [], 'bounce', { next: '/admin/x', nextAtMatcher: '/admin//x' }),
  c('dot-dot segment stays inside the tree', '/admin/../x', 'none', [], 'bounce', { next: '/admin/../x' }),
  c('spaces and non-ASCII', '/members/a b/é.html', 'none', [], 'bounce', { next: '/members/a b/é.html' }),
  c('upper-case path is not the gate', '/ADMIN/x', 'none', [], 'public'),
  c('prefix look-alike is not the gate', '/adminx', 'none', [], 'public'),
  c('sibling file is not the gate', '/admin.html', 'none', [], 'public'),
  c('exact gate with trailing slash', '/reports/annual.html/', 'none', [], 'bounce', { next: '/reports/annual.html' }),
  c('below an exact gate is not gated', '/reports/annual.html/x', 'none', [], 'public'),
  c('sibling of an exact gate', '/reports/monthly.html', 'none', [], 'public'),
  // Pretty URLs: Netlify serves `p.html` at `/p` and `/p/`, and `dir/index.html` at `/dir/` and
  // `/dir`, so an exact gate covers every path of its page, each bounced back to itself.
  c('exact .html gate at its extensionless path', '/reports/annual', 'none', [], 'bounce', { next: '/reports/annual' }),
  c('exact .html gate at its extensionless path with a slash', '/reports/annual/', 'valid-without-role', ['admin'], 'bounce', { next: '/reports/annual' }),
  c('exact .html gate at its extensionless path, with the role', '/reports/annual/', 'valid-with-role', ['finance'], 'allow'),
  c('exact .html gate: the folder of that name is not the page', '/reports/annual/x', 'none', [], 'public'),
  c('extensionless gate at the path itself with a slash', '/handbook/', 'none', [], 'bounce', { next: '/handbook' }),
  c('extensionless gate as .htm', '/handbook.htm', 'none', [], 'bounce', { next: '/handbook.htm' }),
  c('extensionless gate as folder index without extension', '/handbook/index', 'valid-without-role', ['member'], 'bounce', { next: '/handbook/index' }),
  c('extensionless gate as folder index, with the role', '/handbook/index.html', 'valid-with-role', ['staff'], 'allow'),
  c('extensionless gate: other pages in the folder are not gated', '/handbook/chapter-1.html', 'none', [], 'public'),
  c('extensionless gate: look-alike is not gated', '/handbook.html.bak', 'none', [], 'public'),
  c('folder index gate at the folder without a slash', '/members/board', 'none', [], 'bounce', { next: '/members/board' }),
  c('folder index gate wins over the tree around it', '/members/board', 'valid-without-role', ['member'], 'bounce', { next: '/members/board' }),
  c('folder index gate at its own path, tree role only', '/members/board/index.html', 'valid-without-role', ['member'], 'bounce', { next: '/members/board/index.html' }),
  c('folder index gate at /index without extension', '/members/board/index', 'valid-without-role', ['member'], 'bounce', { next: '/members/board/index' }),
  c('folder index gate with its role', '/members/board/', 'valid-with-role', ['admin'], 'allow'),
  c('beside a folder index gate the tree decides', '/members/board/minutes.html', 'valid-with-role', ['member'], 'allow'),
  c('public exception at its extensionless path', '/admin/login', 'none', [], 'public'),
  c('public exception at its extensionless path with a slash', '/admin/login/', 'valid-without-role', ['member'], 'public'),
  c('below the extensionless path of a public exception is gated', '/admin/login/x', 'none', [], 'bounce', { next: '/admin/login/x' }),
  // Repeated slashes: netlify dev's static server serves `admin/index.html` for `//admin/`,
  // `///admin/`, `/admin//index.html` and `/.//admin/` alike (measured), so each spelling is
  // decided as the path it serves. netlify dev reads a target starting with `//` (or `/\`) as a
  // host (`//admin/x` → host admin, path /x), which the generated host-form rules cover.
  ...repeatedSlashCases(),
  // Query strings never open a gate, and the bounce carries only the path (see compile.ts).
  c('query string, no cookie', '/admin/users.html', 'none', [], 'bounce', { query: 'tab=2&sort=name', next: '/admin/users.html' }),
  c('query string pretending to be a role', '/admin/users.html', 'none', [], 'bounce', { query: 'Role=admin&nf_jwt=x', next: '/admin/users.html' }),
  c('query string with the role', '/admin/users.html', 'valid-with-role', ['admin'], 'allow', { query: 'tab=2' }),
  c('splat smuggling a second next', '/admin/x&next=//evil.example', 'none', [], 'bounce', { next: '/admin/x&next=/evil.example', nextAtMatcher: '/admin/x&next=//evil.example' }),
  // Nested gates: the inner gate decides, whatever the outer gate would say.
  c('nested: outer role does not open the inner gate', '/staff/admin/payroll.html', 'valid-without-role', ['staff'], 'bounce', { next: '/staff/admin/payroll.html' }),
  c('nested: inner role opens the inner gate', '/staff/admin/', 'valid-with-role', ['admin'], 'allow'),
  c('nested: inner role does not open the outer gate', '/staff/rota.html', 'valid-without-role', ['admin'], 'bounce', { next: '/staff/rota.html' }),
  c('nested: both roles', '/staff/admin/payroll.html', 'valid-with-role', ['staff', 'admin'], 'allow'),
  c('nested: inner tree root', '/staff/admin', 'none', [], 'bounce', { next: '/staff/admin/' }),
  c('nested: look-alike of the inner gate belongs to the outer', '/staff/administration', 'valid-with-role', ['staff'], 'allow'),
  // Role names are case-sensitive.
  c('role differing by case', '/admin/users.html', 'valid-without-role', ['Admin'], 'bounce', { next: '/admin/users.html' }),
  // Auth paths and everything else stay public.
  c('friendly login path', '/auth/login', 'none', [], 'public', { query: 'next=/admin/' }),
  c('friendly refresh path', '/auth/refresh', 'expired', ['admin'], 'public'),
  c('not gated', '/index.html', 'none', [], 'public'),
  c('site root', '/', 'none', [], 'public'),
];

function repeatedSlashCases(): GateTruthCase[] {
  // Measured end to end under netlify dev too (redirects mode): a staff token was served
  // staff/admin/payroll.html at /staff///admin/payroll.html, a member token members/board/ at
  // /members//board/, and an anonymous visitor reports/annual.html at /reports//annual.html.
  const insideTheWrongGate = (gate: string) => ({ atNetlifyRedirector: { verdict: 'allow' as const, why: `netlify-redirector matches the run of slashes to ${gate}, while the static server serves the page of the gate inside it` } });
  const noRule = { atNetlifyRedirector: { verdict: 'public' as const, why: NO_RULE_FOR_EMPTY_SEGMENT } };
  return [
    c('doubled leading slash', '//admin/', 'none', [], 'bounce', { sent: '//admin/', next: '/admin/' }),
    c('doubled leading slash, with the role', '//admin/users.html', 'valid-with-role', ['admin'], 'allow', { sent: '//admin/users.html' }),
    c('doubled leading slash, without the role', '//admin/users.html', 'valid-without-role', ['member'], 'bounce', { sent: '//admin/users.html', next: '/admin/users.html' }),
    c('doubled leading slash, unsigned token', '//admin/users.html', 'alg-none', ['admin'], 'bounce', {
      sent: '//admin/users.html',
      next: '/admin/users.html',
      atNetlifyRedirector: { verdict: 'allow', why: UNSIGNED_ACCEPTED },
    }),
    c('tripled leading slash', '///admin/', 'none', [], 'bounce', { sent: '///admin/', next: '/admin/' }),
    c('doubled leading slash, tree root without slash', '//admin', 'none', [], 'bounce', { sent: '//admin', next: '/admin/' }),
    c('doubled slashes before and inside the tree', '//admin//index.html', 'none', [], 'bounce', { sent: '//admin//index.html', next: '/admin/index.html', nextAtMatcher: '/admin//index.html' }),
    c('leading backslash after the slash', '//admin/', 'none', [], 'bounce', { sent: '/\\admin/', next: '/admin/' }),
    c('doubled leading slash and an escaped letter', '//admin/', 'none', [], 'bounce', { sent: '//%61dmin/', next: '/admin/' }),
    c('doubled leading slash on a public exception', '//admin/login.html', 'none', [], 'public', { sent: '//admin/login.html' }),
    c('doubled leading slash on a second gate, with its role', '//members/', 'valid-with-role', ['member'], 'allow', { sent: '//members/' }),
    c('doubled leading slash into a nested gate with the outer role', '//staff/admin/payroll.html', 'valid-without-role', ['staff'], 'bounce', { sent: '//staff/admin/payroll.html', next: '/staff/admin/payroll.html' }),
    c('doubled leading slash on an exact gate', '//reports/annual.html', 'none', [], 'bounce', { sent: '//reports/annual.html', next: '/reports/annual.html' }),
    c('doubled leading slash on an extensionless gate', '//handbook', 'none', [], 'bounce', { sent: '//handbook', next: '/handbook' }),
    c('doubled leading slash on a page no gate covers', '//index.html', 'none', [], 'public', { sent: '//index.html' }),
    // A dot segment before the run of slashes: the URL parser removes it and leaves `//admin/`
    // as the path (not a host). No browser sends these (it resolves dot segments itself).
    c('dot segment, then a doubled slash', '//admin/', 'none', [], 'bounce', { sent: '/.//admin/', next: '/admin/', ...noRule }),
    c('dot-dot segment, then a doubled slash', '//admin/index.html', 'none', [], 'bounce', { sent: '/x/..//admin/index.html', next: '/admin/index.html', ...noRule }),
    c('escaped dot segment, then a doubled slash', '//admin/', 'none', [], 'bounce', { sent: '/%2E//admin/', next: '/admin/', ...noRule }),
    // Inside a gate's path: the matcher compares the spelling, the static server the page.
    c('doubled slash before a nested gate, outer role', '/staff//admin/payroll.html', 'valid-without-role', ['staff'], 'bounce', { next: '/staff/admin/payroll.html' }),
    c('tripled slash before a nested gate, outer role', '/staff///admin/payroll.html', 'valid-without-role', ['staff'], 'bounce', {
      next: '/staff/admin/payroll.html',
      ...insideTheWrongGate('/staff/*'),
    }),
    c('doubled slash before a folder index gate, tree role', '/members//board/', 'valid-without-role', ['member'], 'bounce', { next: '/members/board', ...insideTheWrongGate('/members/*') }),
    c('doubled slash inside an exact gate', '/reports//annual.html', 'none', [], 'bounce', {
      next: '/reports/annual.html',
      atNetlifyRedirector: { verdict: 'public', why: "netlify-redirector does not match an exact rule to its path with a doubled slash, while netlify dev's static server serves the page" },
    }),
    c('doubled trailing slash on an exact gate', '/reports/annual.html//', 'none', [], 'bounce', {
      next: '/reports/annual.html',
      atNetlifyRedirector: { verdict: 'public', why: "netlify-redirector matches an exact rule with one trailing slash only (netlify dev's static server answers 404 there, so nothing is served)" },
    }),
    c('doubled slash before a public exception', '/admin//login.html', 'none', [], 'public', {
      atNetlifyRedirector: { verdict: 'bounce', why: 'netlify-redirector matches the tree, not the exception, to the spelling with a doubled slash (stricter than the page served)' },
    }),
  ];
}
