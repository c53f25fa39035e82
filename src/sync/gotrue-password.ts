import { toIdentityUser, type IdentityUser } from '../core/identity-user.js';

/**
 * Asks Netlify Identity whether `password` is the password of `email`, as gotrue-js signs in:
 * `POST {IDENTITY_URL}/token` with the form `grant_type=password&username=…&password=…`, then
 * `GET {IDENTITY_URL}/user` with the access token it answered. The user on success; null for a
 * wrong password, an unknown or unconfirmed address, an Identity that is down or slower than
 * `signal` allows, or an answer of another shape. The password goes to Identity only.
 */
export type IdentityPasswordCheck = (email: string, password: string, signal: AbortSignal) => Promise<IdentityUser | null>;

export function gotruePasswordCheck(identityUrl: string, fetchImpl: typeof fetch = fetch): IdentityPasswordCheck {
  const base = identityUrl.replace(/\/+$/, '');
  return async (email, password, signal) => {
    try {
      const token = await fetchImpl(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'password', username: email, password }).toString(),
        signal,
        redirect: 'error',
      });
      if (token.status !== 200) {
        await token.body?.cancel();
        // 400 invalid_grant is a wrong password or an unknown address; anything else is Identity failing.
        if (token.status >= 500) console.error(`rolegate: Netlify Identity answered ${token.status} to a sign-in; treated as a wrong password`);
        return null;
      }
      const accessToken = ((await token.json()) as { access_token?: unknown }).access_token;
      if (typeof accessToken !== 'string' || !accessToken) return null;
      const user = await fetchImpl(`${base}/user`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' }, signal, redirect: 'error' });
      if (user.status !== 200) {
        await user.body?.cancel();
        return null;
      }
      return toIdentityUser(await user.json(), { observedAt: new Date().toISOString() });
    } catch (error) {
      // Down, hung past its deadline (the signal), or a body that is not a user: the same as a wrong password.
      const name = error instanceof Error ? error.name : typeof error;
      if (name !== 'IdentityPayloadError') console.error(`rolegate: Netlify Identity could not be asked about a sign-in (${name}); treated as a wrong password`);
      return null;
    }
  };
}
