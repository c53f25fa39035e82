/**
 * Redirect targets after login, refresh and logout must stay on this site:
 * a same-site absolute path such as `/admin/x?y=1`. Anything that a browser
 * could read as another origin (`//evil`, `/\evil`, `https://…`,
 * `javascript:`), or that hides such a thing behind encoding or control
 * characters, is refused. OWASP "Unvalidated Redirects and Forwards".
 */
const MAX_NEXT_LENGTH = 2048;

export function isSafeNextPath(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NEXT_LENGTH) return false;
  if (!value.startsWith('/')) return false;
  // Browsers treat `\` like `/`, so `/\evil.example` is protocol-relative too.
  if (value.startsWith('//') || value.startsWith('/\\')) return false;
  // Control characters and spaces: browsers strip some of them before parsing.
  if (/[\u0000-\u0020\u007f]/u.test(value)) return false;
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

/** `value` when it is a safe same-site path, otherwise `fallback`. */
export function safeNextPath(value: unknown, fallback = '/'): string {
  return isSafeNextPath(value) ? value : fallback;
}
