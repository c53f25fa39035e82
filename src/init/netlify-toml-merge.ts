import { isDeepStrictEqual } from 'node:util';
import { parse } from 'smol-toml';

/**
 * rolegate's lines in a site's netlify.toml, merged as text so the site's own formatting and
 * comments stay: a table rolegate needs is appended when missing, a key it needs is inserted
 * under the table's header when the table exists without it. Nothing the site wrote is changed.
 *
 * Text edits can go wrong in files they do not understand (a `[functions]` line inside a
 * multi-line string, an inline `plugins = [...]` array that a `[[plugins]]` table would clash
 * with), so every edit is checked: the edited file, parsed, must equal the file before it plus
 * exactly that edit's keys. An edit that fails the check is not made; it becomes a manual step.
 */

/** Modules the generated functions must load from node_modules rather than from the bundle. */
export const EXTERNAL_NODE_MODULES = ['pg', '@supabase/postgrest-js', 'bcryptjs'] as const;

export interface TomlNeeds {
  /** Written into a new [build] table only (an existing site's build settings are its own). */
  publish?: string;
  devJwtSecret: string;
}

export interface TomlMerge {
  text: string;
  /** One line per change, for the plan. */
  changes: string[];
  /** What init would not do itself: the user adds it by hand. */
  manual: string[];
}

type Doc = Record<string, unknown>;

const tableOf = (doc: Doc, name: string): Doc | undefined => {
  const value = doc[name];
  return value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) ? (value as Doc) : undefined;
};

/** Inserts `lines` right under the `[name]` header line, or returns null when the header is not a plain one. */
function insertUnderHeader(text: string, name: string, lines: string[]): string | null {
  const header = new RegExp(`^[ \\t]*\\[${name.replace('.', '\\.')}\\][ \\t]*(#.*)?$`, 'm');
  const match = header.exec(text);
  if (!match) return null;
  const end = match.index + match[0].length;
  return `${text.slice(0, end)}\n${lines.map((l) => `  ${l}`).join('\n')}${text.slice(end)}`;
}

function append(text: string, block: string): string {
  const base = text === '' ? '' : text.endsWith('\n') ? text : `${text}\n`;
  return `${base}${base ? '\n' : ''}${block}\n`;
}

const tomlString = (value: string) => JSON.stringify(value);

