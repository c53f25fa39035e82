import type { Handler } from '@netlify/functions';
import { requireRole } from 'rolegate';

/**
 * An example of a site's own function behind rolegate: any signed-in user
 * gets their identity back; anyone else a 401 that the client helper answers
 * with one shared refresh.
 */
export const handler: Handler = async (event) => {
  const auth = await requireRole(event);
  if (!auth.ok) return auth.response;
  return {
    statusCode: 200,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
    body: JSON.stringify({ id: auth.user.id, email: auth.user.email, roles: auth.user.roles }),
  };
};
