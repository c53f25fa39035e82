/**
 * Without COOKIE_DOMAIN the refresh cookie is `__Host-rolegate_refresh`, which
 * only this host can set. A sibling subdomain can still set
 * `__Secure-rolegate_refresh` with Domain=<parent>: carrying the attacker's
 * own valid token, it would sign the visitor into the attacker's account
 * (through the gate's bounce, too), and sign-out deleted only the __Host- one.
 * It must be ignored by refresh, the bounce and logout alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { loginHandler, logoutHandler, refreshHandler } from '../../src/auth/handlers.js';
import type { Store, User } from '../../src/store/store.js';
import { PASSWORD, body, cookieValues, event, handlersOnMemoryStore, makeUser } from './support.js';
import type { HandlerResponse } from '@netlify/functions';
import { decodeJwt } from 'jose';

const HOST = '__Host-rolegate_refresh';
const PLANTED = '__Secure-rolegate_refresh';

describe('a refresh cookie planted by a sibling subdomain', () => {
  let store: Store;
  let login: ReturnType<typeof loginHandler>;
  let logout: ReturnType<typeof logoutHandler>;
  let refresh: ReturnType<typeof refreshHandler>;
  let attacker: User;

  beforeAll(async () => {
    ({ store, login, logout, refresh } = await handlersOnMemoryStore());
    attacker = await makeUser(store, ['member']);
  });
  afterAll(() => store.close());

  const signIn = async (user: User) => cookieValues(await login(event({ json: { email: user.email, password: PASSWORD } })))[HOST]!;
  /** The user the answer signs the browser in as, if any: the live nf_jwt's subject. */
  const signedInAs = (r: HandlerResponse) => {
    const token = cookieValues(r).nf_jwt;
    return token ? decodeJwt(token).sub : undefined;
  };
  /** Whether `token` still refreshes (and so was neither rotated nor revoked by the attack). */
  const untouched = async (token: string) => (await refresh(event({ cookies: { [HOST]: token } }))).statusCode === 200;
  const bounceTo = (cookies: Record<string, string>) =>
    refresh(event({ method: 'GET', path: '/.netlify/functions/refresh/members/', cookies, origin: null, headers: { accept: 'text/html' } }));

  it('refresh POST with only the planted cookie: no session, no cookie for the attacker', async () => {
    const planted = await signIn(attacker);
    const r = await refresh(event({ cookies: { [PLANTED]: planted } }));
    expect(r.statusCode).toBe(401);
    expect(body(r).error.code).toBe('session_expired');
    expect(signedInAs(r)).toBeUndefined();
    expect(cookieValues(r)[HOST] ?? '').toBe('');
    expect(await untouched(planted)).toBe(true);
  });

  it('the bounce with only the planted cookie goes to the login page, signed in as nobody', async () => {
    const planted = await signIn(attacker);
    const r = await bounceTo({ [PLANTED]: planted });
    expect(r.statusCode).toBe(303);
    expect(r.headers?.Location).toBe('/login?next=%2Fmembers%2F');
    expect(signedInAs(r)).toBeUndefined();
    expect(await untouched(planted)).toBe(true);
  });

  it('logout with only the planted cookie ends nothing of the attacker, locally or everywhere', async () => {
    const planted = await signIn(attacker);
    const local = await logout(event({ json: {}, cookies: { [PLANTED]: planted } }));
    expect(local.statusCode).toBe(200);
    const everywhere = await logout(event({ json: { scope: 'global' }, cookies: { [PLANTED]: planted } }));
    expect(everywhere.statusCode).toBe(401);
    expect(signedInAs(everywhere)).toBeUndefined();
    expect(await untouched(planted)).toBe(true);
  });

  it('with both cookies, refresh, the bounce and logout use the __Host- one', async () => {
    const victim = await makeUser(store, ['member']);
    let own = await signIn(victim);
    const planted = await signIn(attacker);
    const posted = await refresh(event({ cookies: { [PLANTED]: planted, [HOST]: own } }));
    expect(posted.statusCode).toBe(200);
    expect(body(posted).user.id).toBe(victim.id);
    expect(signedInAs(posted)).toBe(victim.id);
    own = cookieValues(posted)[HOST]!;
    const bounced = await bounceTo({ [PLANTED]: planted, [HOST]: own });
    expect(bounced.headers?.Location).toBe('/members/');
    expect(signedInAs(bounced)).toBe(victim.id);
    own = cookieValues(bounced)[HOST]!;
    const out = await logout(event({ json: {}, cookies: { [PLANTED]: planted, [HOST]: own } }));
    expect(out.statusCode).toBe(200);
    expect(await untouched(own)).toBe(false);
    expect(await untouched(planted)).toBe(true);
  });
});
