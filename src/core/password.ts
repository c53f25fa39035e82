/**
 * bcryptjs, imported by the first hash or compare rather than at load: a
 * function that answers without one (a malformed or refused login, every
 * refresh and logout) neither evaluates it nor, since netlify.toml ships it
 * beside the bundle, parses its 31 KB at cold start.
 */
let bcryptjs: Promise<typeof import('bcryptjs').default> | undefined;
function bcrypt(): Promise<typeof import('bcryptjs').default> {
  return (bcryptjs ??= import('bcryptjs').then((module) => module.default));
}

/** bcrypt reads only the first 72 bytes of a password; longer ones are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;
/** NIST SP 800-63B: at least 8 characters for user-chosen secrets. */
export const MIN_PASSWORD_LENGTH = 8;

const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

/** Returns why a new password is unacceptable, or undefined when it is fine. */
export function passwordProblem(password: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return `must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8`;
  return undefined;
}

/** True for the bcrypt forms rolegate stores ($2a$, $2b$, $2y$ — the last from PHP/GoTrue exports). */
export function isBcryptHash(hash: string): boolean {
  return BCRYPT_HASH.test(hash);
}

/**
 * Hashes a password with bcrypt at the given cost (BCRYPT_COST).
 *
 * @example
 * const hash = await hashPassword('correct horse battery', 11);
 */
export async function hashPassword(password: string, cost: number): Promise<string> {
  const problem = passwordProblem(password);
  if (problem) throw new TypeError(`password ${problem}`);
  return (await bcrypt()).hash(password, cost);
}

/**
 * Compares in bcrypt's constant time. `$2y$` (PHP's name for `$2b$`) is read
 * as `$2b$`. A password over 72 bytes never matches.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES || !isBcryptHash(hash)) return false;
  return (await bcrypt()).compare(password, hash.replace(/^\$2y\$/, '$2b$'));
}

/**
 * A hash of a random password at the given cost, compared against when the
 * user does not exist so an unknown email costs the same time as a wrong
 * password (no enumeration by timing). Made once per cost and kept.
 */
const dummyHashes = new Map<number, Promise<string>>();
export function dummyPasswordHash(cost: number): Promise<string> {
  let hash = dummyHashes.get(cost);
  if (!hash) {
    hash = bcrypt().then((bcryptjs) => bcryptjs.hash(`rolegate-dummy-${Math.random()}`, cost));
    dummyHashes.set(cost, hash);
  }
  return hash;
}
