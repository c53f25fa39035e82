/**
 * `rolegate init` in sites that have never seen rolegate: what it writes, that a second run
 * changes nothing, that it never overwrites a file, --dry-run, the questions on a terminal,
 * and a clear message for every bad input with nothing written.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';
import { loadGateConfig } from '../../src/gates/compile.js';

// writeFile as the real one, with a hook a test sets to act just before a write (another program meanwhile).
const fsHooks = vi.hoisted(() => ({ beforeWriteFile: undefined as undefined | ((path: string) => void) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const writeFile: typeof actual.writeFile = (path, ...rest) => {
    fsHooks.beforeWriteFile?.(String(path));
    return actual.writeFile(path, ...rest);
  };
  return { ...actual, default: { ...actual, writeFile }, writeFile };
});

let site: string;
beforeEach(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-init-'));
});
afterEach(async () => {
  await rm(site, { recursive: true, force: true });
});

/** `answers` are typed at the questions in turn; `beforeWrite` runs as init asks to write, as another program would act meanwhile. */
async function init(argv: string[], answers?: string[], beforeWrite?: () => Promise<void>) {
  const out = { stdout: '', stderr: '' };
  const asked: string[] = [];
  const io: CliIo = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    readStdin: async () => '',
    stdinIsTTY: Boolean(answers),
    ...(answers
      ? {
          prompt: async (question: string) => {
            asked.push(question);
            if (beforeWrite && question.startsWith('Write these files?')) await beforeWrite();
            return answers.shift() ?? '';
          },
        }
      : {}),
    env: {},
    cwd: site,
  };
  const code = await runCli(['init', ...argv], io);
  return { code, ...out, asked };
}

/** Every file in the site with its content, to show that a run changed nothing. */
async function snapshot(dir = site, prefix = ''): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(files, await snapshot(path, `${prefix}${entry.name}/`));
    else files[`${prefix}${entry.name}`] = await readFile(path, 'utf8');
  }
  return files;
}

const read = (file: string) => readFile(join(site, file), 'utf8');

