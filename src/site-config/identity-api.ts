import { z } from 'zod';
import { DEFAULT_ACCOUNT_SETTINGS } from './account-settings.js';
import { page, roleName } from './accounts.js';

const DEFAULTS = DEFAULT_ACCOUNT_SETTINGS.identityApi;

/**
 * The `identityApi` section of rolegate.config.json: Netlify Identity's HTTP API served from the
 * site's own functions, for the widget, gotrue-js, @netlify/identity and Decap CMS. Off unless
 * `enabled` is true: those clients keep the refresh token where any script on the page can read it.
 */
export const identityApiConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(DEFAULTS.enabled).describe('Serve the Identity-compatible API at /auth/identity (off by default; README, "Coming from Netlify Identity").'),
    adminRoles: z.array(roleName).min(1).default(DEFAULTS.adminRoles).describe('Roles that may use /admin/users and /invite (any one of them).'),
    linkPage: page.default(DEFAULTS.linkPage).describe('The page mailed links open, with #confirmation_token=… and the like, as Identity\'s links do: the page that loads the widget.'),
  })
  .describe('Netlify Identity\'s API for its own clients, served by rolegate.');
