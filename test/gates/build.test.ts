import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllRedirects } from '@netlify/redirect-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REDIRECTS_MODE_WARNING, UnsafePublishDirError } from '../../src/gates/publish-dir.js';
import { buildRedirects } from '../../src/gates/build.js';
import { parseGateConfig, type GateConfigInput } from '../../src/site-config/schema.js';
import { BEGIN_MARKER, END_MARKER } from '../../src/gates/redirects-file.js';
import { edgeVerdict, loadMatcher, matchRequest } from './matcher.js';

let site: string;
beforeEach(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-build-'));
  // The pages the config sends visitors to: without them every build warns.
  await mkdir(join(site, 'public'));
  await writeFile(join(site, 'public', 'login.html'), 'sign in');
  await writeFile(join(site, 'public', '403.html'), 'forbidden');
});
afterEach(async () => {
  await rm(site, { recursive: true, force: true });
});

const starter: GateConfigInput = {
  gates: [
    { path: '/admin/*', roles: ['admin'], public: ['/admin/login.html'] },
    { path: '/members/*', roles: ['member', 'admin'] },
  ],
};

// These are the `_redirects` rules of redirects mode, stated here (edge mode is the default).
const build = (input: GateConfigInput = starter) => buildRedirects({ siteRoot: site, config: parseGateConfig({ mode: 'redirects', ...input }) });
const output = (dir = 'public') => readFile(join(site, dir, '_redirects'), 'utf8');
const handWritten = (text: string) => writeFile(join(site, '_redirects'), text);

async function netlifyParseErrors(path: string): Promise<unknown[]> {
  const { errors } = await parseAllRedirects({ redirectsFiles: [path], netlifyConfigPath: undefined, configRedirects: [], minimal: false });
  return errors;
}

