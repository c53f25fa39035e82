import { EMAIL_TOKEN_LIFETIMES } from '../core/email-token.js';

/**
 * What the account functions need from the `accounts` section (src/site-config/accounts.ts),
 * compiled at build time like the gate table; plain data, so the functions never load zod.
 */
export interface AccountSettings {
  pages: { forgotPassword: string; checkEmail: string; choosePassword: string };
  /** Seconds each kind of mailed link works. */
  linkLifetimes: { recovery: number };
  /** The path a mailed link opens (the friendly verify path). */
  verifyPath: string;
  /** Every path the verify function answers on: the link's token cookie is sent to these only. */
  verifyPaths: string[];
  /** The friendly paths of the account functions (recover, verify): the session cookies are never set for them. */
  friendlyPaths: string[];
}

/** The settings when a site's config says nothing. */
export const DEFAULT_ACCOUNT_SETTINGS: AccountSettings = {
  pages: { forgotPassword: '/forgot-password', checkEmail: '/check-email', choosePassword: '/choose-password' },
  linkLifetimes: { recovery: EMAIL_TOKEN_LIFETIMES.recovery },
  verifyPath: '/auth/verify',
  verifyPaths: ['/.netlify/functions/verify', '/auth/verify'],
  friendlyPaths: ['/auth/recover', '/auth/verify'],
};