/** Parsed TOML as plain data (smol-toml gives null-prototype objects and TomlDate values), to compare. */
function plain(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function parsedOrNull(text: string): Doc | null {
  try {
    return plain(parse(text)) as Doc;
  } catch {
    return null;
  }
}

export function mergeNetlifyToml(existing: string | null, needs: TomlNeeds): TomlMerge {
  let text = existing ?? '';
  const changes: string[] = [];
  const manual: string[] = [];
  // The caller has parsed the file already (a broken one is refused before the plan).
  let doc = plain(existing ? parse(existing) : {}) as Doc;

  /**
   * Makes one edit when it is faithful: `edit` gives the new text (null: it cannot be made as
   * text), `expect` applies the same keys to the parsed document. Otherwise `byHand` is the step.
   */
  const edit = (change: string, byHand: string, makeText: () => string | null, expect: (doc: Doc) => void) => {
    const edited = makeText();
    const expected = structuredClone(doc);
    expect(expected);
    const reread = edited === null ? null : parsedOrNull(edited);
    if (edited !== null && reread && isDeepStrictEqual(reread, expected)) {
      text = edited;
      doc = reread;
      changes.push(change);
    } else {
      manual.push(byHand);
    }
  };

  if (!tableOf(doc, 'build') && needs.publish !== undefined) {
    const line = `publish = ${tomlString(needs.publish)}`;
    // A new [build] table at the end: the key then belongs to it, whatever table the file ended with.
    edit(`[build] ${line}`, `add to netlify.toml: [build] ${line}`, () => append(text, `[build]\n  ${line}`), (d) => {
      d.build = { publish: needs.publish };
    });
  }

  const plugins = Array.isArray(doc.plugins) ? (doc.plugins as Doc[]) : [];
  if (!plugins.some((p) => p && p.package === 'rolegate')) {
    edit(
      '[[plugins]] package = "rolegate" (the build plugin)',
      'add rolegate\'s build plugin to netlify.toml: a [[plugins]] entry with package = "rolegate" (or { package = "rolegate" } in your plugins list)',
      () => append(text, '# Checks the environment, then builds the gates and the auth functions after the site\'s build.\n[[plugins]]\n  package = "rolegate"'),
      (d) => {
        d.plugins = [...(Array.isArray(d.plugins) ? d.plugins : []), { package: 'rolegate' }];
      },
    );
  }

  const functions = tableOf(doc, 'functions');
  const externals = `external_node_modules = ${JSON.stringify(EXTERNAL_NODE_MODULES).replace(/,/g, ', ')}`;
  const functionsComment = '# rolegate: its database drivers load from node_modules, not from the bundle.';
  if (!functions) {
    edit(
      '[functions] node_bundler = "esbuild", external_node_modules for rolegate\'s database drivers',
      `add to netlify.toml: [functions] node_bundler = "esbuild"; ${externals}`,
      () => (doc.functions === undefined ? append(text, `[functions]\n  ${functionsComment}\n  node_bundler = "esbuild"\n  ${externals}`) : null),
      (d) => {
        d.functions = { node_bundler: 'esbuild', external_node_modules: [...EXTERNAL_NODE_MODULES] };
      },
    );
  } else {
    const have = Array.isArray(functions.external_node_modules) ? (functions.external_node_modules as unknown[]) : undefined;
    const lines: string[] = [];
    const keys: Doc = {};
    if (functions.node_bundler === undefined) {
      lines.push('node_bundler = "esbuild"');
      keys.node_bundler = 'esbuild';
    }
    if (have === undefined && functions.external_node_modules === undefined) {
      lines.push(externals);
      keys.external_node_modules = [...EXTERNAL_NODE_MODULES];
    }
    const missing = have ? EXTERNAL_NODE_MODULES.filter((m) => !have.includes(m)) : [];
    if (lines.length) {
      edit(`[functions] ${lines.join(', ')}`, `add to the [functions] settings of netlify.toml: ${lines.join('; ')}`, () => insertUnderHeader(text, 'functions', [functionsComment, ...lines]), (d) => {
        Object.assign(d.functions as Doc, keys);
      });
    }
    if (functions.external_node_modules !== undefined && !have) manual.push(`set [functions] ${externals} in netlify.toml (it is not a list now)`);
    if (missing.length) manual.push(`add ${missing.map((m) => JSON.stringify(m)).join(', ')} to [functions] external_node_modules in netlify.toml`);
    if (functions.node_bundler !== undefined && functions.node_bundler !== 'esbuild') manual.push('set [functions] node_bundler = "esbuild" in netlify.toml (rolegate\'s functions are ES modules)');
  }

  const dev = tableOf(doc, 'dev');
  const devComment = '# DEV ONLY, generated by rolegate init: what rolegate dev signs local tokens with. Never the production secret.';
  const secretLine = `jwtSecret = ${tomlString(needs.devJwtSecret)}`;
  const rolePathLine = 'jwtRolePath = "app_metadata.authorization.roles"';
  const byHandSecret = 'add a [dev] jwtSecret (a random value of 32+ characters, local only) to netlify.toml';
  if (!dev) {
    edit(
      '[dev] jwtSecret (generated, local only) and jwtRolePath',
      `${byHandSecret}, and [dev] ${rolePathLine}`,
      () => (doc.dev === undefined ? append(text, `[dev]\n  ${devComment}\n  ${secretLine}\n  ${rolePathLine}`) : null),
      (d) => {
        d.dev = { jwtSecret: needs.devJwtSecret, jwtRolePath: 'app_metadata.authorization.roles' };
      },
    );
  } else if (dev.jwtSecret === undefined) {
    const withRolePath = dev.jwtRolePath === undefined;
    edit('[dev] jwtSecret (generated, local only)', byHandSecret, () => insertUnderHeader(text, 'dev', [devComment, secretLine, ...(withRolePath ? [rolePathLine] : [])]), (d) => {
      Object.assign(d.dev as Doc, { jwtSecret: needs.devJwtSecret, ...(withRolePath ? { jwtRolePath: 'app_metadata.authorization.roles' } : {}) });
    });
  }

  return { text, changes, manual };
}
