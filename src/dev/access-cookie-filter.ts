/**
 * What the local front server lets through of the `nf_jwt` cookie. netlify dev's role check
 * (netlify-cli 27, netlify-redirector) ends the whole process with an unhandled rejection when
 * the token's header or payload is JSON but not an object (`[1,2,3]`, `42`, `"x"`, `true`),
 * and answers 400 for other undecodable values. A browser never holds such a token (rolegate
 * only ever sets a signed JWT), so anything else is treated as no token at all.
 */

const ACCESS_COOKIE_NAME = 'nf_jwt';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** A base64url segment decoding to a JSON object (not null, not an array), as JWS headers and JWT claims are (RFC 7519 §7.2). */
function isJsonObjectSegment(segment: string): boolean {
  if (segment.length % 4 === 1) return false;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(segment, 'base64url')));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** Whether `value` has a JWT's shape: three base64url parts, the first two JSON objects. Says nothing of its signature. */
export function isWellFormedJwt(value: string): boolean {
  if (!JWT_SHAPE.test(value)) return false;
  const [header = '', payload = ''] = value.split('.');
  return isJsonObjectSegment(header) && isJsonObjectSegment(payload);
}

/**
 * The Cookie header with at most one `nf_jwt`: the first one sent, if it is a well-formed JWT.
 * Other cookies are kept byte for byte. Returns undefined when no cookie is left. Keeping only
 * the first matches what the gate and netlify dev read (the first of a repeated name), and
 * dropping the rest means no later copy can reach a parser that reads another one.
 *
 * @example
 * withoutMalformedAccessToken('a=1; nf_jwt=e30.WzFd.x') // 'a=1'
 */
export function withoutMalformedAccessToken(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  let accessSeen = false;
  const kept: string[] = [];
  for (const pair of cookieHeader.split(';')) {
    const trimmed = pair.trim();
    if (trimmed === '') continue;
    const at = trimmed.indexOf('=');
    const name = (at === -1 ? trimmed : trimmed.slice(0, at)).trim();
    if (name !== ACCESS_COOKIE_NAME) {
      kept.push(trimmed);
      continue;
    }
    if (accessSeen) continue;
    accessSeen = true;
    const value = trimmed.slice(at + 1).trim();
    if (at !== -1 && isWellFormedJwt(value)) kept.push(`${ACCESS_COOKIE_NAME}=${value}`);
  }
  return kept.length ? kept.join('; ') : undefined;
}
