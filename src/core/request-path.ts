// A `.`/`..` segment, a backslash or a control character (C0, DEL, C1) in the decoded path.
const UNRESOLVED_PATH = /(?:^|\/)\.{1,2}(?:\/|$)|\\|\p{Cc}/u;

/**
 * The decoded path a gate decides on, as Netlify's matcher compares it, or null when the
 * request cannot be judged by its path. `new URL()` resolves dot segments before decoding, so
 * `/x/..%2Fadmin/y` keeps an unresolved `..` once decoded (`/x/../admin/y`), which matches no
 * gate while the origin may still resolve it to `/admin/y`; an undecodable path (`/admin/%`)
 * cannot be compared at all. Browsers never send such paths, so they are refused rather than
 * guessed at: comparing them as sent would serve the page (fail open).
 */
export function judgeablePath(pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  return UNRESOLVED_PATH.test(decoded) ? null : decoded;
}

/**
 * The path the static file server resolves for a path it accepts: runs of `/` count as one
 * (measured under `netlify dev`: `//admin/`, `/admin//index.html` and `/.//admin/` all serve
 * `admin/index.html`), so a gate decides on that path, not on the spelling. A browser sends
 * `//admin/` when a link says `https://site//admin/`, so this is gated rather than refused.
 */
export function servedPath(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}
