/**
 * Gate path patterns, restricted to the part of Netlify's `_redirects` syntax
 * whose matching rolegate can reproduce exactly (see PLATFORM-NOTES.md,
 * "Role-based redirects"): an exact path (`/reports/annual.html`) or a tree
 * with a trailing splat (`/admin/*`). Placeholders (`/:id/`), mid-path splats,
 * query conditions and percent escapes are refused, so that
 * `requiredRolesFor` can never disagree with the edge.
 *
 * Matching, as measured against netlify-redirector 0.5 (test/gates/matcher.test.ts):
 * - `/p/*` matches `/p`, `/p/` and everything below `/p/` (`/p//x`, `/p/../x` included: the
 *   matcher does no dot-segment normalisation);
 * - an exact `/p` matches `/p` and `/p/`, nothing else (`/p//`, `/p/index.html` do not);
 * - `/*` matches every path;
 * - comparison is case-sensitive: `/ADMIN/x` is not under `/admin/*`.
 *
 * An exact path names a page, and Netlify serves a page under more than one URL (see
 * `prettyUrlAliases`); the compiler gives each exact gate and public exception a rule for every
 * one of them.
 */

export type PathPattern =
  | { kind: 'exact'; text: string; path: string }
  /** `prefix` is the pattern without its trailing `/*`; `''` for `/*`. */
  | { kind: 'splat'; text: string; prefix: string };

// One path segment: not empty, not `.`/`..`, does not start with `:` (a placeholder), and none of
// the characters Netlify's line format or matcher treat specially.
const SEGMENT = String.raw`(?!\.\.?(?:/|\*|$))[^\s/?#*:%\\"'<>\x00-\x1f\x7f][^\s/?#*%\\"'<>\x00-\x1f\x7f]*`;

/** An exact path: `/` or `/seg/seg`. Used verbatim as the JSON Schema `pattern`. */
export const EXACT_PATH_PATTERN = String.raw`^(?:/|(?:/${SEGMENT})+)$`;
/** An exact path or a tree (`/seg/*`, `/*`). Used verbatim as the JSON Schema `pattern`. */
export const GATE_PATH_PATTERN = String.raw`^(?:/|(?:/${SEGMENT})+|(?:/${SEGMENT})*/\*)$`;

const exactPathRegExp = new RegExp(EXACT_PATH_PATTERN, 'u');
const gatePathRegExp = new RegExp(GATE_PATH_PATTERN, 'u');

/**
 * Why `text` is not a path pattern rolegate can compile, or `null` when it is.
 * The answer is `null` exactly when the JSON Schema pattern matches.
 */