describe('gates build', () => {
  it('writes only the marked block when the site has no hand-written rules', async () => {
    const result = await build();
    const text = await output();
    // 13 path rules, and the 6 gate rules again for the host netlify dev reads out of a //-path, per scheme.
    expect(result).toMatchObject({ outputPath: join(site, 'public', '_redirects'), sourcePath: null, changed: true, ruleCount: 27 });
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(BEGIN_MARKER);
    expect(lines.at(-1)).toBe(END_MARKER);
    expect(text.endsWith('\n')).toBe(true);
    expect(await netlifyParseErrors(result.outputPath)).toEqual([]);
  });

  it('keeps hand-written rules in their order, below the block, so gates decide first', async () => {
    await handWritten('# my rules\n/old /new 301\n/* /index.html 200\n');
    await build();
    const text = await output();
    expect(text.indexOf(END_MARKER)).toBeLessThan(text.indexOf('/old /new 301'));
    expect(text.endsWith('\n# my rules\n/old /new 301\n/* /index.html 200\n')).toBe(true);
    expect(await netlifyParseErrors(join(site, 'public', '_redirects'))).toEqual([]);
    // An SPA fallback below the block cannot serve a gated page to an anonymous visitor.
    const matcher = await loadMatcher(text);
    expect(edgeVerdict(matcher.match(matchRequest('/admin/secret.html')))).toBe('bounce');
    expect(matcher.match(matchRequest('/some/app/route'))).toMatchObject({ from: '/*', to: '/index.html', status: 200 });
    expect(matcher.match(matchRequest('/old'))).toMatchObject({ to: '/new', status: 301 });
  });

  it('is idempotent: building twice changes nothing', async () => {
    await handWritten('/old /new 301\n');
    await build();
    const first = await output();
    const again = await build();
    expect(again.changed).toBe(false);
    expect(await output()).toBe(first);
    expect((await readdir(join(site, 'public'))).sort()).toEqual(['403.html', '_redirects', 'login.html']);
  });

  it('puts the block between markers the hand-written file places, replacing what was there', async () => {
    await handWritten(`/legacy/* /archive/:splat 301\n${BEGIN_MARKER}\n/stale rule 200\n${END_MARKER}\n/* /index.html 200\n`);
    await build();
    const lines = (await output()).trimEnd().split('\n');
    expect(lines[0]).toBe('/legacy/* /archive/:splat 301');
    expect(lines[1]).toBe(BEGIN_MARKER);
    expect(lines).not.toContain('/stale rule 200');
    expect(lines.at(-2)).toBe(END_MARKER);
    expect(lines.at(-1)).toBe('/* /index.html 200');
  });

  it('updates the block when the gates change, leaving the rest alone', async () => {
    await handWritten('/old /new 301\n');
    await build();
    await build({ gates: [{ path: '/team/*', roles: ['team'] }] });
    const text = await output();
    expect(text).toContain('/team/* /team/:splat 200! Role=team');
    expect(text).not.toContain('/admin/');
    expect(text.match(/rolegate:begin/g)).toHaveLength(1);
    expect(text.endsWith('\n/old /new 301\n')).toBe(true);
  });

  it('refuses, writing nothing, when a hand-written rule above the block would decide a gated path', async () => {
    await handWritten(`/admin/* /index.html 200\n/members/:page /m.html 200\n/about /about-us 301\n${BEGIN_MARKER}\n${END_MARKER}\n`);
    await expect(build()).rejects.toThrow(
      /refusing to build: .*\n {2}_redirects:1 "\/admin\/\* \/index\.html 200" matches paths of the gate "\/admin\/\*"\n {2}_redirects:2 "\/members\/:page \/m\.html 200" matches paths of the gate "\/members\/\*"\nmove them below/,
    );
    await expect(output()).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a catch-all placed above the block', async () => {
    await handWritten(`/* /index.html 200\n${BEGIN_MARKER}\n${END_MARKER}\n`);
    await expect(build()).rejects.toThrow(/_redirects:1 "\/\* \/index\.html 200" matches paths of the gate/);
  });

  it('refuses malformed markers', async () => {
    await handWritten(`${BEGIN_MARKER}\n/a /b 301\n`);
    await expect(build()).rejects.toThrow(/rolegate markers are malformed \(found 1 "# rolegate:begin" and 0 "# rolegate:end" lines\)/);
  });

  it('with publishDir ".", rewrites the site _redirects in place and stays idempotent', async () => {
    await handWritten('/old /new 301\n');
    const config: GateConfigInput = { ...starter, publishDir: '.' };
    await build(config);
    const first = await output('.');
    expect(first.startsWith(`${BEGIN_MARKER}\n`)).toBe(true);
    expect((await build(config)).changed).toBe(false);
    expect(await output('.')).toBe(first);
  });

  it.each([
    ['the embedded database', '.rolegate/data/base/1/1259', /the embedded database's directory \.rolegate[/\\]data/],
    ['an .env file', '.env', /\.env\b/],
    ['an .env.local file', '.env.local', /\.env\.local/],
  ])('refuses publishDir "." while the site root holds %s, writing nothing', async (_what, file, named) => {
    await mkdir(dirname(join(site, file)), { recursive: true });
    await writeFile(join(site, file), 'secret');
    const attempt = build({ ...starter, publishDir: '.' });
    await expect(attempt).rejects.toThrow(UnsafePublishDirError);
    await expect(attempt).rejects.toThrow(named);
    await expect(output('.')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('with publishDir ".", builds beside netlify dev\'s state and answers 404 for it and the site\'s own files', async () => {
    await mkdir(join(site, '.netlify'), { recursive: true });
    await writeFile(join(site, '.netlify', 'state.json'), '{}');
    await build({ ...starter, publishDir: '.' });
    const written = await output('.');
    for (const hidden of ['/.rolegate/*', '/rolegate.config.json', '/netlify.toml', '/node_modules/*', '/netlify/*', '/package.json']) {
      expect(written).toContain(`\n${hidden} /404.html 404!\n`);
    }
  });

  it('refuses a publish directory below the site root that holds netlify dev\'s state', async () => {
    await mkdir(join(site, 'site', '.netlify'), { recursive: true });
    await writeFile(join(site, 'site', '.netlify', 'state.json'), '{}');
    const attempt = build({ ...starter, publishDir: 'site' });
    await expect(attempt).rejects.toThrow(/would serve site[/\\]\.netlify\//);
    await expect(output('site')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a publish directory that holds the data directory in use, before the database exists', async () => {
    const attempt = buildRedirects({ siteRoot: site, config: parseGateConfig({ ...starter, publishDir: '.' }), dataDir: join(site, 'db') });
    await expect(attempt).rejects.toThrow(/would serve the embedded database's directory db/);
    await expect(output('.')).rejects.toMatchObject({ code: 'ENOENT' });
    // The same data directory outside the publish directory is fine.
    await expect(buildRedirects({ siteRoot: site, config: parseGateConfig({ mode: 'redirects', ...starter }), dataDir: join(site, 'db') })).resolves.toMatchObject({ changed: true });
  });

  it('warns when the sign-in or forbidden page the config names has no file', async () => {
    await rm(join(site, 'public', '403.html'));
    const result = await build({ ...starter, loginPage: '/signin' });
    expect(result.warnings).toEqual([
      REDIRECTS_MODE_WARNING,
      'the sign-in page (loginPage) /signin has no file in public/ (looked for signin.html and signin/index.html): visitors sent there get a 404',
      'the forbidden page (forbiddenPage) /403 has no file in public/ (looked for 403.html and 403/index.html): visitors sent there get a 404',
    ]);
    await mkdir(join(site, 'public', 'signin'));
    await writeFile(join(site, 'public', 'signin', 'index.html'), 'sign in');
    await writeFile(join(site, 'public', '403.html'), 'forbidden');
    expect((await build({ ...starter, loginPage: '/signin' })).warnings).toEqual([REDIRECTS_MODE_WARNING]);
  });

  it('warns in redirects mode only about what that mode relies on', async () => {
    expect((await build()).warnings).toEqual([REDIRECTS_MODE_WARNING]);
    expect(REDIRECTS_MODE_WARNING).toMatch(/own JWT secret/);
    expect(REDIRECTS_MODE_WARNING).toMatch(/unsigned/);
    const edge = await buildRedirects({ siteRoot: site, config: parseGateConfig({ ...starter, mode: 'edge' }) });
    expect(edge.warnings).toEqual([]);
  });

  it("uses an existing publish-dir _redirects (e.g. a framework's) when the site root has none", async () => {
    await mkdir(join(site, 'dist'));
    await writeFile(join(site, 'dist', '_redirects'), '/from-framework /x 200\n');
    const config: GateConfigInput = { ...starter, publishDir: 'dist' };
    const result = await build(config);
    expect(result.sourcePath).toBe(join(site, 'dist', '_redirects'));
    const first = await output('dist');
    expect(first.endsWith('\n/from-framework /x 200\n')).toBe(true);
    expect((await build(config)).changed).toBe(false);
  });

  it('warns when a tree gate\'s page is also served under an ungated pretty-URL name', async () => {
    await writeFile(join(site, 'public', 'members.html'), 'members only');
    const result = await build();
    expect(result.warnings).toEqual([
      REDIRECTS_MODE_WARNING,
      '/members.html exists in the publish directory and is served at /members.html, which the gate "/members/*" does not cover; move it or gate that path too',
    ]);
  });

  it('gates every path of an exact gate\'s page itself, so there is nothing to warn about', async () => {
    await mkdir(join(site, 'public', 'docs'), { recursive: true });
    await writeFile(join(site, 'public', 'docs', 'index.html'), 'team docs');
    await writeFile(join(site, 'public', 'annual.html'), 'finance only');
    const result = await build({ gates: [...starter.gates, { path: '/docs', roles: ['team'] }, { path: '/annual.html', roles: ['finance'] }] });
    expect(result.warnings).toEqual([REDIRECTS_MODE_WARNING]);
    const matcher = await loadMatcher(await output());
    for (const path of ['/docs', '/docs/', '/docs/index.html', '/docs/index', '/docs.html', '/annual.html', '/annual', '/annual/']) {
      expect(edgeVerdict(matcher.match(matchRequest(path))), path).toBe('bounce');
    }
    expect(await netlifyParseErrors(result.outputPath)).toEqual([]);
  });

  it('refuses a config it cannot compile, before touching any file', async () => {
    await expect(build({ gates: [{ path: '/*', roles: ['team'] }] })).rejects.toThrow(/loginPage "\/login": inside gates\[0\] "\/\*"/);
    await expect(output()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
