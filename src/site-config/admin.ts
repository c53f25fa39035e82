import { z } from 'zod';
import { DEFAULT_ACCOUNT_SETTINGS } from './account-settings.js';
import { page, roleName } from './accounts.js';

const DEFAULTS = DEFAULT_ACCOUNT_SETTINGS.admin;

/**
 * The `admin` section of rolegate.config.json: the site's own users page and the API behind it.
 * Off unless `enabled` is true, since the API can delete users.
 */
export const adminConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(DEFAULTS.enabled).describe('Serve the admin API at /auth/admin and expect the admin page (off by default).'),
    roles: z.array(roleName).min(1).default(DEFAULTS.roles).describe('Roles that may use the admin API (any one of them, held now, in a live session).'),
    page: page.default(DEFAULTS.page).describe('The admin page; it must be inside a gate for those roles.'),
  })
  .describe('Manage users from the site: a users page and the admin API it calls.');
