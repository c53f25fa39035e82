import { mergeNetlifyToml } from './netlify-toml-merge.js';

/** What init read from the site (src/init/site-facts.ts). */
export interface SiteFacts {
  netlifyToml: string | null;
  gitignore: string | null;
  hasConfig: boolean;
  /** The publish directory netlify.toml names, or the framework's default, or "." / "public". */
  publishDir: string;
  /** Where the publish directory came from, for the plan. */
  publishFrom: string;
  /** The site has a build command: its publish directory is generated, so init writes no pages into it. */
  generatesPublishDir: boolean;
  /** Which of the page files exist (site-relative path → exists). */
  pageExists(path: string): boolean;
}

export interface Gate {
  path: string;
  roles: string[];
}

/** The pages init writes where the site has none (templates/pages/<name>.html); the admin page only where a gate holds it. */
export const PAGE_NAMES = ['login', '403', 'account', 'forgot-password', 'check-email', 'choose-password', 'signup', 'confirm', 'admin/users'] as const;

/** Where the admin page goes (the config's default `admin.page`). */
const ADMIN_PAGE = 'admin/users';

/**
 * The chosen gate that holds the admin page, if one does: the admin page and API are turned on
 * only then, for the `admin` role if that gate names it, else for the gate's own roles.
 */
export function adminPageGate(gates: readonly Gate[]): Gate | undefined {
  const page = `/${ADMIN_PAGE}`;
  return gates.find((g) => g.path === page || (g.path.endsWith('/*') && page.startsWith(g.path.slice(0, -1))));
}

function adminRoles(gate: Gate): string[] {
  return gate.roles.includes('admin') ? ['admin'] : gate.roles;
}
export type PageName = (typeof PAGE_NAMES)[number];

export interface InitAnswers {
  gates: Gate[];
  mode: 'edge' | 'redirects';
  publishDir: string;
  devJwtSecret: string;
  /** The page templates' contents, by page name. */
  pages: Record<PageName, string>;
}

export interface PlannedWrite {
  path: string;
  kind: 'create' | 'update';
  content: string;
  what: string;
  /** For an update: the file's text the content was computed from (written only while the file still has it). */
  basedOn?: string;
}

export interface InitPlan {
  writes: PlannedWrite[];
  kept: string[];
  manual: string[];
  nextSteps: string[];
}

/** Lines init keeps in .gitignore: local state that holds secrets or is generated at every build. */
export const GITIGNORE_LINES = ['.rolegate/', '.netlify/', '.env', 'netlify/edge-functions/rolegate-gate/'];

const joinPath = (dir: string, file: string) => (dir === '.' || dir === '' ? file : `${dir.replace(/\/+$/, '')}/${file}`);

function configText(answers: InitAnswers): string {
  const config = {
    $schema: './node_modules/rolegate/rolegate.config.schema.json',
    mode: answers.mode,
    gates: answers.gates,
    loginPage: '/login',
    forbiddenPage: '/403',
    publishDir: answers.publishDir,
  };
  const adminGate = adminPageGate(answers.gates);
  if (adminGate) Object.assign(config, { admin: { enabled: true, roles: adminRoles(adminGate) } });
  const gates = answers.gates.map((g) => `    ${JSON.stringify(g).replace(/,/g, ', ').replace(/":/g, '": ')}`).join(',\n');
  return JSON.stringify(config, null, 2).replace(/"gates": \[[\s\S]*?\n  \]/, `"gates": [\n${gates}\n  ]`) + '\n';
}

/** Everything init would do in a site, without doing it: the same plan for --dry-run and for a run. */
export function planInit(site: SiteFacts, answers: InitAnswers): InitPlan {
  const writes: PlannedWrite[] = [];
  const kept: string[] = [];
  const manual: string[] = [];

  if (site.hasConfig) kept.push('rolegate.config.json exists: left as it is');
  else writes.push({ path: 'rolegate.config.json', kind: 'create', content: configText(answers), what: `mode "${answers.mode}", gates ${answers.gates.map((g) => `${g.path} (${g.roles.join(', ')})`).join('; ')}` });

  // publish goes into a new [build] table when the file has none; a site's own [build] is left as it is.
  const toml = mergeNetlifyToml(site.netlifyToml, { publish: answers.publishDir, devJwtSecret: answers.devJwtSecret });
  if (toml.changes.length) {
    writes.push({ path: 'netlify.toml', content: toml.text, what: toml.changes.join('; '), ...(site.netlifyToml === null ? { kind: 'create' } : { kind: 'update', basedOn: site.netlifyToml }) });
  }
  else kept.push('netlify.toml already has rolegate\'s lines');
  manual.push(...toml.manual);

  const present = new Set((site.gitignore ?? '').split(/\r?\n/).map((l) => l.trim()));
  const missing = GITIGNORE_LINES.filter((l) => !present.has(l) && !present.has(l.replace(/\/$/, '')));
  if (missing.length) {
    const base = site.gitignore ?? '';
    const content = `${base}${base && !base.endsWith('\n') ? '\n' : ''}${base ? '\n' : ''}# rolegate: local database, netlify's local state, secrets, generated gate\n${missing.join('\n')}\n`;
    writes.push({ path: '.gitignore', content, what: missing.join(' '), ...(site.gitignore === null ? { kind: 'create' } : { kind: 'update', basedOn: site.gitignore }) });
  } else {
    kept.push('.gitignore already ignores rolegate\'s local files');
  }

  const adminOn = !site.hasConfig && adminPageGate(answers.gates) !== undefined;
  const pages = PAGE_NAMES.filter((name) => name !== ADMIN_PAGE || adminOn).map((name): [PageName, string[]] => [name, [`${name}.html`, `${name}/index.html`]]);
  if (site.generatesPublishDir) {
    const missingPages = pages.filter(([, files]) => !files.some((f) => site.pageExists(joinPath(answers.publishDir, f)))).map(([name]) => `/${name}`);
    if (missingPages.length) {
      manual.push(`add the pages ${missingPages.join(', ')} to your site's sources (its build makes ${answers.publishDir}/, so init writes nothing there); plain ones to start from are in node_modules/rolegate/templates/pages/`);
    }
  } else {
    for (const [name, files] of pages) {
      if (files.some((f) => site.pageExists(joinPath(answers.publishDir, f)))) kept.push(`the site has a /${name} page: left as it is`);
      else writes.push({ path: joinPath(answers.publishDir, `${name}.html`), kind: 'create', content: answers.pages[name], what: `a plain /${name} page to restyle` });
    }
  }

  const nextSteps = [
    'In Netlify\'s UI, Site configuration → Environment variables (scopes: Builds and Functions):',
    '  JWT_SECRET      a random value of 32+ bytes (openssl rand -base64 48)',
    '  DATABASE_URL    your PostgreSQL (or SUPABASE_URL with SUPABASE_SERVICE_ROLE_KEY)',
    ...(answers.mode === 'redirects' ? ['  and Site configuration → Access & security → Visitor access → JWT secret: the same value as JWT_SECRET'] : []),
    'Create the tables:  npx rolegate db migrate   (with DATABASE_URL set; on Supabase: npx rolegate db copy-migrations, then supabase db push)',
    'First admin:        npx rolegate users add --email you@example.com --roles admin   (with DATABASE_URL set; it asks for the password)',
    'Try it locally:     npx rolegate dev   (an embedded database and a printed admin password)',
    ...(adminOn ? ['Manage users:       /admin/users on the site, signed in as an admin (or npx rolegate users help)'] : []),
    'Deploy:             git push, or netlify deploy --build',
  ];
  return { writes, kept, manual, nextSteps };
}
