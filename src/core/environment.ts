import { Secret } from './secret.js';
import { checkCookieDomain } from './cookie-domain.js';
import { RolegateError } from './rolegate-error.js';

/** Where the users live. Exactly one is chosen from the environment. */
export type DatabaseConfig =
  | { kind: 'supabase'; url: string; serviceRoleKey: Secret; timeoutMs: number }
  | { kind: 'postgres'; connectionString: Secret; source: 'DATABASE_URL' | 'NETLIFY_DB_URL'; timeoutMs: number }
  | { kind: 'embedded'; dataDir: string };

export interface AuthConfig {
  jwtSecret: Secret;
  /** Accepted when verifying, never used to sign: lets a secret be rotated without signing everyone out. */
  jwtSecretPrevious?: Secret;
  jwtIssuer: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  refreshGraceSeconds: number;
  siteUrl: URL;
  cookieDomain?: string;
  /** Origins whose POSTs are accepted: the site's own, plus ALLOWED_ORIGINS (subdomain SSO). */
  allowedOrigins: string[];
  loginMaxFailuresPerAccount: number;
  loginMaxFailuresPerIp: number;
  loginThrottleWindowSeconds: number;
  bcryptCost: number;
  /** OWASP token-sidejacking defence: tokens are bound to an HttpOnly fingerprint cookie. */
  tokenFingerprint: boolean;
  /** ROLES_FROM_IDENTITY=on: add the roles Netlify Identity gives the same address (the mirror) at login and refresh. */
  rolesFromIdentity?: boolean;
  /**
   * IDENTITY_URL: the site's Netlify Identity (`https://<site>/.netlify/identity`). A login for an
   * address rolegate does not know is checked there, and on success the user moves here. https
   * only (plain http only to a loopback host): the password of that login is sent to it.
   */
  identityUrl?: string;
  /**
   * IDENTITY_LOGIN_BUDGET_MS: how long every failed login takes while IDENTITY_URL is set. Identity
   * gets the first half of it; the hash and the database get the rest, so a hung Identity does not
   * make a failure slower than the others.
   */
  identityLoginBudgetMs: number;
}

/** How mail leaves: SMTP_URL, MAIL_FROM, and the limits on requests that send one. */
export interface MailConfig {
  /** SMTP_URL (smtp:// or smtps://, user and password inside): unset means mail waits in the outbox, or is printed under `rolegate dev`. */
  smtpUrl?: Secret;
  /** MAIL_FROM: `Site <no-reply@example.com>` or a bare address; defaults to no-reply at the site's host. */
  from: string;
  /** MAIL_MAX_PER_ADDRESS / MAIL_MAX_PER_IP requests that mail someone, per MAIL_THROTTLE_WINDOW_SECONDS. */
  maxPerAddress: number;
  maxPerIp: number;
  throttleWindowSeconds: number;
}

export interface Config {
  auth: AuthConfig;
  database: DatabaseConfig;
  mail: MailConfig;
}

export type Env = Record<string, string | undefined>;

