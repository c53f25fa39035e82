/** What the readable `rolegate_session` cookie says about the signed-in user. */
export interface RolegateSession {
  email: string;
  roles: string[];
  /** Access-token expiry, seconds since the epoch. */
  exp: number;
}

export type RolegateChangeReason = 'refreshed' | 'signed-out';

/** Overrides the function paths, e.g. `{ refreshUrl: '/auth/refresh', logoutUrl: '/auth/logout' }`. */
export function configure(overrides: { refreshUrl?: string; logoutUrl?: string }): void;

/** The signed-in user from the session cookie, or null. No signature: for display only, never for access decisions. */
export function session(): RolegateSession | null;

/**
 * One shared refresh for every caller and every tab; true when a fresh access token is in place.
 * `since` (ms since the epoch, default now): a refresh by any tab after this moment counts.
 */
export function refresh(since?: number): Promise<boolean>;

/** `fetch` with one shared refresh and one retry on 401. */
export function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;

/** Signs out this session, or all of the user's sessions with `{ everywhere: true }`; every tab is told. */
export function logout(options?: { everywhere?: boolean }): Promise<boolean>;

/** Called when this or another tab refreshes or signs out. Returns an unsubscribe function. */
export function onChange(listener: (session: RolegateSession | null, reason: RolegateChangeReason) => void): () => void;
