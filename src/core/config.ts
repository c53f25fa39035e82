import { z } from 'zod';
import { Secret } from './secret.js';
import { checkCookieDomain } from './cookie-domain.js';

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
}

export interface Config {
  auth: AuthConfig;
  database: DatabaseConfig;
}

export type Env = Record<string, string | undefined>;

/** Thrown when the environment is unusable; the message lists every bad variable and never a value. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: string[]) {
    super(`rolegate configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_DATA_DIR = '.rolegate/data';
const DEFAULT_SITE_URL = 'http://localhost:8888';

const integer = (min: number, max: number, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }))
    .optional()
    .transform((v) => v ?? fallback);

const secret = (minBytes: number) =>
  z
    .string()
    .refine((v) => Buffer.byteLength(v, 'utf8') >= minBytes, {
      message: `must be at least ${minBytes} bytes (generate one with: openssl rand -base64 48)`,
    })
    .transform((v) => new Secret(v));

const httpUrl = z
  .string()
  .trim()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
    message: 'must be an absolute http(s) URL',
  });

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => URL.canParse(v) && /^postgres(ql)?:$/.test(new URL(v).protocol), {
    message: 'must be a postgres:// or postgresql:// connection string',
  })
  .transform((v) => new Secret(v));

const authSchema = z.object({
  JWT_SECRET: z.string({ message: 'is required' }).pipe(secret(32)),
  JWT_SECRET_PREVIOUS: secret(32).optional(),
  JWT_ISSUER: z.string().trim().min(1, { message: 'must not be empty' }).optional(),
  ACCESS_TOKEN_TTL_SECONDS: integer(5, 86_400, 900),
  REFRESH_TOKEN_TTL_SECONDS: integer(60, 31_536_000, 2_592_000),
  REFRESH_GRACE_SECONDS: integer(0, 300, 10),
  SITE_URL: httpUrl.optional(),
  URL: httpUrl.optional(),
  COOKIE_DOMAIN: z.string().trim().min(1).optional(),
  ALLOWED_ORIGINS: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((list) => list.every((o) => URL.canParse(o) && new URL(o).origin === o.replace(/\/$/, '').toLowerCase()), {
      message: 'must be a comma-separated list of origins such as https://app.example.com',
    })
    .optional(),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: integer(1, 1000, 5),
  LOGIN_MAX_FAILURES_PER_IP: integer(1, 100_000, 50),
  LOGIN_THROTTLE_WINDOW_SECONDS: integer(1, 86_400, 900),
  BCRYPT_COST: integer(10, 15, 11),
  TOKEN_FINGERPRINT: z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).optional(),
});

const databaseSchema = z.object({
  SUPABASE_URL: httpUrl.optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(20, { message: 'does not look like a service role key' }).transform((v) => new Secret(v)).optional(),
  DATABASE_URL: postgresUrl.optional(),
  NETLIFY_DB_URL: postgresUrl.optional(),
  ROLEGATE_DATA_DIR: z.string().trim().min(1).optional(),
  DB_TIMEOUT_MS: integer(100, 120_000, 5000),
});

/** Empty strings count as unset, as they do in Netlify's UI and most .env loaders. */
function present(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

function describe(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const name = issue.path.join('.') || 'environment';
    return `${name} ${issue.message}`;
  });
}

function databaseFrom(db: z.infer<typeof databaseSchema>): { value?: DatabaseConfig; problems: string[] } {
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
  const parsed = databaseSchema.safeParse(present(env));
  if (!parsed.success) throw new ConfigError(describe(parsed.error));
  const { value, problems } = databaseFrom(parsed.data);
  if (!value) throw new ConfigError(problems);
  return value;
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
  const problems: string[] = [];
  const auth = authSchema.safeParse(vars);
  if (!auth.success) problems.push(...describe(auth.error));
  const db = databaseSchema.safeParse(vars);
  let database: DatabaseConfig | undefined;
  if (!db.success) problems.push(...describe(db.error));
  else {
    const chosen = databaseFrom(db.data);
    problems.push(...chosen.problems);
    database = chosen.value;
  }
  let authConfig: AuthConfig | undefined;
  if (auth.success) {
    const a = auth.data;
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
    };
  }
  if (problems.length || !authConfig || !database) throw new ConfigError(problems);
  return { auth: authConfig, database };
}
