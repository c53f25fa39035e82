/**
 * "Sign out everywhere" ends sessions the caller does not hold, so the proof
 * must be a session that is still live: the still-unexpired nf_jwt of a
 * session that was already signed out (kept by whoever copied it) must not
 * end the user's newer sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import type { Store, User } from '../../src/store/store.js';
import { PASSWORD, body, cookieValues, event, handlersOnMemoryStore, makeUser } from './support.js';

const REFRESH = '__Host-rolegate_refresh';

describe('sign out everywhere', () => {
  let store: Store;
  let login: ReturnType<typeof loginHandler>;
  let logout: ReturnType<typeof logoutHandler>;
  let refresh: ReturnType<typeof refreshHandler>;

  beforeAll(async () => {
    ({ store, login, logout, refresh } = await handlersOnMemoryStore());
  });
  afterAll(() => store.close());

  const signIn = async (user: User) => cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })));
  const stillWorks = async (token: string) => (await refresh(event({ cookies: { [REFRESH]: token } }))).statusCode === 200;

  it('refuses the access token of a session already signed out, and the newer session goes on', async () => {
    const user = await makeUser(store);
    const old = await signIn(user);
    expect((await logout(event({ json: {}, cookies: old }))).statusCode).toBe(200);
    const current = await signIn(user);
    // The attacker kept only the old nf_jwt, which has not expired yet.
    const r = await logout(event({ json: { scope: 'global' }, cookies: { nf_jwt: old.nf_jwt! } }));
    expect(r.statusCode).toBe(401);
    expect(body(r)).toEqual({ error: { code: 'session_expired', message: expect.any(String) } });
    expect(await stillWorks(current[REFRESH]!)).toBe(true);
    expect((await store.findUserById(user.id))?.tokenVersion).toBe(0);
  });

  it('refuses it as a form post too, with the old refresh cookie beside it', async () => {
    const user = await makeUser(store);
    const old = await signIn(user);
    await logout(event({ json: {}, cookies: old }));
    const current = await signIn(user);
    const r = await logout(event({ form: { scope: 'global', next: '/' }, cookies: old }));
    expect(r.statusCode).toBe(401);
    expect(await stillWorks(current[REFRESH]!)).toBe(true);
  });

  it('refuses the access token of a session ended by an earlier sign-out everywhere', async () => {
    const user = await makeUser(store);
    const first = await signIn(user);
    expect((await logout(event({ json: { scope: 'global' }, cookies: { nf_jwt: first.nf_jwt! } }))).statusCode).toBe(200);
    const after = await signIn(user);
    const replay = await logout(event({ json: { scope: 'global' }, cookies: { nf_jwt: first.nf_jwt! } }));
    expect(replay.statusCode).toBe(401);
    expect(await stillWorks(after[REFRESH]!)).toBe(true);
  });

  it('from a live session, ends every session of the user', async () => {
    const user = await makeUser(store);
    const a = await signIn(user);
    const b = await signIn(user);
    const r = await logout(event({ json: { scope: 'global' }, cookies: { nf_jwt: b.nf_jwt! } }));
    expect(r.statusCode).toBe(200);
    expect(body(r)).toEqual({ ok: true, scope: 'global' });
    expect(await stillWorks(a[REFRESH]!)).toBe(false);
    expect(await stillWorks(b[REFRESH]!)).toBe(false);
  });
});
