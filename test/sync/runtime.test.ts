/**
 * The sync functions' configuration: the identity section is checked when
 * the site is built (into the generated functions, like the gate table), the
 * environment at the first request; a mistake answers 503 not_configured
 * and the log names what to fix, never a secret.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileSiteConfig } from '../../src/site-config/compile.js';
import { prebuiltIdentityConfig } from '../../src/site-config/compiled.js';
import { identityEventHandler, identityWebhookHandler } from '../../src/sync/handlers.js';
import { syncRuntime } from '../../src/sync/runtime.js';
import { gotrueUser, payload, postEvent } from './fixtures.js';

const SECRET = 'sync-runtime-jwt-secret-0123456789abcdef';
// A PostgreSQL that is not there: the pool opens without connecting, and nothing here reaches it.
const env = { JWT_SECRET: SECRET, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', URL: 'http://localhost:1' };

afterEach(() => {
  vi.restoreAllMocks();
});

/** The identity settings as a deployed function reads them: from the table built for `built`, checked against `deployed`. */
function identityOf(built: Record<string, unknown>, deployed: Record<string, unknown> = built) {
  const prebuilt = compileSiteConfig({ gates: [], ...built });
  return () => prebuiltIdentityConfig({ gates: [], ...deployed }, prebuilt);
}

function captureLog(): string[] {
  const logged: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((line: unknown) => void logged.push(String(line)));
  return logged;
}

async function firstAnswer(identity: ReturnType<typeof identityOf>, environment: Record<string, string | undefined>) {
  const logged = captureLog();
  const handler = identityEventHandler('signup', syncRuntime(environment, identity));
  const r = await handler(postEvent(payload('signup', gotrueUser())));
  return { status: r.statusCode, body: JSON.parse(r.body ?? 'null'), log: logged.join('\n') };
}

describe('sync runtime configuration', () => {
  it('refuses a bad identity section when the site is built, naming the field', () => {
    expect(() => compileSiteConfig({ gates: [], identity: { roleRules: [{ emailDomains: ['@company.com'], roles: ['x'] }] } }))
      .toThrow(/identity\.roleRules\[0\]\.emailDomains\[0\] "@company\.com": must be a lower-case domain/);
  });

  it('answers 503 not_configured when the config changed since the build, saying what to run', async () => {
    const r = await firstAnswer(identityOf({}, { identity: { sinks: ['store'] } }), env);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_configured');
    expect(r.log).toMatch(/run "rolegate gates build"/);
  });

  it('names a missing JWT_SECRET and a missing Contentful variable', async () => {
    expect((await firstAnswer(identityOf({}), { ...env, JWT_SECRET: undefined })).log).toMatch(/JWT_SECRET is required/);
    const contentful = await firstAnswer(identityOf({ identity: { sinks: ['store', 'contentful'] } }), { ...env, CONTENTFUL_SPACE_ID: 'space' });
    expect(contentful.status).toBe(503);
    expect(contentful.log).toMatch(/CONTENTFUL_MANAGEMENT_TOKEN is required when "contentful" is among identity.sinks/);
  });

  it('refuses every webhook while IDENTITY_WEBHOOK_SECRET is unset, without leaking the JWT secret', async () => {
    const logged = captureLog();
    const handler = identityWebhookHandler(syncRuntime(env, identityOf({})));
    const r = await handler(postEvent(payload('login', gotrueUser()), { 'x-webhook-signature': 'x.y.z' }));
    expect(r.statusCode).toBe(503);
    expect(JSON.parse(r.body!).error.code).toBe('not_configured');
    expect(logged.join('\n')).toMatch(/IDENTITY_WEBHOOK_SECRET is not set/);
    expect(logged.join('\n')).not.toContain(SECRET);
  });

  it('names a deadline GoTrue would not wait for', async () => {
    const r = await firstAnswer(identityOf({}), { ...env, IDENTITY_SYNC_DEADLINE_MS: '4000' });
    expect(r.status).toBe(503);
    expect(r.log).toMatch(/IDENTITY_SYNC_DEADLINE_MS must be at most 3500/);
  });

  it('lets a login through, uncopied and logged, when the sync is misconfigured; sign-ups stay closed', async () => {
    const logged = captureLog();
    const stale = identityOf({}, { identity: { sinks: ['store'] } });
    const login = await identityEventHandler('login', syncRuntime(env, stale))(postEvent(payload('login', gotrueUser())));
    expect(login.statusCode).toBe(200);
    expect(JSON.parse(login.body!)).toEqual({});
    expect(logged.join('\n')).toMatch(/not configured, login not copied: .*run "rolegate gates build"/);
    const signup = await identityEventHandler('signup', syncRuntime(env, stale))(postEvent(payload('signup', gotrueUser())));
    expect(signup.statusCode).toBe(503);
  });
});
