import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { RolegateError } from '../core/rolegate-error.js';

/** Netlify's default functions directory, used when netlify.toml names none. */
export const DEFAULT_FUNCTIONS_DIR = 'netlify/functions';

/** What rolegate reads from a site's netlify.toml. */
export interface NetlifyTomlFacts {
  /** The file's text, or null when the site has none. */
  text: string | null;
  publish?: string;
  functions: string;
  command?: string;
  /** The `package` of every `[[plugins]]` entry. */
  plugins: string[];
  /** The `[dev]` jwtSecret, when set. */
  devJwtSecret?: string;
}

export class NetlifyTomlError extends RolegateError {
  readonly code = 'netlify_toml_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'NetlifyTomlError';
  }
}

function stringAt(table: unknown, key: string): string | undefined {
  const value = table && typeof table === 'object' ? (table as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

/** Parses netlify.toml text; a malformed file is a NetlifyTomlError naming the line. */
export function parseNetlifyToml(text: string | null): NetlifyTomlFacts {
  if (text === null) return { text, functions: DEFAULT_FUNCTIONS_DIR, plugins: [] };
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (error) {
    const where = error instanceof TomlError ? ` (line ${error.line}, column ${error.column})` : '';
    throw new NetlifyTomlError(`netlify.toml is not valid TOML${where}: fix it, then run this again`);
  }
  const build = doc.build;
  const functionsTable = doc.functions;
  const plugins = Array.isArray(doc.plugins) ? doc.plugins.map((p) => stringAt(p, 'package')).filter((p): p is string => Boolean(p)) : [];
  const publish = stringAt(build, 'publish');
  const command = stringAt(build, 'command');
  const devJwtSecret = stringAt(doc.dev, 'jwtSecret');
  return {
    text,
    ...(publish ? { publish } : {}),
    functions: stringAt(build, 'functions') ?? stringAt(functionsTable, 'directory') ?? DEFAULT_FUNCTIONS_DIR,
    ...(command ? { command } : {}),
    plugins,
    ...(devJwtSecret ? { devJwtSecret } : {}),
  };
}

/** The site's netlify.toml facts (defaults when it has none). */
export function readNetlifyToml(siteRoot: string): NetlifyTomlFacts {
  let text: string | null = null;
  try {
    text = readFileSync(join(siteRoot, 'netlify.toml'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return parseNetlifyToml(text);
}