export function pathPatternProblem(text: string, options: { allowSplat: boolean }): string | null {
  const regExp = options.allowSplat ? gatePathRegExp : exactPathRegExp;
  if (regExp.test(text)) return null;
  if (text === '') return 'may not be empty';
  if (!text.startsWith('/')) return 'must start with "/"';
  if (/[?#]/.test(text)) return 'may not contain "?" or "#": Netlify matches paths, not query strings or fragments';
  if (/\s/u.test(text)) return 'may not contain spaces';
  if (text.includes('*')) {
    if (!options.allowSplat) return 'must be an exact path (no "*")';
    const wellPlaced = text.endsWith('/*') && text.indexOf('*') === text.length - 1;
    if (!wellPlaced) return 'a splat is only allowed as a trailing "/*" (e.g. "/admin/*")';
    if (text !== '/*') return pathPatternProblem(text.slice(0, -2), { allowSplat: false });
  }
  if (/(?:^|\/):/.test(text)) return '":placeholders" are not supported; use an exact path or a trailing "/*"';
  if (text.includes('%')) return 'may not contain "%": write the path decoded, as Netlify matches decoded paths';
  if (text.includes('//')) return 'may not contain an empty segment ("//")';
  if (text.endsWith('/')) return `may not end with "/": write "${text.replace(/\/+$/, '')}" for the page${options.allowSplat ? ` or "${text}*" for the tree` : ''}`;
  if (/(?:^|\/)\.\.?(?:\/|$)/.test(text)) return 'may not contain "." or ".." segments';
  const bad = /[\\"'<>\x00-\x1f\x7f]/.exec(text);
  if (bad) return `may not contain ${JSON.stringify(bad[0])}`;
  return 'is not a path Netlify can match';
}

/**
 * `/.netlify/…` belongs to the platform: Netlify's parser refuses rules whose `from` starts with
 * it ('"path" field must not start with "/.netlify"'), and netlify-cli serves function URLs
 * before it consults the redirect rules. So those paths are never gated, whatever `/*` says.
 */
export function isPlatformPath(path: string): boolean {
  return path === '/.netlify' || path.startsWith('/.netlify/');
}

/** Parses a pattern already checked with `pathPatternProblem`. */
export function parsePathPattern(text: string): PathPattern {
  if (text === '/*') return { kind: 'splat', text, prefix: '' };
  if (text.endsWith('/*')) return { kind: 'splat', text, prefix: text.slice(0, -2) };
  return { kind: 'exact', text, path: text };
}

// A page served under its extensionless URL too (`.html`; netlify dev also tries `.htm`).
const PAGE_FILE = /^(.*)\.html?$/;
// Any other extension (`/logo.png`, `/feed.json`) is served only under its own name. A
// dot followed by a digit (`/docs/v1.0`) is a version, not an extension.
const OTHER_EXTENSION = /\.[A-Za-z][A-Za-z0-9]*$/;

/**
 * The other URLs at which Netlify serves the page behind the exact path `path` (its "Pretty
 * URLs", measured in https://github.com/slorber/trailing-slash-guide, docs/Hosting-Providers.md;
 * netlify dev tries the same files, `alternativePathsFor` in netlify-cli's dist/utils/proxy.js),
 * so that an exact gate or public exception covers the page rather than one spelling of it:
 * - `p.html` is served at `/p.html` and `/p`; `dir/index.html` also at `/dir`;
 * - `/p` may be the file `p.html` or `p/index.html` (or `.htm`), which are served at their own
 *   names too, and the latter at `/p/index`.
 * Each alias is an exact path, so it covers its form with a trailing slash as well.
 *
 * @example
 * prettyUrlAliases('/reports/annual.html') // ['/reports/annual']
 * prettyUrlAliases('/docs/index.html')     // ['/docs/index', '/docs']
 */
export function prettyUrlAliases(path: string): string[] {
  if (path === '/') return ['/index.html', '/index.htm', '/index'];
  const page = PAGE_FILE.exec(path);
  if (page) {
    const stem = page[1]!;
    if (stem === '' || stem.endsWith('/')) return [];
    if (!stem.endsWith('/index')) return [stem];
    return [stem, stem.slice(0, -'/index'.length) || '/'];
  }
  const lastSegment = path.slice(path.lastIndexOf('/') + 1);
  if (OTHER_EXTENSION.test(lastSegment)) return [];
  return [`${path}.html`, `${path}.htm`, `${path}/index.html`, `${path}/index.htm`, `${path}/index`];
}

/** Whether a request path (decoded, as Netlify's matcher receives it) matches the pattern. */
export function patternMatches(pattern: PathPattern, requestPath: string): boolean {
  if (pattern.kind === 'exact') {
    if (pattern.path === '/' && requestPath === '') return true;
    return requestPath === pattern.path || requestPath === `${pattern.path}/`;
  }
  if (pattern.prefix === '') return requestPath === '' || requestPath.startsWith('/');
  return requestPath === pattern.prefix || requestPath.startsWith(`${pattern.prefix}/`);
}

/** Whether every path `inner` matches is also matched by `outer`. */
export function patternCovers(outer: PathPattern, inner: PathPattern): boolean {
  if (outer.kind === 'exact') return inner.kind === 'exact' && inner.path === outer.path;
  const innerStem = inner.kind === 'exact' ? inner.path : inner.prefix;
  if (outer.prefix === '') return true;
  return innerStem === outer.prefix || innerStem.startsWith(`${outer.prefix}/`);
}

/**
 * Sort key that puts a pattern before every pattern that covers it: deeper first, and an exact
 * path before the tree of the same depth (`/admin` before `/admin/*`).
 */
export function specificity(pattern: PathPattern): number {
  const stem = pattern.kind === 'exact' ? pattern.path : pattern.prefix;
  const depth = stem.split('/').filter(Boolean).length;
  return depth * 2 + (pattern.kind === 'exact' ? 1 : 0);
}

/** The value Netlify substitutes for `:splat` when `requestPath` matches a tree pattern. */
export function splatOf(pattern: PathPattern & { kind: 'splat' }, requestPath: string): string {
  if (requestPath === pattern.prefix) return '';
  return requestPath.slice(pattern.prefix.length + 1);
}