describe('rolegate init', () => {
  it('adds rolegate to a plain site with publish "." and its own netlify.toml, and a second run changes nothing', async () => {
    await writeFile(join(site, 'index.html'), '<h1>home</h1>');
    const ownToml = '# my site\n[build]\n  publish = "."\n\n[[redirects]]\n  from = "/old"\n  to = "/"\n  status = 301\n';
    await writeFile(join(site, 'netlify.toml'), ownToml);
    await writeFile(join(site, '.gitignore'), 'node_modules\n');
    const first = await init(['--yes', '--gate', '/members/*=member,admin']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain('create rolegate.config.json: mode "edge", gates /members/* (member, admin)\n');
    expect(first.stdout).toContain('Next:\n');
    expect(first.stdout).toContain('JWT_SECRET');

    const config = loadGateConfig(await read('rolegate.config.json')).config;
    expect(config).toMatchObject({ mode: 'edge', publishDir: '.', loginPage: '/login', forbiddenPage: '/403' });
    expect(config.gates).toEqual([expect.objectContaining({ path: '/members/*', roles: ['member', 'admin'] })]);

    const toml = await read('netlify.toml');
    expect(toml.startsWith(ownToml)).toBe(true);
    const parsed = parse(toml) as Record<string, any>;
    expect(parsed.build.publish).toBe('.');
    expect(parsed.redirects).toEqual([{ from: '/old', to: '/', status: 301 }]);
    expect(parsed.plugins).toEqual([{ package: 'rolegate' }]);
    expect(parsed.functions.external_node_modules).toEqual(['pg', '@supabase/postgrest-js', 'bcryptjs']);
    expect(parsed.dev.jwtSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    expect(await read('.gitignore')).toMatch(/^node_modules\n\n# rolegate: .*\n\.rolegate\/\n\.netlify\/\n\.env\nnetlify\/edge-functions\/rolegate-gate\/\n$/);
    for (const page of ['login.html', '403.html', 'account.html', 'forgot-password.html', 'check-email.html', 'choose-password.html']) expect(await read(page)).toMatch(/^<!doctype html>/);
    expect(await read('login.html')).toContain('<form method="post" action="/auth/login">');
    // No chosen gate holds /admin/users, so the admin page and API stay off.
    expect(config.admin).toBeUndefined();
    expect(existsSync(join(site, 'admin', 'users.html'))).toBe(false);

    const before = await snapshot();
    const second = await init(['--yes']);
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.stdout).toMatch(/^rolegate is already set up here: nothing to change\n/);
    expect(await snapshot()).toEqual(before);
  });

  it('never overwrites: an existing config and pages stay, and only missing lines are merged into an existing [functions] and [dev]', async () => {
    await mkdir(join(site, 'public'));
    await writeFile(join(site, 'public', 'login.html'), 'my own sign-in page');
    await writeFile(join(site, 'rolegate.config.json'), '{ "gates": [] }\n');
    await writeFile(join(site, 'netlify.toml'), '[build]\n  publish = "public"\n\n[functions]\n  directory = "api"\n\n[dev]\n  port = 9000\n');
    const result = await init(['--yes']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(rolegate.config.json exists: left as it is)');
    expect(result.stdout).toContain('(the site has a /login page: left as it is)');
    expect(await read('rolegate.config.json')).toBe('{ "gates": [] }\n');
    expect(await read('public/login.html')).toBe('my own sign-in page');
    expect(await read('public/403.html')).toMatch(/Not allowed/);
    const parsed = parse(await read('netlify.toml')) as Record<string, any>;
    expect(parsed.functions).toMatchObject({ directory: 'api', node_bundler: 'esbuild' });
    expect(parsed.dev).toMatchObject({ port: 9000, jwtRolePath: 'app_metadata.authorization.roles' });
    expect(typeof parsed.dev.jwtSecret).toBe('string');
  });

  it('puts publish into a new [build] table when netlify.toml has none, not into the table the file ends with', async () => {
    await writeFile(join(site, 'index.html'), 'home');
    const ownToml = '[[redirects]]\n  from = "/old"\n  to = "/"\n';
    await writeFile(join(site, 'netlify.toml'), ownToml);
    expect((await init(['--yes'])).code).toBe(0);
    const toml = await read('netlify.toml');
    expect(toml.startsWith(ownToml)).toBe(true);
    const parsed = parse(toml) as Record<string, any>;
    expect(parsed.build).toEqual({ publish: '.' });
    expect(parsed.redirects).toEqual([{ from: '/old', to: '/' }]);
  });

  it('leaves a multi-line header value as it was, and says what to add to [functions] by hand, when a header line in the value looks like [functions]', async () => {
    const csp = "default-src 'self'\n[functions]\nscript-src 'self'\n";
    const ownToml = `[build]\n  publish = "public"\n\n[[headers]]\n  for = "/*"\n  [headers.values]\n    Content-Security-Policy = '''\n${csp}'''\n\n[functions]\n  directory = "api"\n`;
    await writeFile(join(site, 'netlify.toml'), ownToml);
    const result = await init(['--yes']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('by hand: add to the [functions] settings of netlify.toml: node_bundler = "esbuild"; external_node_modules = ');
    const toml = await read('netlify.toml');
    expect(toml.startsWith(ownToml)).toBe(true);
    const parsed = parse(toml) as Record<string, any>;
    expect(parsed.headers).toEqual([{ for: '/*', values: { 'Content-Security-Policy': csp } }]);
    expect(parsed.functions).toEqual({ directory: 'api' });
    expect(parsed.plugins).toEqual([{ package: 'rolegate' }]);
    expect(typeof parsed.dev.jwtSecret).toBe('string');
  });

  it('says to add the build plugin by hand when netlify.toml lists its plugins inline, and makes the other changes', async () => {
    const ownToml = 'plugins = [{ package = "netlify-plugin-inline-critical-css" }]\n\n[build]\n  publish = "public"\n';
    await writeFile(join(site, 'netlify.toml'), ownToml);
    const result = await init(['--yes']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('by hand: add rolegate\'s build plugin to netlify.toml');
    expect(result.stdout).not.toContain('[[plugins]] package = "rolegate"');
    const parsed = parse(await read('netlify.toml')) as Record<string, any>;
    expect(parsed.plugins).toEqual([{ package: 'netlify-plugin-inline-critical-css' }]);
    expect(parsed.functions.node_bundler).toBe('esbuild');
    expect(typeof parsed.dev.jwtSecret).toBe('string');
  });

  it('turns on the admin page and API where the chosen gate holds /admin/users, and writes the page', async () => {
    const result = await init(['--yes']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('create public/admin/users.html: a plain /admin/users page to restyle');
    expect(result.stdout).toContain('Manage users:       /admin/users');
    const config = loadGateConfig(await read('rolegate.config.json')).config;
    expect([config.gates.map((g) => g.path), config.admin]).toEqual([['/admin/*'], { enabled: true, roles: ['admin'], page: '/admin/users' }]);
    expect(await read('public/admin/users.html')).toBe(await readFile(join(import.meta.dirname, '..', '..', 'templates', 'pages', 'admin', 'users.html'), 'utf8'));
  });

  it('gives the admin API the gate\'s own roles when the gate that holds the page names no admin role', async () => {
    expect((await init(['--yes', '--gate', '/admin/*=owner'])).code).toBe(0);
    expect(loadGateConfig(await read('rolegate.config.json')).config.admin).toMatchObject({ enabled: true, roles: ['owner'] });
  });

  it('writes no pages into a publish directory the site\'s build generates, and says what to add instead', async () => {
    await writeFile(join(site, 'netlify.toml'), '[build]\n  command = "npm run build"\n  publish = "_site"\n');
    const result = await init(['--yes']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('by hand: add the pages /login, /403, /account, /forgot-password, /check-email, /choose-password, /signup, /confirm, /admin/users to your site\'s sources');
    expect(existsSync(join(site, '_site'))).toBe(false);
    expect(loadGateConfig(await read('rolegate.config.json')).config.publishDir).toBe('_site');
  });

  it('takes the publish directory of a known site generator when netlify.toml has none', async () => {
    await writeFile(join(site, 'package.json'), JSON.stringify({ devDependencies: { '@11ty/eleventy': '^3.0.0' } }));
    expect((await init(['--yes'])).code).toBe(0);
    expect(loadGateConfig(await read('rolegate.config.json')).config.publishDir).toBe('_site');
    expect((parse(await read('netlify.toml')) as Record<string, any>).build.publish).toBe('_site');
  });

  it('prints the plan with --dry-run and writes nothing', async () => {
    await writeFile(join(site, 'index.html'), 'home');
    const result = await init(['--yes', '--dry-run', '--mode', 'redirects']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('would create rolegate.config.json: mode "redirects"');
    expect(result.stdout).toContain('would create netlify.toml');
    expect(await snapshot()).toEqual({ 'index.html': 'home' });
  });

  it('asks on a terminal, and writes only after a yes', async () => {
    const answers = ['public', '/staff/*', 'staff,admin', 'edge', 'y'];
    const result = await init([], answers);
    expect(result.code).toBe(0);
    expect(result.asked).toHaveLength(5);
    expect(loadGateConfig(await read('rolegate.config.json')).config.gates).toEqual([expect.objectContaining({ path: '/staff/*', roles: ['staff', 'admin'] })]);

    await rm(join(site, 'rolegate.config.json'));
    const declined = await init([], ['', '', '', '', 'n']);
    expect(declined).toMatchObject({ code: 1 });
    expect(declined.stdout).toContain('nothing was written');
    expect(existsSync(join(site, 'rolegate.config.json'))).toBe(false);
  });

  it('never overwrites a file that appeared while it asked: it stops, and writes nothing', async () => {
    await writeFile(join(site, 'index.html'), 'home');
    const result = await init(['--gate', '/admin/*=admin', '--mode', 'edge'], ['.', 'y'], () => writeFile(join(site, 'login.html'), 'a sign-in page made meanwhile'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('login.html was created while rolegate init ran, so rolegate init stopped: nothing was written; run rolegate init again');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await snapshot()).toEqual({ 'index.html': 'home', 'login.html': 'a sign-in page made meanwhile' });
  });

  it('does not replace a file edited while it asked with lines merged into its old text', async () => {
    await writeFile(join(site, 'index.html'), 'home');
    await writeFile(join(site, 'netlify.toml'), '[build]\n  publish = "."\n');
    const edited = '[build]\n  publish = "."\n  command = "make"\n';
    const result = await init(['--gate', '/admin/*=admin', '--mode', 'edge'], ['.', 'y'], () => writeFile(join(site, 'netlify.toml'), edited));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('netlify.toml changed while rolegate init ran, so rolegate init stopped: nothing was written');
    expect(await snapshot()).toEqual({ 'index.html': 'home', 'netlify.toml': edited });
  });

  it('creates each new file exclusively, so a file that appears after its last look is kept', async () => {
    await writeFile(join(site, 'index.html'), 'home');
    // 403.html appears between init's check of every file and its write of that one.
    fsHooks.beforeWriteFile = (path) => {
      if (path === join(site, '403.html')) writeFileSync(path, 'a forbidden page made meanwhile');
    };
    try {
      const result = await init(['--yes']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/403\.html was created while rolegate init ran, so rolegate init stopped: it wrote only rolegate\.config\.json, .*login\.html;/);
    } finally {
      fsHooks.beforeWriteFile = undefined;
    }
    expect(await read('403.html')).toBe('a forbidden page made meanwhile');
  });

  it.each([
    [['--gate', '/admin/*'], /--gate wants PATH=ROLE\[,ROLE\], such as \/admin\/\*=admin/],
    [['--gate', '/admin/*=Site Admin'], /role names may not contain spaces\nnothing was written/],
    [['--gate', 'admin=admin'], /nothing was written/],
    [['--mode', 'strict'], /--mode is "edge" or "redirects"/],
    [['--colour'], /unknown option --colour/],
  ])('refuses %j with a message and writes nothing', async (flags, message) => {
    const result = await init(['--yes', ...flags]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await snapshot()).toEqual({});
  });

  it('refuses, writing nothing, a publish directory that would serve an .env file', async () => {
    await writeFile(join(site, 'index.html'), 'home');
    await writeFile(join(site, '.env'), 'JWT_SECRET=not-for-the-web');
    const result = await init(['--yes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refusing to set up rolegate: the publish directory "." would serve .env');
    expect(result.stderr).toContain('nothing was written');
    expect(await snapshot()).toEqual({ 'index.html': 'home', '.env': 'JWT_SECRET=not-for-the-web' });
  });

  it.each(['.env.example', '.env.sample', '.env.template'])('sets up a site that publishes "." beside a committed %s (placeholders, not secrets)', async (file) => {
    await writeFile(join(site, 'index.html'), 'home');
    await writeFile(join(site, file), 'JWT_SECRET=\n');
    const result = await init(['--yes']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(loadGateConfig(await read('rolegate.config.json')).config.publishDir).toBe('.');
  });

  it.each(['.env.local', '.env.production', '.env.example.local'])('still refuses a publish directory "." that would serve %s', async (file) => {
    await writeFile(join(site, 'index.html'), 'home');
    await writeFile(join(site, '.env.example'), 'JWT_SECRET=\n');
    await writeFile(join(site, file), 'JWT_SECRET=not-for-the-web');
    const result = await init(['--yes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the publish directory "." would serve ${file};`);
  });

  it('refuses to guess without a terminal or --yes', async () => {
    const result = await init([]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pass --yes');
  });

  it('says where netlify.toml is broken and writes nothing', async () => {
    await writeFile(join(site, 'netlify.toml'), '[build\npublish = "."\n');
    const result = await init(['--yes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/netlify.toml is not valid TOML \(line 1/);
    expect(await snapshot()).toEqual({ 'netlify.toml': '[build\npublish = "."\n' });
  });
});