/** Thrown when the environment is unusable; the message lists every bad variable and never a value. */
export class ConfigError extends RolegateError {
  readonly code = 'config_invalid';
  constructor(readonly problems: string[]) {
    super(`rolegate configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_DATA_DIR = '.rolegate/data';
const DEFAULT_SITE_URL = 'http://localhost:8888';

// Hand-written checks rather than zod: every function checks its environment
// at cold start, and zod costs ~440 KB of bundle and ~30 ms of start-up there
// (BENCHMARKS.md, cold start). Each check returns the value or records a
// problem naming the variable, never its value.

/** Collects problems as `NAME message`, in the order the variables are checked. */
class Problems {
  readonly list: string[] = [];
  add(name: string, message: string): undefined {
    this.list.push(`${name} ${message}`);
    return undefined;
  }
}

function integer(env: Env, problems: Problems, name: string, min: number, max: number, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) return problems.add(name, 'must be a whole number') ?? fallback;
  const value = Number(raw);
  if (value < min) return problems.add(name, `must be at least ${min}`) ?? fallback;
  if (value > max) return problems.add(name, `must be at most ${max}`) ?? fallback;
  return value;
}

function secret(env: Env, problems: Problems, name: string, minBytes: number): Secret | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  if (Buffer.byteLength(raw, 'utf8') < minBytes) {
    return problems.add(name, `must be at least ${minBytes} bytes (generate one with: openssl rand -base64 48)`);
  }
  return new Secret(raw);
}

function nonEmpty(env: Env, problems: Problems, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined) return undefined;
  return raw ? raw : problems.add(name, 'must not be empty');
}

function httpUrl(env: Env, problems: Problems, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined) return undefined;
  if (URL.canParse(raw) && /^https?:$/.test(new URL(raw).protocol)) return raw;
  return problems.add(name, 'must be an absolute http(s) URL');
}

// Loopback hosts, the only ones IDENTITY_URL may reach over plain http (a stand-in or a tunnel
// on this machine); WHATWG URL writes IPv6 hosts in brackets.
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An https URL, or http to a loopback host: the passwords of a login travel to it. */
function httpsUrl(env: Env, problems: Problems, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined) return undefined;
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url?.protocol === 'https:' || (url?.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return raw;
  return problems.add(name, 'must be an absolute https URL (http only to localhost, 127.0.0.1 or [::1]): passwords are sent to it');
}

function postgresUrl(env: Env, problems: Problems, name: string): Secret | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined) return undefined;
  if (URL.canParse(raw) && /^postgres(ql)?:$/.test(new URL(raw).protocol)) return new Secret(raw);
  return problems.add(name, 'must be a postgres:// or postgresql:// connection string');
}

function origins(env: Env, problems: Problems, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const list = raw.split(',').map((o) => o.trim()).filter(Boolean);
  if (list.every((o) => URL.canParse(o) && new URL(o).origin === o.replace(/\/$/, '').toLowerCase())) return list;
  return problems.add(name, 'must be a comma-separated list of origins such as https://app.example.com');
}

function smtpUrl(env: Env, problems: Problems, name: string): Secret | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined) return undefined;
  if (URL.canParse(raw) && /^smtps?:$/.test(new URL(raw).protocol) && new URL(raw).hostname) return new Secret(raw);
  return problems.add(name, 'must be an smtp:// or smtps:// URL such as smtps://user:password@smtp.example.com:465');
}

const MAILBOX = /^[^\s@<>"]+@[^\s@<>"]+\.?[^\s@<>"]*$/u;

/** A bare address or `Display Name <address>`, with no line breaks (they would start new headers). */
function mailFrom(env: Env, problems: Problems, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined) return undefined;
  const named = /^([^<>\r\n]*)<([^<>\r\n]+)>$/u.exec(raw);
  const address = named ? named[2]!.trim() : raw;
  if (!/[\r\n]/u.test(raw) && MAILBOX.test(address)) return raw;
  return problems.add(name, 'must be an address such as no-reply@example.com or "Example <no-reply@example.com>"');
}

function onOff(env: Env, problems: Problems, name: string): 'on' | 'off' | undefined {
  const raw = env[name];
  if (raw === undefined || raw === 'on' || raw === 'off') return raw;
  return problems.add(name, 'must be "on" or "off"');
}

interface AuthVariables {
  JWT_SECRET?: Secret;
  JWT_SECRET_PREVIOUS?: Secret;
  JWT_ISSUER?: string;
  ACCESS_TOKEN_TTL_SECONDS: number;
  REFRESH_TOKEN_TTL_SECONDS: number;
  REFRESH_GRACE_SECONDS: number;
  SITE_URL?: string;
  URL?: string;
  COOKIE_DOMAIN?: string;
  ALLOWED_ORIGINS?: string[];
  LOGIN_MAX_FAILURES_PER_ACCOUNT: number;
  LOGIN_MAX_FAILURES_PER_IP: number;
  LOGIN_THROTTLE_WINDOW_SECONDS: number;
  BCRYPT_COST: number;
  TOKEN_FINGERPRINT?: 'on' | 'off';
  ROLES_FROM_IDENTITY?: 'on' | 'off';
  IDENTITY_URL?: string;
  IDENTITY_LOGIN_BUDGET_MS: number;
}

function authVariables(env: Env, problems: Problems): AuthVariables {
  const jwtSecret = secret(env, problems, 'JWT_SECRET', 32);
  if (env.JWT_SECRET === undefined) problems.add('JWT_SECRET', 'is required');
  return {
    JWT_SECRET: jwtSecret,
    JWT_SECRET_PREVIOUS: secret(env, problems, 'JWT_SECRET_PREVIOUS', 32),
    JWT_ISSUER: nonEmpty(env, problems, 'JWT_ISSUER'),
    ACCESS_TOKEN_TTL_SECONDS: integer(env, problems, 'ACCESS_TOKEN_TTL_SECONDS', 5, 86_400, 900),
    REFRESH_TOKEN_TTL_SECONDS: integer(env, problems, 'REFRESH_TOKEN_TTL_SECONDS', 60, 31_536_000, 2_592_000),
    REFRESH_GRACE_SECONDS: integer(env, problems, 'REFRESH_GRACE_SECONDS', 0, 300, 10),
    SITE_URL: httpUrl(env, problems, 'SITE_URL'),
    URL: httpUrl(env, problems, 'URL'),
    COOKIE_DOMAIN: nonEmpty(env, problems, 'COOKIE_DOMAIN'),
    ALLOWED_ORIGINS: origins(env, problems, 'ALLOWED_ORIGINS'),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: integer(env, problems, 'LOGIN_MAX_FAILURES_PER_ACCOUNT', 1, 1000, 5),
    LOGIN_MAX_FAILURES_PER_IP: integer(env, problems, 'LOGIN_MAX_FAILURES_PER_IP', 1, 100_000, 50),
    LOGIN_THROTTLE_WINDOW_SECONDS: integer(env, problems, 'LOGIN_THROTTLE_WINDOW_SECONDS', 1, 86_400, 900),
    BCRYPT_COST: integer(env, problems, 'BCRYPT_COST', 10, 15, 11),
    TOKEN_FINGERPRINT: onOff(env, problems, 'TOKEN_FINGERPRINT'),
    ROLES_FROM_IDENTITY: onOff(env, problems, 'ROLES_FROM_IDENTITY'),
    IDENTITY_URL: httpsUrl(env, problems, 'IDENTITY_URL'),
    IDENTITY_LOGIN_BUDGET_MS: integer(env, problems, 'IDENTITY_LOGIN_BUDGET_MS', 100, 10_000, 2000),
  };
}

function mailVariables(env: Env, problems: Problems) {
  return {
    SMTP_URL: smtpUrl(env, problems, 'SMTP_URL'),
    MAIL_FROM: mailFrom(env, problems, 'MAIL_FROM'),
    MAIL_MAX_PER_ADDRESS: integer(env, problems, 'MAIL_MAX_PER_ADDRESS', 1, 1000, 3),
    MAIL_MAX_PER_IP: integer(env, problems, 'MAIL_MAX_PER_IP', 1, 100_000, 30),
    MAIL_THROTTLE_WINDOW_SECONDS: integer(env, problems, 'MAIL_THROTTLE_WINDOW_SECONDS', 60, 86_400, 3600),
  };
}

interface DatabaseVariables {
  SUPABASE_URL?: string;
  SUPABASE_SERVICE_ROLE_KEY?: Secret;
  DATABASE_URL?: Secret;
  NETLIFY_DB_URL?: Secret;
  ROLEGATE_DATA_DIR?: string;
  DB_TIMEOUT_MS: number;
}

function databaseVariables(env: Env, problems: Problems): DatabaseVariables {
  const key = env.SUPABASE_SERVICE_ROLE_KEY;
  if (key !== undefined && key.length < 20) problems.add('SUPABASE_SERVICE_ROLE_KEY', 'does not look like a service role key');
  return {
    SUPABASE_URL: httpUrl(env, problems, 'SUPABASE_URL'),
    SUPABASE_SERVICE_ROLE_KEY: key !== undefined && key.length >= 20 ? new Secret(key) : undefined,
    DATABASE_URL: postgresUrl(env, problems, 'DATABASE_URL'),
    NETLIFY_DB_URL: postgresUrl(env, problems, 'NETLIFY_DB_URL'),
    ROLEGATE_DATA_DIR: nonEmpty(env, problems, 'ROLEGATE_DATA_DIR'),
    DB_TIMEOUT_MS: integer(env, problems, 'DB_TIMEOUT_MS', 100, 120_000, 5000),
  };
}

/** Empty strings count as unset, as they do in Netlify's UI and most .env loaders. */
function present(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

function databaseFrom(db: DatabaseVariables): { value?: DatabaseConfig; problems: string[] } {
  const problems: string[] = [];
  if (db.SUPABASE_URL && !db.SUPABASE_SERVICE_ROLE_KEY) problems.push('SUPABASE_SERVICE_ROLE_KEY is required when SUPABASE_URL is set');
  if (!db.SUPABASE_URL && db.SUPABASE_SERVICE_ROLE_KEY) problems.push('SUPABASE_URL is required when SUPABASE_SERVICE_ROLE_KEY is set');
  // Explicit choices; NETLIFY_DB_URL is not one of them because `netlify dev`
  // and Netlify DB hand it to every function whether the site asked or not.
  const explicit = [
    db.SUPABASE_URL && 'SUPABASE_URL',
    db.DATABASE_URL && 'DATABASE_URL',
    db.ROLEGATE_DATA_DIR && 'ROLEGATE_DATA_DIR',
  ].filter(Boolean);
  if (explicit.length > 1) problems.push(`${explicit.join(' and ')} are all set: choose one database`);
  if (problems.length) return { problems };
  if (db.SUPABASE_URL && db.SUPABASE_SERVICE_ROLE_KEY) {
    return { problems, value: { kind: 'supabase', url: db.SUPABASE_URL, serviceRoleKey: db.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: db.DB_TIMEOUT_MS } };
  }
  if (db.DATABASE_URL) {
    return { problems, value: { kind: 'postgres', connectionString: db.DATABASE_URL, source: 'DATABASE_URL', timeoutMs: db.DB_TIMEOUT_MS } };
  }
  if (!db.ROLEGATE_DATA_DIR && db.NETLIFY_DB_URL) {
    return { problems, value: { kind: 'postgres', connectionString: db.NETLIFY_DB_URL, source: 'NETLIFY_DB_URL', timeoutMs: db.DB_TIMEOUT_MS } };
  }
  return { problems, value: { kind: 'embedded', dataDir: db.ROLEGATE_DATA_DIR ?? DEFAULT_DATA_DIR } };
}

/**
 * Reads which database to use. The CLI needs only this slice (no JWT secret).
 *
 * @example
 * const db = readDatabaseConfig(process.env); // { kind: 'embedded', dataDir: '.rolegate/data' }
 */
export function readDatabaseConfig(env: Env): DatabaseConfig {
  const found = new Problems();
  const variables = databaseVariables(present(env), found);
  if (found.list.length) throw new ConfigError(found.list);
  const { value, problems } = databaseFrom(variables);
  if (!value) throw new ConfigError(problems);
  return value;
}

/** The settings of the Identity sync functions (src/sync), checked like the rest. */
export interface IdentitySyncEnv {
  /** IDENTITY_WEBHOOK_SECRET: unset means identity-webhook refuses everything. */
  webhookSecret?: Secret;
  /** IDENTITY_INSTANCE_ID: pins the webhook's `sub`. */
  instanceId?: string;
  webhookMaxAgeSeconds: number;
  /** How long the sinks get before Identity is answered; with the 1 s aftermath it stays under GoTrue's 5 s. */
  deadlineMs: number;
}

/**
 * Reads the Identity sync settings; throws ConfigError naming each bad variable.
 *
 * @example
 * readIdentitySyncEnv(process.env).deadlineMs; // 2500 unless IDENTITY_SYNC_DEADLINE_MS says otherwise
 */
export function readIdentitySyncEnv(env: Env): IdentitySyncEnv {
  const vars = present(env);
  const problems = new Problems();
  const result: IdentitySyncEnv = {
    webhookSecret: secret(vars, problems, 'IDENTITY_WEBHOOK_SECRET', 1),
    instanceId: nonEmpty(vars, problems, 'IDENTITY_INSTANCE_ID'),
    webhookMaxAgeSeconds: integer(vars, problems, 'IDENTITY_WEBHOOK_MAX_AGE_SECONDS', 10, 3600, 300),
    deadlineMs: integer(vars, problems, 'IDENTITY_SYNC_DEADLINE_MS', 100, 3500, 2500),
  };
  if (problems.list.length) throw new ConfigError(problems.list);
  return result;
}

/** The secrets an access token may be signed with: the current one, then the previous one during a rotation. */
export function verificationSecrets(auth: Pick<AuthConfig, 'jwtSecret' | 'jwtSecretPrevious'>): Secret[] {
  return auth.jwtSecretPrevious ? [auth.jwtSecret, auth.jwtSecretPrevious] : [auth.jwtSecret];
}

/**
 * Reads and checks the whole environment once. Every problem is reported
 * together, each naming its variable; no value is ever echoed back.
 *
 * @example
 * const config = readConfig(process.env);
 * config.auth.accessTokenTtlSeconds; // 900 unless ACCESS_TOKEN_TTL_SECONDS says otherwise
 */
export function readConfig(env: Env): Config {
  const vars = present(env);
  const authProblems = new Problems();
  const a = authVariables(vars, authProblems);
  const dbProblems = new Problems();
  const db = databaseVariables(vars, dbProblems);
  const mailProblems = new Problems();
  const m = mailVariables(vars, mailProblems);
  const problems = [...authProblems.list, ...dbProblems.list, ...mailProblems.list];
  let database: DatabaseConfig | undefined;
  if (!dbProblems.list.length) {
    const chosen = databaseFrom(db);
    problems.push(...chosen.problems);
    database = chosen.value;
  }
  let authConfig: AuthConfig | undefined;
  if (!authProblems.list.length && a.JWT_SECRET) {
    const siteUrl = new URL(a.SITE_URL ?? a.URL ?? DEFAULT_SITE_URL);
    if (a.COOKIE_DOMAIN) {
      const problem = checkCookieDomain(a.COOKIE_DOMAIN, siteUrl.hostname);
      if (problem) problems.push(`COOKIE_DOMAIN ${problem}`);
    }
    authConfig = {
      jwtSecret: a.JWT_SECRET,
      jwtSecretPrevious: a.JWT_SECRET_PREVIOUS,
      jwtIssuer: a.JWT_ISSUER ?? 'rolegate',
      accessTokenTtlSeconds: a.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: a.REFRESH_TOKEN_TTL_SECONDS,
      refreshGraceSeconds: a.REFRESH_GRACE_SECONDS,
      siteUrl,
      cookieDomain: a.COOKIE_DOMAIN?.replace(/^\./, '').toLowerCase(),
      allowedOrigins: [...new Set([siteUrl.origin, ...(a.ALLOWED_ORIGINS ?? []).map((o) => new URL(o).origin)])],
      loginMaxFailuresPerAccount: a.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      loginMaxFailuresPerIp: a.LOGIN_MAX_FAILURES_PER_IP,
      loginThrottleWindowSeconds: a.LOGIN_THROTTLE_WINDOW_SECONDS,
      bcryptCost: a.BCRYPT_COST,
      tokenFingerprint: a.TOKEN_FINGERPRINT === 'on',
      rolesFromIdentity: a.ROLES_FROM_IDENTITY === 'on',
      ...(a.IDENTITY_URL ? { identityUrl: a.IDENTITY_URL.replace(/\/+$/, '') } : {}),
      identityLoginBudgetMs: a.IDENTITY_LOGIN_BUDGET_MS,
    };
  }
  if (problems.length || !authConfig || !database) throw new ConfigError(problems);
  const mail: MailConfig = {
    ...(m.SMTP_URL ? { smtpUrl: m.SMTP_URL } : {}),
    from: m.MAIL_FROM ?? `no-reply@${authConfig.siteUrl.hostname}`,
    maxPerAddress: m.MAIL_MAX_PER_ADDRESS,
    maxPerIp: m.MAIL_MAX_PER_IP,
    throttleWindowSeconds: m.MAIL_THROTTLE_WINDOW_SECONDS,
  };
  return { auth: authConfig, database, mail };
}
