/**
 * Reading a Netlify (Lambda-style) event: method, headers, cookies, client
 * address, Origin, and a bounded, typed body. Every malformed input becomes an
 * AuthError with a 4xx code, never an exception that would surface as a 500.
 */
import type { HandlerEvent } from '@netlify/functions';
import { AuthError } from '../core/auth-errors.js';
import { readCookies } from './cookies.js';

/** Login and logout bodies are a few hundred bytes; anything near this is abuse. */
export const MAX_BODY_BYTES = 16 * 1024;

export type BodyKind = 'json' | 'form' | 'empty';

export interface ParsedBody {
  kind: BodyKind;
  /** Top-level fields; for forms the first value of each name. */
  fields: Record<string, unknown>;
}

export function header(event: HandlerEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && typeof value === 'string') return value;
  }
  return undefined;
}

export function cookiesOf(event: HandlerEvent): Record<string, string> {
  return readCookies(header(event, 'cookie'));
}

/** Netlify's own client-address header first; then the usual proxy headers. */
export function clientIp(event: HandlerEvent): string {
  const direct = header(event, 'x-nf-client-connection-ip') ?? header(event, 'client-ip');
  const forwarded = header(event, 'x-forwarded-for')?.split(',')[0];
  return (direct ?? forwarded ?? 'unknown').trim().slice(0, 64) || 'unknown';
}

export function requireMethod(event: HandlerEvent, allowed: string[]): void {
  if (!allowed.includes(event.httpMethod)) throw new AuthError('method_not_allowed', { allow: allowed });
}

/**
 * A state-changing request must come from the site (or an allow-listed
 * sibling origin for subdomain SSO). Browsers send Origin with every POST,
 * so a missing one is refused too (OWASP CSRF: verifying origin with
 * standard headers).
 */
export function requireSameOrigin(event: HandlerEvent, allowedOrigins: readonly string[]): void {
  const origin = header(event, 'origin');
  if (!origin || origin === 'null' || !allowedOrigins.includes(origin.toLowerCase())) throw new AuthError('bad_origin');
}

/** The body's bytes, base64 undone, refused above `maxBytes` before anything is decoded. */
export function rawBodyBytes(event: HandlerEvent, maxBytes = MAX_BODY_BYTES): Buffer {
  const body = event.body ?? '';
  // Base64 inflates by 4/3: reject on the encoded length before decoding anything.
  if (body.length > (event.isBase64Encoded ? Math.ceil((maxBytes * 4) / 3) + 4 : maxBytes * 4)) {
    throw new AuthError('payload_too_large');
  }
  let bytes: Buffer;
  if (event.isBase64Encoded) {
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/u.test(body)) throw new AuthError('bad_request', { message: 'The body is not valid base64.' });
    bytes = Buffer.from(body, 'base64');
  } else {
    bytes = Buffer.from(body, 'utf8');
  }
  if (bytes.length > maxBytes) throw new AuthError('payload_too_large');
  return bytes;
}

function rawBody(event: HandlerEvent): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(rawBodyBytes(event));
}

/** Parses a JSON object or an x-www-form-urlencoded body. */
export function parseBody(event: HandlerEvent, options: { allowEmpty?: boolean } = {}): ParsedBody {
  const text = rawBody(event);
  const type = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (text.trim() === '') {
    if (options.allowEmpty) return { kind: type === 'application/x-www-form-urlencoded' ? 'form' : type === 'application/json' ? 'json' : 'empty', fields: {} };
    throw new AuthError('bad_request', { message: 'The request has no body.' });
  }
  if (type === 'application/json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AuthError('bad_request', { message: 'The body is not valid JSON.' });
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new AuthError('bad_request', { message: 'The body must be a JSON object.' });
    }
    return { kind: 'json', fields: value as Record<string, unknown> };
  }
  if (type === 'application/x-www-form-urlencoded') {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(text)) {
      if (!(key in fields)) fields[key] = value;
    }
    return { kind: 'form', fields };
  }
  throw new AuthError('unsupported_media_type');
}

/** True when the client wants HTML navigation answers (a plain form post), not JSON. */
export function wantsRedirects(event: HandlerEvent, body: ParsedBody): boolean {
  if (body.kind === 'form') return true;
  if (body.kind === 'json') return false;
  const accept = header(event, 'accept') ?? '';
  return accept.includes('text/html') && !accept.includes('application/json');
}
