import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthError, type AuthErrorCode } from '../../src/core/auth-errors.js';
import { STATUS, errorResponse, json, redirect, toAuthError } from '../../src/http/respond.js';
import { StoreLockedError, StoreUnavailableError } from '../../src/store/errors.js';

afterEach(() => vi.restoreAllMocks());

describe('the one table from error code to HTTP status', () => {
  it.each<[AuthErrorCode, number]>([
    ['invalid_credentials', 401], ['throttled', 429], ['refresh_token_reused', 401], ['session_expired', 401],
    ['unauthenticated', 401], ['forbidden', 403], ['bad_origin', 403], ['bad_request', 400],
    ['unsupported_media_type', 415], ['payload_too_large', 413], ['method_not_allowed', 405], ['unavailable', 503], ['internal', 500],
  ])('%s → %i, as {error:{code,message}} with no-store', (code, status) => {
    expect(STATUS[code]).toBe(status);
    const r = errorResponse(new AuthError(code));
    expect(r.statusCode).toBe(status);
    expect(r.headers?.['Cache-Control']).toBe('no-store');
    expect(r.headers?.['Content-Type']).toMatch(/^application\/json/);
    const parsed = JSON.parse(r.body!);
    expect(Object.keys(parsed)).toEqual(['error']);
    expect(parsed.error.code).toBe(code);
    expect(parsed.error.message).toEqual(expect.any(String));
  });
});

describe('error responses', () => {
  it('adds Retry-After to throttled answers and Allow to method_not_allowed', () => {
    expect(errorResponse(new AuthError('throttled', { retryAfterSeconds: 42 })).headers?.['Retry-After']).toBe('42');
    expect(errorResponse(new AuthError('throttled', { retryAfterSeconds: 0 })).headers?.['Retry-After']).toBe('1');
    expect(errorResponse(new AuthError('method_not_allowed', { allow: ['GET', 'POST'] })).headers?.Allow).toBe('GET, POST');
  });

  it('turns a store outage into 503 unavailable without its cause', () => {
    const r = errorResponse(new StoreUnavailableError('connect ECONNREFUSED 10.1.2.3:5432 (session 1234)'));
    expect(r.statusCode).toBe(503);
    expect(r.body).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|1234/);
    expect(toAuthError(new StoreLockedError('locked by pid 77')).code).toBe('unavailable');
  });

  it('logs why the store is unavailable, as the operator needs it (a setting a pooler refused), and tells the client only 503', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const cause = Object.assign(new Error('unsupported startup parameter: options'), { code: '08P01' });
    const r = errorResponse(new StoreUnavailableError('the database is unreachable', { cause }));
    expect(r.statusCode).toBe(503);
    expect(r.body).not.toMatch(/startup|options/);
    expect(log.mock.calls.map((call) => String(call[0]))).toEqual(['rolegate: the database is unreachable: unsupported startup parameter: options']);
  });

  it('answers anything unexpected with a bare 500: no message, no stack; the log gets the class and message only', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const r = errorResponse(new TypeError('secret detail at /srv/app.ts:12'));
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toMatch(/secret detail|app\.ts/);
    expect(JSON.parse(r.body!).error.code).toBe('internal');
    expect(log).toHaveBeenCalledTimes(1);
    expect(String(log.mock.calls[0]![0])).not.toMatch(/\n\s+at /);
  });

  it('carries the Set-Cookie deletions it is given in multiValueHeaders', () => {
    const r = errorResponse(new AuthError('session_expired'), ['nf_jwt=; Max-Age=0']);
    expect(r.multiValueHeaders?.['Set-Cookie']).toEqual(['nf_jwt=; Max-Age=0']);
  });
});

describe('success responses', () => {
  it('never lets a cache keep a JSON answer or a redirect', () => {
    expect(json(200, { ok: true }).headers?.['Cache-Control']).toBe('no-store');
    const r = redirect('/admin/', ['a=b']);
    expect(r.statusCode).toBe(303);
    expect(r.headers).toMatchObject({ Location: '/admin/', 'Cache-Control': 'no-store' });
    expect(r.multiValueHeaders?.['Set-Cookie']).toEqual(['a=b']);
  });
});
