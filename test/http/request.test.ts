import type { HandlerEvent } from '@netlify/functions';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../src/core/auth-errors.js';
import { MAX_BODY_BYTES, clientIp, cookiesOf, header, parseBody, requireMethod, requireSameOrigin, wantsRedirects } from '../../src/http/request.js';

function netlifyEvent(overrides: Partial<HandlerEvent> = {}): HandlerEvent {
  return {
    rawUrl: 'https://site.example/.netlify/functions/login',
    rawQuery: '',
    path: '/.netlify/functions/login',
    httpMethod: 'POST',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: {},
    multiValueQueryStringParameters: null,
    body: null,
    isBase64Encoded: false,
    ...overrides,
  };
}

const withBody = (body: string, contentType: string, base64 = false) =>
  netlifyEvent({ headers: { 'content-type': contentType }, body: base64 ? Buffer.from(body).toString('base64') : body, isBase64Encoded: base64 });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof AuthError) return error.code;
    throw error;
  }
  return undefined;
}

describe('reading request bodies', () => {
  it('reads a JSON object, with or without a charset parameter', () => {
    expect(parseBody(withBody('{"email":"a@example.com","password":"pw"}', 'application/json'))).toEqual({
      kind: 'json',
      fields: { email: 'a@example.com', password: 'pw' },
    });
    expect(parseBody(withBody('{"a":1}', 'Application/JSON; charset=utf-8')).fields).toEqual({ a: 1 });
  });

  it('reads an HTML form, keeping the first value of a repeated field', () => {
    const parsed = parseBody(withBody('email=a%40example.com&password=p+w%26x&next=%2Fadmin&email=b%40example.com', 'application/x-www-form-urlencoded'));
    expect(parsed).toEqual({ kind: 'form', fields: { email: 'a@example.com', password: 'p w&x', next: '/admin' } });
  });

  it('decodes base64 bodies as Netlify delivers binary-safe requests', () => {
    expect(parseBody(withBody('{"é":"ü"}', 'application/json', true)).fields).toEqual({ 'é': 'ü' });
    expect(parseBody(withBody('a=1&b=2', 'application/x-www-form-urlencoded', true)).fields).toEqual({ a: '1', b: '2' });
  });

  it('refuses JSON that is malformed or not an object', () => {
    for (const text of ['{"a":', 'null', '[1]', '"text"', '42', 'true', '{"a":1}x']) {
      expect(codeOf(() => parseBody(withBody(text, 'application/json'))), text).toBe('bad_request');
    }
  });

  it('refuses content types other than JSON and forms with 415', () => {
    for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml', '']) {
      expect(codeOf(() => parseBody(withBody('{"a":1}', type))), type).toBe('unsupported_media_type');
    }
  });

  it('refuses an empty body unless the endpoint allows one', () => {
    expect(codeOf(() => parseBody(withBody('', 'application/json')))).toBe('bad_request');
    expect(codeOf(() => parseBody(netlifyEvent()))).toBe('bad_request');
    expect(parseBody(netlifyEvent(), { allowEmpty: true })).toEqual({ kind: 'empty', fields: {} });
    expect(parseBody(withBody('', 'application/x-www-form-urlencoded'), { allowEmpty: true }).kind).toBe('form');
  });

  it('caps the body size, counting bytes after base64 decoding and before it', () => {
    const justFits = `{"a":"${'x'.repeat(MAX_BODY_BYTES - 8)}"}`;
    expect(Buffer.byteLength(justFits)).toBe(MAX_BODY_BYTES);
    expect(parseBody(withBody(justFits, 'application/json')).kind).toBe('json');
    const tooBig = `{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    expect(codeOf(() => parseBody(withBody(tooBig, 'application/json')))).toBe('payload_too_large');
    expect(codeOf(() => parseBody(withBody(tooBig, 'application/json', true)))).toBe('payload_too_large');
    // Multi-byte characters count as the bytes they are.
    const wide = `{"a":"${'é'.repeat(MAX_BODY_BYTES / 2)}"}`;
    expect(codeOf(() => parseBody(withBody(wide, 'application/json')))).toBe('payload_too_large');
    // A huge body is refused on its length alone, whatever its type.
    expect(codeOf(() => parseBody(withBody('x'.repeat(10 * MAX_BODY_BYTES), 'text/plain')))).toBe('payload_too_large');
  });

  it('refuses a body flagged base64 that is not base64', () => {
    const lying = netlifyEvent({ headers: { 'content-type': 'application/json' }, body: '{"a": 1}', isBase64Encoded: true });
    expect(codeOf(() => parseBody(lying))).toBe('bad_request');
  });

  it('does not let JSON keys reach Object.prototype', () => {
    const parsed = parseBody(withBody('{"__proto__":{"polluted":true},"email":"a"}', 'application/json'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parsed.fields.email).toBe('a');
  });
});

describe('reading headers, cookies and the client address', () => {
  it('finds headers whatever their case', () => {
    const e = netlifyEvent({ headers: { 'Content-Type': 'application/json', origin: 'https://site.example' } });
    expect(header(e, 'content-type')).toBe('application/json');
    expect(header(e, 'ORIGIN')).toBe('https://site.example');
    expect(header(e, 'referer')).toBeUndefined();
  });

  it('parses cookies and survives a malformed Cookie header', () => {
    expect(cookiesOf(netlifyEvent({ headers: { cookie: 'nf_jwt=abc; rolegate_session=%7B%7D' } }))).toEqual({ nf_jwt: 'abc', rolegate_session: '{}' });
    expect(cookiesOf(netlifyEvent({ headers: { cookie: ';;=;%%%' } }))).toBeTypeOf('object');
    expect(cookiesOf(netlifyEvent())).toEqual({});
  });

  it("takes the client address from Netlify's header first, then client-ip, then the first x-forwarded-for hop", () => {
    const ip = (headers: Record<string, string>) => clientIp(netlifyEvent({ headers }));
    expect(ip({ 'x-nf-client-connection-ip': '203.0.113.1', 'client-ip': '198.51.100.2', 'x-forwarded-for': '192.0.2.3' })).toBe('203.0.113.1');
    expect(ip({ 'client-ip': '198.51.100.2', 'x-forwarded-for': '192.0.2.3' })).toBe('198.51.100.2');
    expect(ip({ 'x-forwarded-for': ' 192.0.2.3 , 10.0.0.1' })).toBe('192.0.2.3');
    expect(ip({})).toBe('unknown');
    expect(ip({ 'x-forwarded-for': 'x'.repeat(500) }).length).toBeLessThanOrEqual(64);
  });
});

describe('method and origin checks', () => {
  it('refuses other methods with the allowed ones listed', () => {
    try {
      requireMethod(netlifyEvent({ httpMethod: 'PUT' }), ['GET', 'POST']);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe('method_not_allowed');
      expect((error as AuthError).allow).toEqual(['GET', 'POST']);
    }
    expect(codeOf(() => requireMethod(netlifyEvent({ httpMethod: 'POST' }), ['POST']))).toBeUndefined();
  });

  it('accepts only an exact allow-listed Origin (CSRF)', () => {
    const allowed = ['https://site.example', 'https://app.example.com'];
    const check = (origin?: string) => codeOf(() => requireSameOrigin(netlifyEvent({ headers: origin === undefined ? {} : { origin } }), allowed));
    expect(check('https://site.example')).toBeUndefined();
    expect(check('HTTPS://SITE.EXAMPLE')).toBeUndefined();
    expect(check('https://app.example.com')).toBeUndefined();
    for (const origin of [undefined, '', 'null', 'https://evil.example', 'https://site.example.evil.example', 'http://site.example', 'https://site.example:8443', 'https://evil-site.example']) {
      expect(check(origin), String(origin)).toBe('bad_origin');
    }
  });
});

describe('form posts and JSON clients', () => {
  it('answers a form post with redirects and a JSON request with JSON', () => {
    expect(wantsRedirects(netlifyEvent(), { kind: 'form', fields: {} })).toBe(true);
    expect(wantsRedirects(netlifyEvent(), { kind: 'json', fields: {} })).toBe(false);
    expect(wantsRedirects(netlifyEvent({ headers: { accept: 'text/html,application/xhtml+xml' } }), { kind: 'empty', fields: {} })).toBe(true);
    expect(wantsRedirects(netlifyEvent({ headers: { accept: 'application/json' } }), { kind: 'empty', fields: {} })).toBe(false);
  });
});
