import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gatesCommand } from '../../src/cli/gates.js';
import type { CliIo } from '../../src/cli/io.js';
import { gateConfigJsonSchema } from '../../src/site-config/schema.js';
import { REDIRECTS_MODE_WARNING } from '../../src/gates/publish-dir.js';

let site: string;
beforeEach(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-cli-gates-'));
  // The pages the config sends visitors to: without them every build warns.
  await mkdir(join(site, 'public'));
  await writeFile(join(site, 'public', 'login.html'), 'sign in');
  await writeFile(join(site, 'public', '403.html'), 'forbidden');
});
afterEach(async () => {
  await rm(site, { recursive: true, force: true });
});

function fakeIo(cwd: string) {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    readStdin: async () => '',
    stdinIsTTY: false,
    env: {},
    cwd,
  };
  return { io, out };
}

async function run(argv: string[]) {
  const { io, out } = fakeIo(site);
  const code = await gatesCommand(argv, io);
  return { code, ...out };
}

const config = {
  $schema: './rolegate.config.schema.json',
  // Stated: these tests read the `_redirects` rules and explanations of redirects mode.
  mode: 'redirects',
  gates: [
    { path: '/admin/*', roles: ['admin'], public: ['/admin/login.html'] },
    { path: '/members/*', roles: ['member', 'admin'] },
    { path: '/members/vip/*', roles: ['vip'] },
  ],
};

const writeConfig = (value: unknown = config, name = 'rolegate.config.json') => writeFile(join(site, name), JSON.stringify(value, null, 2));

