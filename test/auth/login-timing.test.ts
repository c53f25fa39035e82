/**
 * A login must not tell accounts apart by how long it takes. Measured by the
 * bcrypt work each path does (rounds summed over every compare, and hashes
 * made), counted through an injected hasher: timed assertions would be flaky,
 * and the speed itself belongs to the benchmarks.
 *
 * Before: a wrong password for an imported cost-10 user did 2^10 rounds, an
 * unknown email 2^11 (a dummy at BCRYPT_COST 11), and the first unknown email
 * of an instance also made that dummy hash on the request path.
 */
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginHandler } from '../../src/auth/handlers.js';
import type { PasswordHasher } from '../../src/core/password.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { Store, User } from '../../src/store/store.js';
import { uniqueEmail } from '../store/contract.js';
import { PASSWORD, event, makeDeps } from './support.js';

const COST = 11;

/** bcryptjs, counting: rounds are 2^cost of the hash each compare reads. */
function countingHasher() {
  const work = { rounds: 0, compares: 0, hashes: 0 };
  const hasher: PasswordHasher = {
    async hash(password, cost) {
      work.hashes += 1;
      return bcrypt.hash(password, cost);
    },
    async compare(password, hash) {
      work.compares += 1;
      work.rounds += 2 ** Number(hash.slice(4, 6));
      return bcrypt.compare(password, hash);
    },
  };
  return { work, hasher, reset: () => Object.assign(work, { rounds: 0, compares: 0, hashes: 0 }) };
}

describe(`login work at BCRYPT_COST ${COST}`, () => {
  let store: Store;
  const users: Record<string, User> = {};
  const hashes: Record<string, string> = {};

  beforeAll(async () => {
    store = await openEmbeddedStore({ dataDir: 'memory://' });
    const make = async (name: string, hash: string | null, disabled = false) => {
      const r = await store.createUser({ email: uniqueEmail(name), passwordHash: hash, roles: ['member'] });
      if (r.status !== 'created') throw new Error('fixture');
      if (disabled) await store.setUserDisabled(r.user.id, true);
      users[name] = r.user;
    };
    hashes.native = await bcrypt.hash(PASSWORD, COST);
    // GoTrue and Supabase export $2a$ hashes at cost 10.
    hashes.imported = (await bcrypt.hash(PASSWORD, 10)).replace(/^\$2b\$/, '$2a$');
    hashes.old = await bcrypt.hash(PASSWORD, 4);
    await make('native', hashes.native);
    await make('imported', hashes.imported);
    await make('imported2', hashes.imported);
    await make('old', hashes.old);
    await make('disabled', hashes.imported, true);
    await make('passwordless', null);
  });
  afterAll(() => store.close());

  function handlerWith(hasher: PasswordHasher) {
    const deps = { ...makeDeps(store, { BCRYPT_COST: String(COST) }), passwords: hasher };
    return loginHandler(async () => deps);
  }

  it('an unknown email, as the first request of a new instance, does the configured work and makes no hash', async () => {
    const { work, hasher } = countingHasher();
    const r = await handlerWith(hasher)(event({ json: { email: 'nobody-at-all@example.com', password: 'wrong password!' } }));
    expect(r.statusCode).toBe(401);
    expect(work).toEqual({ rounds: 2 ** COST, compares: 1, hashes: 0 });
  });

  it.each([
    ['an unknown email', () => 'nobody@example.com'],
    ['a wrong password, hash at the configured cost', () => users.native!.email],
    ['a wrong password, imported cost-10 hash', () => users.imported!.email],
    ['a wrong password, cost-4 hash', () => users.old!.email],
    ['the right password of a disabled account', () => users.disabled!.email],
    ['a password-less account', () => users.passwordless!.email],
  ])('%s: 2^BCRYPT_COST rounds, no hash made', async (_label, email) => {
    const { work, hasher } = countingHasher();
    const password = _label.startsWith('the right') ? PASSWORD : 'wrong password!';
    const r = await handlerWith(hasher)(event({ json: { email: email(), password } }));
    expect(r.statusCode).toBe(401);
    expect(work.rounds).toBe(2 ** COST);
    expect(work.hashes).toBe(0);
  });

  it('the right password of an imported user rehashes it at BCRYPT_COST, after the same checking work', async () => {
    const { work, hasher, reset } = countingHasher();
    const login = handlerWith(hasher);
    const r = await login(event({ json: { email: users.imported2!.email, password: PASSWORD } }));
    expect(r.statusCode).toBe(200);
    expect(work).toEqual({ rounds: 2 ** COST, compares: 1 + (COST - 10), hashes: 1 });
    const stored = (await store.findUserForLogin(users.imported2!.email))!.passwordHash!;
    expect(stored).toMatch(/^\$2b\$11\$/);
    expect(await bcrypt.compare(PASSWORD, stored)).toBe(true);
    // From now on one compare at the configured cost, and no more rehashing.
    reset();
    expect((await login(event({ json: { email: users.imported2!.email, password: 'wrong password!' } }))).statusCode).toBe(401);
    expect((await login(event({ json: { email: users.imported2!.email, password: PASSWORD } }))).statusCode).toBe(200);
    expect(work).toEqual({ rounds: 2 * 2 ** COST, compares: 2, hashes: 0 });
  });

  it('a password over 72 bytes does no bcrypt work for anyone', async () => {
    const { work, hasher } = countingHasher();
    const login = handlerWith(hasher);
    for (const email of ['nobody@example.com', users.native!.email, users.imported!.email]) {
      expect((await login(event({ json: { email, password: 'é'.repeat(40) } }))).statusCode).toBe(401);
    }
    expect(work).toEqual({ rounds: 0, compares: 0, hashes: 0 });
  });
});
