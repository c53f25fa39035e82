import type { AuthConfig, MailConfig } from '../core/environment.js';
import type { EmailTokenPurpose } from '../core/email-token.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountSettings } from '../site-config/account-settings.js';
import { PROVIDER_PATH } from '../site-config/provider-settings.js';
import type { PasswordHasher } from '../core/password.js';
import type { GateTable } from '../gates/table.js';
import type { CookiePolicy } from '../http/cookies.js';
import type { Store } from '../store/store.js';
import type { IdentityPasswordCheck } from '../sync/gotrue-password.js';

/** What every auth use case receives instead of reaching for globals. */
export interface AuthDeps {
  store: Store;
  config: AuthConfig;
  /** The compiled gates: the refresh bounce decides "role still missing" from it. */
  gates: GateTable;
  /** Seconds since the epoch. */
  now: () => number;
  /** bcrypt; bcryptjs when absent. Tests pass one that counts the work. */
  passwords?: PasswordHasher;
  /** With IDENTITY_URL: asks Netlify Identity about a login for an address rolegate does not know (identity-migration.ts). */
  identityPasswords?: IdentityPasswordCheck;
  /** The account flows' pages and link lifetimes (DEFAULT_ACCOUNT_SETTINGS when absent). */
  accounts?: AccountSettings;
  /** How mail leaves and the limits on requests that send one; needed by the account flows. */
  mail?: MailConfig;
  /** Called after every request that may have queued mail: starts delivery, settling within a bound (src/mail/kick.ts). */
  kickMail?: () => Promise<void>;
  /** The URL a mailed link carries for `token`; absent, or undefined for a purpose, the verify path (`?token=`). The Identity API gives Identity's `#confirmation_token=` form. */
  linkUrl?: (token: string, purpose: EmailTokenPurpose) => string | undefined;
}

/** How this site's cookies are set and deleted: COOKIE_DOMAIN, lifetimes, and the friendly auth paths from the gate table. */
export function cookiePolicy(deps: Pick<AuthDeps, 'config' | 'gates' | 'accounts'>): CookiePolicy {
  const { config, gates } = deps;
  const accounts = deps.accounts ?? DEFAULT_ACCOUNT_SETTINGS;
  // The Identity API reads bearer tokens only, a provider sign-in starts a new session, and the admin API reads the access token: the refresh cookie has no business there either.
  const accountPaths = [...accounts.friendlyPaths, `${accounts.identityApi.basePath}/*`, `${PROVIDER_PATH}/*`, `${accounts.admin.basePath}/*`];
  return {
    domain: config.cookieDomain,
    accessTtlSeconds: config.accessTokenTtlSeconds,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    // The refresh cookie goes to the session's functions only, not to the account flows'.
    friendlyPaths: gates.rules
      .filter((rule) => rule.access === 'public' && rule.reason === 'friendly-path' && !accountPaths.includes(rule.from))
      .map((rule) => rule.from),
  };
}
