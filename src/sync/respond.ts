import type { HandlerResponse } from '@netlify/functions';
import { json } from '../http/respond.js';

/**
 * The sync functions' error codes and their statuses, in one table. The
 * callers are Netlify Identity and operators, so messages say what to fix.
 */
export const SYNC_STATUS = {
  bad_request: 400,
  missing_signature: 401,
  invalid_signature: 401,
  stale_signature: 401,
  body_mismatch: 401,
  wrong_event: 400,
  method_not_allowed: 405,
  payload_too_large: 413,
  signup_not_allowed: 422,
  not_configured: 503,
  unavailable: 503,
  internal: 500,
} as const;

export type SyncErrorCode = keyof typeof SYNC_STATUS;

export function syncError(code: SyncErrorCode, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): HandlerResponse {
  return json(SYNC_STATUS[code], { ...extra, error: { code, message } }, [], headers);
}
