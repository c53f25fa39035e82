import { parsePathPattern } from './path-pattern.js';
import type { GateTable } from './table.js';

/**
 * Which requests Netlify hands to the edge gate: one `pattern` (a regular expression over the
 * request path, https://docs.netlify.com/edge-functions/declarations/) per gate.
 *
 * These are only a pre-filter. The edge gate decodes the path and asks the gate table, so
 * public exceptions, auth paths and look-alikes are decided there, exactly as in redirects
 * mode. What the pre-filter must never do is *miss* a gated path, or the static file would be
 * served with no check at all. Netlify matches edge declarations against the path as sent,
 * percent-escapes included, while the table (like Netlify's redirect matcher) sees the decoded
 * path. A plain `path: "/admin/*"` would therefore let `/%61dmin/secret.html` through
 * (URLPattern compares escapes literally). So every character of a gate's literal part may
 * also appear as its UTF-8 percent-escape, in either hex case, and `/` as `%2F`, `\` or `%5C`
 * (the URL parser reads a raw `\` as `/`; an escaped one the gate refuses, see src/edge/gate.ts).
 * Every `/` may also be a run of them (`//admin/`, `/staff//admin/x`): the static server serves
 * `admin/index.html` for those, and the gate decides on that collapsed path.
 *
 * @example
 * edgeRoutePatterns(table) // ['^(?:/|\\|%2[fF]|%5[cC])+(?:a|%61)(?:d|%64)…(?:(?:/|\\|%2[fF]|%5[cC]).*)?$', …]
 */
export function edgeRoutePatterns(table: Pick<GateTable, 'rules'>): string[] {
  const roleRules = table.rules.filter((rule) => rule.access === 'roles');
  // An exact gate's pretty-URL aliases (`/p` for `/p.html`) share its pattern: one per gate.
  const exactPathsOf = (gate: string) => roleRules.filter((rule) => rule.gate === gate).map((rule) => rule.from);
  const patterns: string[] = [];
  for (const rule of roleRules) {
    if (rule.aliasOf) continue;
    const pattern = parsePathPattern(rule.from);
    if (pattern.kind === 'splat') {
      // `/p/*` covers `/p`, `/p/` and everything below; `/*` covers every path.
      patterns.push(pattern.prefix === '' ? '^/.*$' : `^${escapedLiteral(pattern.prefix)}(?:${SLASH}.*)?$`);
    } else {
      // An exact path also covers itself with a trailing slash (or a run of them).
      const paths = exactPathsOf(rule.gate).map(escapedLiteral);
      patterns.push(`^${paths.length === 1 ? paths[0] : `(?:${paths.join('|')})`}${SLASH}*$`);
    }
  }
  // A path with `.` or `..` segments, as sent by a client that skips the normalisation every
  // browser does (`curl --path-as-is /x/../admin/y`), is handed to the gate too whatever it
  // looks like: whether Netlify routes on the raw or the resolved path is not documented, and
  // the gate decides on the resolved one (a Request's URL is always resolved). Dot segments
  // the parser leaves alone because their slash is escaped (`/x/..%2Fadmin/y`) reach the gate
  // the same way, and it refuses them.
  if (patterns.length) patterns.push(`^.*${SLASH}${DOT}{1,2}(?:${SLASH}.*)?$`);
  return [...new Set(patterns)];
}

const DOT = '(?:\\.|%2[eE])';

const SLASH = '(?:/|\\\\|%2[fF]|%5[cC])';

function hexAnyCase(byte: number): string {
  return byte
    .toString(16)
    .toUpperCase()
    .padStart(2, '0')
    .split('')
    .map((digit) => (/[A-F]/.test(digit) ? `[${digit}${digit.toLowerCase()}]` : digit))
    .join('');
}

function regExpLiteral(char: string): string {
  return char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** A regular expression matching `literal` with any of its characters percent-escaped. */
function escapedLiteral(literal: string): string {
  let out = '';
  for (const char of literal) {
    const escapes = [...new TextEncoder().encode(char)].map((byte) => `%${hexAnyCase(byte)}`).join('');
    out += char === '/' ? `${SLASH}+` : `(?:${regExpLiteral(char)}|${escapes})`;
  }
  return out;
}
