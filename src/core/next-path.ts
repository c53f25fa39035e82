/**
 * Redirect targets after login, refresh and logout must stay on this site:
 * a same-site absolute path such as `/admin/x?y=1`. Anything that a browser
 * could read as another origin (`//evil`, `/\evil`, `https://…`,
 * `javascript:`), or that hides such a thing behind encoding or control
 * characters, is refused. OWASP "Unvalidated Redirects and Forwards".
 */
const MAX_NEXT_LENGTH = 2048;

/** A UTF-16 surrogate without its partner: no URL can carry it (encodeURIComponent throws). */
export const LONE_SURROGATE = /\p{Cs}/u;

export function isSafeNextPath(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NEXT_LENGTH) return false;
  if (!value.startsWith('/')) return false;
  // Browsers treat `\` like `/`, so `/\evil.example` is protocol-relative too.
  if (value.startsWith('//') || value.startsWith('/\\')) return false;
  // Control characters and spaces: browsers strip some of them before parsing.
  if (/[\u0000-\u0020\u007f]/u.test(value) || LONE_SURROGATE.test(value)) return false;
  // The same tricks, percent-encoded, in the path part.
  let decodedPath: string;
  try {
    decodedPath = decodeURIComponent(value.split(/[?#]/u)[0] ?? '');
  } catch {
    return false;
  }
  if (decodedPath.startsWith('//') || decodedPath.startsWith('/\\') || /[\u0000-\u001f\u007f\\]/u.test(decodedPath)) return false;
  // Last line of defence: resolved against a placeholder origin it must stay there.
  const base = 'https://rolegate.invalid';
  try {
    return new URL(value, base).origin === base;
  } catch {
    return false;
  }
}

/**
 * `value` with every character outside visible ASCII percent-encoded as
 * UTF-8, which is what a browser sends for it anyway. A `Location` header
 * must be bytes a server can write (Node refuses anything above U+00FF with
 * ERR_INVALID_CHAR, a 500 under netlify dev) and RFC 9110 §10.2.2 makes it a
 * URI reference, which is ASCII. Existing `%XX` escapes are kept, so encoding
 * twice changes nothing. Undefined for a string no URL can hold (a lone surrogate).
 */
export function asciiLocation(value: string): string | undefined {
  try {
    return value.replace(/[^\u0021-\u007e]+/gu, (run) => encodeURIComponent(run));
  } catch {
    return undefined;
  }
}

/**
 * `value`, ready for a `Location` header, when it is a safe same-site path
 * (`/ドキュメント` becomes `/%E3%83%89…`); otherwise `fallback`.
 */
export function safeNextPath(value: unknown, fallback = '/'): string {
  if (!isSafeNextPath(value)) return fallback;
  return asciiLocation(value) ?? fallback;
}
