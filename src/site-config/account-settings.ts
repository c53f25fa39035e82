import { EMAIL_TOKEN_LIFETIMES, type EmailTokenPurpose } from '../core/email-token.js';
import type { ProviderSettings } from './provider-settings.js';

/** Who may create an account: nobody but admins and their invitations (`closed`, `invite`), or any visitor (`open`). */
export type RegistrationPolicy = 'closed' | 'invite' | 'open';

/** Where the Identity-compatible API answers when the config turns it on, and the function behind it. */
export const IDENTITY_API_PATH = '/auth/identity';
export const IDENTITY_API_FUNCTION = '/.netlify/functions/identity-api';

/** Where the admin API answers when the config turns it on, and the function behind it. */
export const ADMIN_API_PATH = '/auth/admin';
export const ADMIN_API_FUNCTION = '/.netlify/functions/admin';

/** The admin API and page (src/auth/admin-handler.ts): off unless the config's `admin` turns it on. */
export interface AdminSettings {
  enabled: boolean;
  /** Where the API answers: `<basePath>/users`, `<basePath>/audit`, … (rewritten to the admin function). */
  basePath: string;
  /** Who may use it (any one of these roles, held now, in a live session). */
  roles: string[];
  /** The admin page, behind a gate for those roles. */
  page: string;
}

/** The Identity-compatible API (src/auth/identity-api-handler.ts): off unless the config's `identityApi` turns it on. */
export interface IdentityApiSettings {
  enabled: boolean;
  /** Where it answers: `<basePath>/token`, `<basePath>/user`, … (a friendly path rewritten to the identity-api function). */
  basePath: string;
  /** Who may use its admin endpoints (any one of these roles). */
  adminRoles: string[];
  /** The page a mailed link opens, with Identity's `#confirmation_token=…` (and the like) for the widget there to read. */
  linkPage: string;
}

/**
 * What the account functions need from the `accounts` section (src/site-config/accounts.ts),
 * compiled at build time like the gate table; plain data, so the functions never load zod.
 */
export interface AccountSettings {
  registration: RegistrationPolicy;
  /** Sign-up takes only addresses at these domains (lower case); empty: any domain. */
  allowedDomains: string[];
  /** The roles a visitor's own sign-up gives, and an invitation that names none. */
  newUserRoles: string[];
  /** A sign-up must confirm its address by a mailed link before it can sign in. */
  requireConfirmation: boolean;
  /** Who may invite (any one of these roles). */
  inviterRoles: string[];
  /** Sign-in by a link mailed to the address (the magic-link function); off unless the config turns it on. */
  signInLinks: boolean;
  pages: { forgotPassword: string; checkEmail: string; choosePassword: string; signup: string; confirm: string; account: string };
  /** Seconds each kind of mailed link works. */
  linkLifetimes: { recovery: number; signup: number; invite: number; emailChange: number; magicLink: number };
  /** The path a mailed link opens (the friendly verify path). */
  verifyPath: string;
  /** Every path the verify function answers on: the link's token cookie is sent to these only. */
  verifyPaths: string[];
  /** The friendly paths of the account functions (recover, verify, signup, invite, account, magic-link): the refresh cookie is never sent to them. */
  friendlyPaths: string[];
  identityApi: IdentityApiSettings;
  admin: AdminSettings;
  /** Sign-in through GitHub, Google, GitLab or OpenID Connect providers (none by default). */
  providers: ProviderSettings[];
}

/** The settings when a site's config says nothing. */
export const DEFAULT_ACCOUNT_SETTINGS: AccountSettings = {
  registration: 'closed',
  allowedDomains: [],
  newUserRoles: [],
  requireConfirmation: true,
  inviterRoles: ['admin'],
  signInLinks: false,
  pages: { forgotPassword: '/forgot-password', checkEmail: '/check-email', choosePassword: '/choose-password', signup: '/signup', confirm: '/confirm', account: '/account' },
  linkLifetimes: {
    recovery: EMAIL_TOKEN_LIFETIMES.recovery, signup: EMAIL_TOKEN_LIFETIMES.signup, invite: EMAIL_TOKEN_LIFETIMES.invite, emailChange: EMAIL_TOKEN_LIFETIMES.email_change,
    magicLink: EMAIL_TOKEN_LIFETIMES.magic_link,
  },
  verifyPath: '/auth/verify',
  verifyPaths: ['/.netlify/functions/verify', '/auth/verify'],
  friendlyPaths: ['/auth/recover', '/auth/verify', '/auth/signup', '/auth/invite', '/auth/account', '/auth/magic-link'],
  identityApi: { enabled: false, basePath: IDENTITY_API_PATH, adminRoles: ['admin'], linkPage: '/' },
  admin: { enabled: false, basePath: ADMIN_API_PATH, roles: ['admin'], page: '/admin/users' },
  providers: [],
};

/** Seconds a link for `purpose` works here: the config's lifetime, never longer than rolegate's own limit. */
export function linkLifetime(settings: AccountSettings, purpose: EmailTokenPurpose): number {
  const { linkLifetimes: l } = settings;
  const configured = { recovery: l.recovery, signup: l.signup, invite: l.invite, email_change: l.emailChange, magic_link: l.magicLink }[purpose];
  return Math.min(configured ?? EMAIL_TOKEN_LIFETIMES[purpose], EMAIL_TOKEN_LIFETIMES[purpose]);
}
