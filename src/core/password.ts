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

/** The two bcrypt operations sign-in needs, as an argument: tests count the work through their own. */
export interface PasswordHasher {
  hash(password: string, cost: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
}

/** bcryptjs, loaded on first use. */
export const bcryptHasher: PasswordHasher = {
  hash: async (password, cost) => (await bcrypt()).hash(password, cost),
  compare: async (password, hash) => (await bcrypt()).compare(password, hash),
};

/** The cost (log2 of the rounds, 4 to 31) a bcrypt hash was made with, or undefined for anything bcrypt cannot check. */
export function bcryptCost(hash: string): number | undefined {
  const match = BCRYPT_HASH.exec(hash);
  const cost = match ? Number(match[1]) : NaN;
  return cost >= 4 && cost <= 31 ? cost : undefined;
}

/**
 * One hash per cost bcrypt allows below 16, each of a random password that
 * was thrown away. Shipped as constants so that no request ever makes one:
 * the first unknown-email login of an instance paid for hashing a dummy at
 * BCRYPT_COST, and so answered later than every login after it.
 */
const DUMMY_HASHES: Readonly<Record<number, string>> = {
  4: '$2b$04$5kc44pXswNrofE.pOgIUZOsMFcZ4lBcaDWmMwDLL2i/mbiHZorLOG',
  5: '$2b$05$qFGp7oBogMiIiHa/5mKZzejTCo0zOWg/8dXiOBRYHmaK.p5LHE95O',
  6: '$2b$06$YNAG2QWmHy9kUEQSFDTUZe8EW63eZMngfDbulweXPZct29dtibe/.',
  7: '$2b$07$BPo6T55/.FjzTkX0NJupWOExwHfgzei123UpXbUIB9GIX.hN689HS',
  8: '$2b$08$u4d5SBi.uNr2aCDBOkeV.OVbIgH5Up2CbeVkW1rfzvwmnlubBNeRK',
  9: '$2b$09$EktccCjN3kfXng30NP8I8uliYGcq.l9II3fM9q08xh1ZVw0n7i876',
  10: '$2b$10$PlmXYDHfcNi3qUhUpurOO.4sxbyeBNqc2tziLK/M5uWFn.0x1fvaa',
  11: '$2b$11$VPnlDl1nOPFI3ADlj/wDQuetR09H8eYKubj6uKKutzLCMDF0ktRpO',
  12: '$2b$12$B/iH1/8Vy96DGpuOTR4RluJzRS/uT04TB/WPS9BTzFA33vel7sIbC',
  13: '$2b$13$u1qAn6N.YDrNn8EyOAQm2.ccSrsoDLV1JRgocuScOlwMoC3JttbBy',
  14: '$2b$14$LtF0U21XuO0nANqbNt0Ode7kab2nYvzgzgwZs3RV.U9dhR8VVyomS',
  15: '$2b$15$6OJWXDG8Jb3XD4cp8XV4pe9gczNwKjxT9rml7lVeeSFdkETZtaxaK',
};

/**
 * Checks `password` against `hash` with the same bcrypt work whatever the
 * outcome: 2^`workCost` rounds (BCRYPT_COST) for an unknown account (null), a
 * wrong password, or a hash made at a lower cost (a GoTrue or Supabase export
 * is cost 10), which is padded with compares against dummy hashes of costs
 * cost … workCost-1 (2^k + 2^k + … + 2^(workCost-1) = 2^workCost). Otherwise
 * a wrong password for an imported user answered in half the time of an
 * unknown email, telling the accounts apart. A hash above `workCost` costs
 * what it costs; the login rehashes it (see needsRehash). A password over 72
 * bytes is refused before any bcrypt work, whoever it is for.
 *
 * @example
 * const ok = await verifyPasswordEvenly({ password, hash: user?.passwordHash ?? null, workCost: 11 });
 */
export async function verifyPasswordEvenly(options: { password: string; hash: string | null; workCost: number; hasher?: PasswordHasher }): Promise<boolean> {
  const { password, workCost } = options;
  const hasher = options.hasher ?? bcryptHasher;
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
  const cost = options.hash === null ? undefined : bcryptCost(options.hash);
  if (cost === undefined || options.hash === null) {
    await hasher.compare(password, dummyHash(workCost));
    return false;
  }
  const matches = await hasher.compare(password, options.hash.replace(/^\$2y\$/, '$2b$'));
  for (let padding = cost; padding < workCost; padding += 1) await hasher.compare(password, dummyHash(padding));
  return matches;
}

/** True when a stored hash is not at the configured cost: after a successful login it is replaced by one that is. */
export function needsRehash(hash: string, workCost: number): boolean {
  return bcryptCost(hash) !== workCost;
}

function dummyHash(cost: number): string {
  const hash = DUMMY_HASHES[cost];
  if (!hash) throw new RangeError(`no dummy bcrypt hash for cost ${cost} (BCRYPT_COST allows 10 to 15)`);
  return hash;
}
