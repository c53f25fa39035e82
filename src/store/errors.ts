import { RolegateError } from '../core/rolegate-error.js';

/**
 * The database could not be reached or did not answer in time. Functions turn
 * this into `503 {error:{code:"unavailable"}}`; the cause stays in the log.
 */
export class StoreUnavailableError extends RolegateError {
  readonly code = 'unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Another process holds the embedded database; only one may open it. */
export class StoreLockedError extends RolegateError {
  readonly code = 'store_locked';
  constructor(message: string) {
    super(message);
    this.name = 'StoreLockedError';
  }
}

/** The database answered with something the SQL contract does not allow: a bug, not a client's mistake. */
export class StoreContractError extends RolegateError {
  readonly code = 'store_contract';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreContractError';
  }
}

// PostgreSQL SQLSTATE classes that mean "the server is not there for us right
// now" rather than "the statement was wrong": 08 connection exception, 53
// insufficient resources, 57P admin shutdown / cannot connect now.
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** True when an error (a driver's, or an adapter's StoreUnavailableError) means the database is down or unreachable. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (!error || typeof error !== 'object') return false;
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_ERRNO.has(e.code))) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|timeout|Client has encountered a connection error|fetch failed|socket hang up/i.test(message);
}
