import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunctions, generatedFunctionSource } from '../../src/gates/functions-build.js';
import { MailTemplateFilesError, readMailTemplates } from '../../src/mail/template-files.js';
import { renderMail } from '../../src/mail/templates.js';
import { parseGateConfig } from '../../src/site-config/schema.js';

let site: string;
beforeAll(async () => {
  site = await mkdtemp(join(tmpdir(), 'rolegate-mail-templates-'));
});
afterAll(() => rm(site, { recursive: true, force: true }));

async function folder(name: string, files: Record<string, string | Buffer>): Promise<string> {
  await mkdir(join(site, name), { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(join(site, name, file), content);
  return name;
}

// An Identity recovery template as a site keeps it: HTML with GoTrue's variables.
const IDENTITY_RECOVERY = '<h2>Reset Password</h2>\n<p>Follow this link to reset the password for {{ .Email }}:</p>\n<p><a href="{{ .ConfirmationURL }}">Reset Password</a></p>\n';

describe('a site\'s own mail templates', () => {
  it('reads each part from its file, the subject as one line, and leaves the rest to rolegate', async () => {
    const dir = await folder('mail', { 'recovery.html': IDENTITY_RECOVERY, 'recovery.subject.txt': 'Reset your {{ .SiteURL }} password\n', 'invite.txt': 'Join us: {{ .ConfirmationURL }}\n', '.DS_Store': 'x' });
    const overrides = await readMailTemplates(site, dir);
    expect(overrides).toEqual({ recovery: { html: IDENTITY_RECOVERY, subject: 'Reset your {{ .SiteURL }} password' }, invite: { text: 'Join us: {{ .ConfirmationURL }}\n' } });
    const mail = renderMail({ template: 'recovery', recipient: 'ada@example.com', siteUrl: 'https://site.example', secret: { url: 'https://site.example/auth/verify?token=T', token: 'T' }, variables: {}, overrides });
    expect(mail.subject).toBe('Reset your https://site.example password');
    expect(mail.html).toContain('<a href="https://site.example/auth/verify?token=T">Reset Password</a>');
    expect(mail.html).toContain('for ada@example.com:');
    // The text part was not given: rolegate's own, with the same link.
    expect(mail.text).toContain('https://site.example/auth/verify?token=T');
  });

  it('names every file it cannot use: an unknown name, a subject of two lines, one too large, a missing folder', async () => {
    const dir = await folder('bad', { 'recover.html': 'typo', 'signup.subject.txt': 'one\ntwo', 'invite.html': Buffer.alloc(70 * 1024, 'a'), 'notes.md': 'x' });
    const error = await readMailTemplates(site, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailTemplateFilesError);
    const { message } = error as Error;
    expect(message).toContain('bad/recover.html: not a template part');
    expect(message).toContain('bad/notes.md: not a template part');
    expect(message).toContain('bad/signup.subject.txt: a subject is one line');
    expect(message).toContain('bad/invite.html: 71680 bytes');
    await expect(readMailTemplates(site, 'nowhere')).rejects.toThrow(/accounts\.mailTemplates "nowhere": there is no folder/);
  });

  it('are compiled into the mail functions at build, and into no other', async () => {
    const dir = await folder('site-mail', { 'signup.subject.txt': 'Welcome to {{ .SiteURL }}' });
    const rawConfig = { gates: [], accounts: { mailTemplates: dir } };
    const result = await buildFunctions({ siteRoot: site, rawConfig, functionsDir: 'netlify/functions' });
    expect(result.names).toContain('mail-background');
    const compiledOf = (source: string) => JSON.parse(/handlerFor\((.*)\);\n/.exec(source)![1]!);
    const { readFile } = await import('node:fs/promises');
    const generated = (name: string) => readFile(join(site, '.netlify/v1/functions', `${name}.mjs`), 'utf8');
    expect(compiledOf(await generated('mail-background')).mailTemplates).toEqual({ signup: { subject: 'Welcome to {{ .SiteURL }}' } });
    expect(compiledOf(await generated('mail-scheduled')).mailTemplates).toEqual({ signup: { subject: 'Welcome to {{ .SiteURL }}' } });
    expect(compiledOf(await generated('signup')).mailTemplates).toBeUndefined();
    expect(compiledOf(generatedFunctionSource('login', rawConfig)).mailTemplates).toBeUndefined();
  });

  it('takes only a relative folder inside the site in the config', () => {
    expect(() => parseGateConfig({ gates: [], accounts: { mailTemplates: '../elsewhere' } })).toThrow(/accounts\.mailTemplates/);
    expect(() => parseGateConfig({ gates: [], accounts: { mailTemplates: '/etc' } })).toThrow(/accounts\.mailTemplates/);
    expect(parseGateConfig({ gates: [], accounts: { mailTemplates: 'mail-templates' } }).accounts?.mailTemplates).toBe('mail-templates');
  });
});