describe('rolegate gates build', () => {
  it('writes public/_redirects and says so; a second run reports it up to date', async () => {
    await writeConfig();
    await writeFile(join(site, '_redirects'), '/old /new 301\n');
    const first = await run(['build']);
    // The nested /members/vip/* is open to /members///vip/… under netlify dev in redirects mode.
    expect(first).toMatchObject({
      code: 0,
      stderr: `warning: ${REDIRECTS_MODE_WARNING}\n` + 'warning: gates[2] "/members/vip/*": in redirects mode Netlify\'s matcher under netlify dev (netlify-redirector 0.5, measured) does not apply this gate to /members///vip/…, where the static server serves the same page; "mode": "edge" decides on the page served (production Netlify not verified)\n',
    });
    // 11 path rules, and the 8 gate rules again for the host netlify dev reads out of a //-path, per scheme.
    expect(first.stdout).toBe('wrote public/_redirects: 33 rolegate rules (hand-written rules kept from _redirects)\nwrote .netlify/v1/functions/: the functions login, logout, refresh, recover, verify, signup, invite, account, magic-link, mail-background, mail-scheduled\n');
    const written = await readFile(join(site, 'public', '_redirects'), 'utf8');
    expect(written).toContain('/members/vip/* /members/vip/:splat 200! Role=vip');
    expect(written.endsWith('/old /new 301\n')).toBe(true);
    expect((await run(['build'])).stdout).toBe('public/_redirects is up to date (33 rolegate rules)\nup to date: .netlify/v1/functions/: the functions login, logout, refresh, recover, verify, signup, invite, account, magic-link, mail-background, mail-scheduled\n');
  });

  it('refuses a mail template folder with a file it cannot use, before writing anything', async () => {
    const { existsSync } = await import('node:fs');
    await mkdir(join(site, 'mail'));
    await writeFile(join(site, 'mail', 'recovery.htm'), '<p>typo</p>');
    await writeConfig({ ...(config as object), accounts: { mailTemplates: 'mail' } });
    const result = await run(['build']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/mail\/recovery\.htm: not a template part[\s\S]*nothing was written/);
    expect(existsSync(join(site, 'public', '_redirects'))).toBe(false);
    expect(existsSync(join(site, '.netlify', 'v1', 'functions'))).toBe(false);
  });

  it('generates the auth functions with the compiled table, the Identity ones only for a config with "identity", and removes only its own', async () => {
    const { mkdir, readdir, writeFile: write } = await import('node:fs/promises');
    const { sameGateConfig } = await import('../../src/site-config/compiled.js');
    await writeConfig({ ...(config as object), identity: {} });
    expect((await run(['build'])).stdout).toContain('wrote .netlify/v1/functions/: the functions login, logout, refresh, recover, verify, signup, invite, account, magic-link, mail-background, mail-scheduled, identity-login, identity-signup, identity-validate, identity-webhook, identity-sync-background\n');
    const login = await readFile(join(site, '.netlify', 'v1', 'functions', 'login.mjs'), 'utf8');
    expect(login).toContain("import { handlerFor } from 'rolegate/functions/login';\n");
    const table = JSON.parse(/handlerFor\((.*)\);\n$/.exec(login)![1]!);
    expect(sameGateConfig(table.config, JSON.parse(await readFile(join(site, 'rolegate.config.json'), 'utf8')))).toBe(true);
    // Another tool's function in the same directory stays.
    await write(join(site, '.netlify', 'v1', 'functions', 'other.mjs'), 'export default () => new Response("x");\n');
    await writeConfig();
    const second = await run(['build']);
    expect(second.stdout).toContain('removed .netlify/v1/functions/identity-webhook.mjs: the config has no "identity" section\n');
    expect((await readdir(join(site, '.netlify', 'v1', 'functions'))).sort()).toEqual(['account.mjs', 'invite.mjs', 'login.mjs', 'logout.mjs', 'magic-link.mjs', 'mail-background.mjs', 'mail-scheduled.mjs', 'other.mjs', 'recover.mjs', 'refresh.mjs', 'signup.mjs', 'verify.mjs']);
    await mkdir(join(site, 'netlify', 'functions'), { recursive: true });
    expect((await run(['build'])).stdout).toContain('up to date: .netlify/v1/functions/');
  });

  it('refuses, writing nothing, when the site has a function of the same name as one of rolegate\'s', async () => {
    const { mkdir, writeFile: write } = await import('node:fs/promises');
    await writeConfig();
    await writeFile(join(site, 'netlify.toml'), '[build]\n  functions = "api"\n');
    await mkdir(join(site, 'api'), { recursive: true });
    await write(join(site, 'api', 'login.ts'), 'export default () => new Response("mine");\n');
    const result = await run(['build']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('api/login.ts is named like rolegate\'s "login" function');
    await expect(readFile(join(site, 'public', '_redirects'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFile(join(site, '.netlify', 'v1', 'functions', 'login.mjs'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says where netlify.toml is malformed, writing nothing', async () => {
    await writeConfig();
    await writeFile(join(site, 'netlify.toml'), '[build\n  publish = "public"\n');
    const result = await run(['build']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^rolegate gates: netlify.toml is not valid TOML \(line 1, column \d+\): fix it, then run this again\n$/);
    await expect(readFile(join(site, 'public', '_redirects'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads --config and treats its folder as the site root', async () => {
    await writeFile(join(site, 'other.json'), JSON.stringify({ mode: 'redirects', gates: [{ path: '/x/*', roles: ['x'] }], publishDir: 'out' }));
    const result = await run(['build', '--config', 'other.json']);
    expect(result.code).toBe(0);
    expect(await readFile(join(site, 'out', '_redirects'), 'utf8')).toContain('/x/* /x/:splat 200! Role=x');
  });

  it('fails with the config problems, exit code 1, nothing written', async () => {
    await writeConfig({ gates: [{ path: '/admin/*', roles: ['Admin user'] }] });
    const result = await run(['build']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('rolegate gates: rolegate.config.json is invalid:\n  - gates[0].roles[0] "Admin user": role names may not contain spaces\n');
    await expect(readFile(join(site, 'public', '_redirects'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses, writing nothing, to build a publish directory that would serve the embedded database', async () => {
    await writeConfig({ ...config, publishDir: '.' });
    await mkdir(join(site, '.rolegate', 'data'), { recursive: true });
    await writeFile(join(site, '.rolegate', 'data', 'PG_VERSION'), '18');
    const result = await run(['build']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^rolegate gates: refusing to build: the publish directory "\." would serve the embedded database's directory \.rolegate[/\\]data/);
    expect(result.stdout).toBe('');
    await expect(readFile(join(site, '_redirects'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('prints case warnings on stderr but still builds', async () => {
    await writeConfig({ gates: [{ path: '/a/*', roles: ['admin'] }, { path: '/b/*', roles: ['ADMIN'] }] });
    const result = await run(['build']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warning: gates\[1\]\.roles\[0\] "ADMIN" and gates\[0\]\.roles\[0\] "admin" differ only by case/);
  });

  it('refuses a hand-written rule that would shadow a gate', async () => {
    await writeConfig();
    await writeFile(join(site, '_redirects'), '/admin/* /index.html 200\n# rolegate:begin\n# rolegate:end\n');
    const result = await run(['build']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('_redirects:1 "/admin/* /index.html 200" matches paths of the gate "/admin/*"');
  });

  it('says where the config was expected when there is none', async () => {
    const result = await run(['build']);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe(`rolegate gates: no gate config at ${join(site, 'rolegate.config.json')} (pass --config FILE)\n`);
  });
});

describe('rolegate gates check', () => {
  beforeEach(() => writeConfig());

  it('public exception', async () => {
    const result = await run(['check', '/admin/login.html']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      '/admin/login.html for a visitor without a valid token:\n  public: public exception /admin/login.html of gate /admin/*\n  rule: /admin/login.html /admin/login.html 200\n',
    );
  });

  it('allowed by Role=', async () => {
    const result = await run(['check', '/members/news.html', '--roles', 'admin']);
    expect(result.stdout).toContain('  allow: allowed by Role=member,admin (gate /members/*, role "admin")\n  rule: /members/* /members/:splat 200! Role=member,admin\n');
  });

  it('fallback: bounce to refresh, for the nested gate even with the outer role', async () => {
    const result = await run(['check', '/members/vip/lounge.html?x=1', '--roles', 'member,admin']);
    expect(result.stdout).toContain('/members/vip/lounge.html for a visitor with roles member,admin:');
    expect(result.stdout).toContain('  bounce: fallback: bounce to refresh (302 /.netlify/functions/refresh/members/vip/lounge.html); roles member,admin do not include any of vip (gate /members/vip/*)');
    expect(result.stdout).toContain('  rule: /members/vip/* /.netlify/functions/refresh/members/vip/:splat 302!');
    expect(result.stdout).toContain('note: the query string plays no part in gating');
  });

  it('not gated', async () => {
    expect((await run(['check', '/about.html', '--roles', 'admin'])).stdout).toBe(
      '/about.html for a visitor with roles admin:\n  not-gated: not gated: no rolegate rule matches this path\n',
    );
  });

  it('decodes the path as the edge does', async () => {
    expect((await run(['check', '/%61dmin/x'])).stdout).toContain('bounce: fallback: bounce to refresh');
  });

  it('rejects a missing or relative path', async () => {
    expect(await run(['check'])).toMatchObject({ code: 1 });
    const relative = await run(['check', 'admin']);
    expect(relative).toMatchObject({ code: 1, stderr: 'rolegate gates: URL_PATH must start with "/" (got "admin")\n' });
  });
});

describe('rolegate gates explain and schema', () => {
  it('prints the gates most specific first, with roles and exceptions', async () => {
    await writeConfig();
    const result = await run(['explain']);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      '#  path            roles (any of)  public exceptions',
      '1  /members/vip/*  vip             -',
      '2  /admin/*        admin           /admin/login.html',
      '3  /members/*      member,admin    -',
    ]);
    expect(result.stdout).toContain('auth paths: /auth/login → /.netlify/functions/login, /auth/refresh → /.netlify/functions/refresh, /auth/logout → /.netlify/functions/logout');
  });

  it('lists the other paths at which Netlify serves an exact gate\'s or exception\'s page, and checks them as that gate', async () => {
    await writeConfig({ mode: 'redirects', gates: [...config.gates, { path: '/reports/annual.html', roles: ['finance'] }, { path: '/handbook', roles: ['staff'] }] });
    const explained = (await run(['explain'])).stdout;
    expect(explained.split('\n').slice(0, 6)).toEqual([
      '#  path                  roles (any of)  public exceptions',
      '1  /reports/annual.html  finance         -',
      '2  /members/vip/*        vip             -',
      '3  /handbook             staff           -',
      '4  /admin/*              admin           /admin/login.html',
      '5  /members/*            member,admin    -',
    ]);
    expect(explained).toContain(
      [
        'Netlify serves a page at more than one path (pretty URLs), so these are covered alike:',
        '  /reports/annual.html: also /reports/annual',
        '  /handbook: also /handbook.html /handbook.htm /handbook/index.html /handbook/index.htm /handbook/index',
        '  /admin/login.html: also /admin/login',
      ].join('\n'),
    );
    expect((await run(['check', '/reports/annual/'])).stdout).toBe(
      '/reports/annual/ for a visitor without a valid token:\n' +
        '  bounce: fallback: bounce to refresh (302 /.netlify/functions/refresh/reports/annual); no valid token with any of finance (gate /reports/annual.html, served at /reports/annual too)\n' +
        '  rule: /reports/annual /.netlify/functions/refresh/reports/annual 302!\n',
    );
    expect((await run(['check', '/handbook/index.html', '--roles', 'staff'])).stdout).toContain('  rule: /handbook/index.html /handbook/index.html 200! Role=staff\n');
    expect((await run(['check', '/admin/login'])).stdout).toContain('  public: public exception /admin/login.html (served at /admin/login too) of gate /admin/*\n  rule: /admin/login /admin/login 200\n');
  });

  it('prints the JSON Schema', async () => {
    const result = await run(['schema']);
    expect(JSON.parse(result.stdout)).toEqual(gateConfigJsonSchema());
  });

  it('unknown subcommands and options fail with usage', async () => {
    const unknown = await run(['deploy']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^rolegate gates: unknown gates command "deploy"\nusage:/);
    const badOption = await run(['build', '--force']);
    expect(badOption.code).toBe(1);
    expect(badOption.stderr).toMatch(/--force/);
  });
});
