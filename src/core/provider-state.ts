import { nodeCrypto } from './node-crypto.js';
import { seal, unseal } from './sealed.js';
import type { Secret } from './secret.js';

const KEY_LABEL = 'rolegate provider sign-in state v1';

/** Seconds a visitor has at the provider before the sign-in must start again. */
export const PROVIDER_STATE_TTL_SECONDS = 600;

/** What a sign-in remembers between its start and the provider's callback, in a sealed cookie. */
export interface ProviderState {
  provider: string;
  /** Sent to the provider and expected back, once. */
  state: string;
  /** OpenID Connect: expected in the ID token. */
  nonce: string;
  /** PKCE: the verifier whose S256 challenge went to the provider. */
  codeVerifier: string;
  /** The same-site path to return to. */
  next: string;
  /** `fragment`: started by the Identity API's `/authorize`, whose clients take the tokens from the URL fragment; else session cookies. */
  deliver: 'cookies' | 'fragment';
  /** Seconds since the epoch after which the callback is refused. */
  expiresAt: number;
}

const randomToken = () => nodeCrypto().randomBytes(32).toString('base64url');

/** A new sign-in's state, nonce and PKCE verifier (32 random bytes each, RFC 7636 §7.1). */
export function newProviderState(provider: string, next: string, deliver: ProviderState['deliver'], now: number): ProviderState {
  return { provider, state: randomToken(), nonce: randomToken(), codeVerifier: randomToken(), next, deliver, expiresAt: now + PROVIDER_STATE_TTL_SECONDS };
}

export function sealProviderState(secret: Secret, state: ProviderState): string {
  return seal(secret, KEY_LABEL, JSON.stringify(state));
}

/** The state sealed in `sealed` (under the current or previous secret) when it is whole and spelled as sealed (see unseal); null otherwise. Expiry is the caller's check. */
export function openProviderState(secrets: readonly Secret[], sealed: string): ProviderState | null {
  const text = unseal(secrets, KEY_LABEL, sealed);
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<ProviderState>;
    const strings = [value.provider, value.state, value.nonce, value.codeVerifier, value.next];
    if (strings.every((s) => typeof s === 'string') && typeof value.expiresAt === 'number' && (value.deliver === 'cookies' || value.deliver === 'fragment')) {
      return value as ProviderState;
    }
  } catch {
    // Sealed by us, so never malformed in practice; refused all the same.
  }
  return null;
}

/** Whether `presented` (the callback's `state`) is `expected`, compared in constant time. */
export function sameState(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && nodeCrypto().timingSafeEqual(a, b);
}

/** The state's stored form: a SHA-256, so the used-state table holds nothing a callback could present. */
export function stateHash(state: string): string {
  return nodeCrypto().createHash('sha256').update(state).digest('hex');
}
