import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { HandlerEvent } from '@netlify/functions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readConfig } from '../../src/core/environment.js';
import { Secret } from '../../src/core/secret.js';
import { mailBackgroundHandler, mailDeliveryRuntime, mailScheduledHandler, mailTransportFor } from '../../src/mail/handlers.js';
import { kickMailDelivery } from '../../src/mail/kick.js';
import { kickProof } from '../../src/mail/kick-proof.js';
import { generatedFunctionSource } from '../../src/gates/functions-build.js';
import { sealMailSecret } from '../../src/mail/seal.js';
import type { Store } from '../../src/store/store.js';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp-capture.js';

const JWT_SECRET = 'mail-handler-tests-jwt-secret-0123456789';
let smtp: SmtpCapture;
beforeAll(async () => {
  smtp = await startSmtpCapture();
});
afterAll(async () => {
  await smtp.stop();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** A POST to mail-background with the given headers, as Netlify hands it over (names in lower case). */
const postWith = (headers: Record<string, string>) => ({ httpMethod: 'POST', headers, body: null }) as unknown as HandlerEvent;
/** The POST rolegate's own kick sends. */
const post = () => postWith({ 'x-rolegate-kick': kickProof({ secret: new Secret(JWT_SECRET), unixSeconds: nowSeconds() }) });

async function queueRecovery(store: Store, email: string) {
  await store.createUser({ email, passwordHash: null });
  const token = randomBytes(32).toString('base64url');
  const url = `https://site.example/verify?token=${token}`;
  await store.requestAccountMail({
    purpose: 'recovery', email, tokenHash: createHash('sha256').update(token).digest('hex'), ttlSeconds: 3600,
    sealed: sealMailSecret(new Secret(JWT_SECRET), JSON.stringify({ url, token })),
    throttle: { windowSeconds: 3600, keys: [{ key: `mail:address:${email}`, maxFailures: 10 }] },
  });
  return url;
}

describe('the mail-background function', () => {
  it('delivers what is due through SMTP_URL from MAIL_FROM and answers the counts', async () => {
    const deps = mailDeliveryRuntime({ JWT_SECRET, SITE_URL: 'https://site.example', ROLEGATE_DATA_DIR: 'memory://', SMTP_URL: smtp.url, MAIL_FROM: 'Site <mail@site.example>' });
    const store = deps.store as Store;
    try {
      const url = await queueRecovery(store, 'handler@example.com');
      const response = await mailBackgroundHandler(deps)(post());
      expect(response).toMatchObject({ statusCode: 200 });
      expect(JSON.parse(response.body!)).toEqual({ sent: 1, retrying: 0, failed: 0 });
      expect(smtp.to('handler@example.com')).toMatchObject([{ from: 'mail@site.example' }]);
      expect(smtp.to('handler@example.com')[0]!.text).toContain(url);
      expect((await mailBackgroundHandler(deps)({ ...post(), httpMethod: 'GET' })).statusCode).toBe(405);
    } finally {
      await store.close();
    }
  });

  it('is started by the kick a request sends, which proves itself with a header', async () => {
    const deps = mailDeliveryRuntime({ JWT_SECRET, SITE_URL: 'https://site.example', ROLEGATE_DATA_DIR: 'memory://', SMTP_URL: smtp.url });
    const store = deps.store as Store;
    try {
      await queueRecovery(store, 'kicked@example.com');
      const answers: number[] = [];
      // The kick's request, handed to the function as Netlify would hand it over.
      const viaNetlify = (async (url: URL, init: RequestInit) => {
        const response = await mailBackgroundHandler(deps)({ httpMethod: init.method, path: url.pathname, headers: Object.fromEntries(new Headers(init.headers)), body: null } as unknown as HandlerEvent);
        answers.push(response.statusCode);
        return new Response(null, { status: 202 });
      }) as unknown as typeof fetch;
      await kickMailDelivery('https://site.example', { secret: new Secret(JWT_SECRET), fetchImpl: viaNetlify, timeoutMs: 5000 });
      expect(answers).toEqual([200]);
      expect(smtp.to('kicked@example.com')).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('accepts a kick signed under JWT_SECRET_PREVIOUS while the secret is rotated', async () => {
    const PREVIOUS = 'mail-handler-tests-previous-secret-0123456789';
    const deps = mailDeliveryRuntime({ JWT_SECRET, JWT_SECRET_PREVIOUS: PREVIOUS, SITE_URL: 'https://site.example', ROLEGATE_DATA_DIR: 'memory://', SMTP_URL: smtp.url });
    const store = deps.store as Store;
    try {
      const response = await mailBackgroundHandler(deps)(postWith({ 'x-rolegate-kick': kickProof({ secret: new Secret(PREVIOUS), unixSeconds: nowSeconds() }) }));
      expect(response.statusCode).toBe(200);
    } finally {
      await store.close();
    }
  });

  describe('refuses a POST that is not the kick, and claims nothing from the outbox', () => {
    const now = nowSeconds();
    const hmacOf = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest('hex');
    const refused: [string, Record<string, string>][] = [
      ['an unsigned POST', {}],
      ['an empty proof', { 'x-rolegate-kick': '' }],
      ['a proof without its MAC', { 'x-rolegate-kick': String(now) }],
      ['a proof from six minutes ago', { 'x-rolegate-kick': kickProof({ secret: new Secret(JWT_SECRET), unixSeconds: now - 360 }) }],
      ['a proof from six minutes ahead', { 'x-rolegate-kick': kickProof({ secret: new Secret(JWT_SECRET), unixSeconds: now + 360 }) }],
      ['a proof under another secret', { 'x-rolegate-kick': kickProof({ secret: new Secret('someone-elses-secret-0123456789abcdef'), unixSeconds: now }) }],
      ['a MAC keyed by JWT_SECRET itself', { 'x-rolegate-kick': `${now}.${hmacOf(JWT_SECRET, `mail-kick:${now}`)}` }],
      ['a fresh time on an old MAC', { 'x-rolegate-kick': `${now}.${kickProof({ secret: new Secret(JWT_SECRET), unixSeconds: now - 1 }).split('.')[1]}` }],
      ['a MAC with one digit changed', { 'x-rolegate-kick': kickProof({ secret: new Secret(JWT_SECRET), unixSeconds: now }).replace(/.$/u, (c) => (c === '0' ? '1' : '0')) }],
      ['a MAC in upper case', { 'x-rolegate-kick': kickProof({ secret: new Secret(JWT_SECRET), unixSeconds: now }).toUpperCase() }],
    ];
    // One outbox for every case: each must leave its mail unclaimed.
    let runtime: ReturnType<typeof mailDeliveryRuntime>;
    let store: Store;
    const email = 'not-kicked@example.com';
    beforeAll(async () => {
      runtime = mailDeliveryRuntime({ JWT_SECRET, SITE_URL: 'https://site.example', ROLEGATE_DATA_DIR: 'memory://', SMTP_URL: smtp.url });
      store = runtime.store as Store;
      await queueRecovery(store, email);
    });
    afterAll(async () => {
      await store.close();
    });

    it.each(refused)('%s', async (_name, headers) => {
      const claimMail = vi.fn(store.claimMail.bind(store));
      const response = await mailBackgroundHandler({ ...runtime, store: { claimMail, finishMail: store.finishMail.bind(store) } })(postWith(headers));
      expect(response.statusCode).toBe(403);
      expect(JSON.parse(response.body!)).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
      expect(claimMail).not.toHaveBeenCalled();
      expect(smtp.to(email)).toEqual([]);
      expect(await store.listMail({ limit: 10 })).toMatchObject([{ attempts: 0, sentAt: null }]);
    });
  });

  it('fails its cold start on a bad environment, naming the variable', () => {
    expect(() => mailDeliveryRuntime({ JWT_SECRET, SMTP_URL: 'http://not-smtp.example' })).toThrow(/SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/);
  });
});

describe('the mail-scheduled function', () => {
  it('is generated as a Netlify scheduled function that runs every five minutes', () => {
    const source = generatedFunctionSource('mail-scheduled', { gates: [] });
    expect(source).toContain("import { handlerFor } from 'rolegate/functions/mail-scheduled';\nexport default handlerFor(");
    expect(source.endsWith('export const config = { schedule: "*/5 * * * *" };\n')).toBe(true);
  });

  it('sends the mail that waited for a retry once the mail server is back, with no new request', async () => {
    const deps = mailDeliveryRuntime({ JWT_SECRET, SITE_URL: 'https://site.example', ROLEGATE_DATA_DIR: 'memory://', SMTP_URL: smtp.url }, undefined, 5000);
    const store = deps.store as Store;
    try {
      await queueRecovery(store, 'scheduled@example.com');
      smtp.refuse('scheduled@example.com', 451);
      expect(JSON.parse((await mailBackgroundHandler(deps)(post())).body!)).toEqual({ sent: 0, retrying: 1, failed: 0 });
      smtp.accept('scheduled@example.com');
      // The retry's time has come (moved in the store rather than waited for).
      await store.retryMail();
      expect((await mailScheduledHandler(deps)(new Request('https://site.example/.netlify/functions/mail-scheduled'))).status).toBe(204);
      expect(smtp.to('scheduled@example.com')).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});

describe('the transport the environment gives', () => {
  const env = { JWT_SECRET, SITE_URL: 'https://site.example' };
  const mail = { from: 'a@site.example', to: 'b@example.com', subject: 'Reset your password', text: 'Open https://site.example/verify?token=abc.\n\nhttps://site.example\n', html: '' };

  it('without SMTP_URL, ROLEGATE_DEV_MAIL=terminal prints one line with the recipient, subject and links', async () => {
    const lines: string[] = [];
    await mailTransportFor({ ...env, ROLEGATE_DEV_MAIL: 'terminal' }, readConfig(env).mail, (line) => lines.push(line)).send(mail);
    expect(lines).toEqual(['rolegate mail to b@example.com: Reset your password — https://site.example/verify?token=abc https://site.example']);
  });

  it('without either, sending fails for now with "SMTP_URL is not set"', async () => {
    await expect(mailTransportFor(env, readConfig(env).mail).send(mail)).rejects.toMatchObject({ permanent: false, message: 'SMTP_URL is not set' });
  });
});
