/** Public API for a site's own functions. */
export { requireRole, type AuthenticatedUser, type RequireRoleResult, type RequireRoleOptions } from './auth/require-role.js';
