import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RolegateError } from '../core/rolegate-error.js';
import { MAIL_TEMPLATE_NAMES, type MailTemplate, type MailTemplateOverrides } from './templates.js';

/**
 * A site's own mail templates, read from the folder `accounts.mailTemplates` names, at build
 * time (the functions get them compiled in, like the gate table). One file per part:
 * `<name>.subject.txt`, `<name>.txt` and `<name>.html` for the names in MAIL_TEMPLATE_NAMES;
 * a part without a file keeps rolegate's own. The parts use the variables of Netlify
 * Identity's and GoTrue's templates, so a site's Identity templates can be copied in as they are.
 */

const PARTS: ReadonlyArray<[suffix: string, part: keyof MailTemplate]> = [['.subject.txt', 'subject'], ['.txt', 'text'], ['.html', 'html']];

/** Generous for a mail, small enough that a mistake (a folder of images) fails the build instead of bloating every function. */
const MAX_TEMPLATE_BYTES = 64 * 1024;

export class MailTemplateFilesError extends RolegateError {
  readonly code = 'mail_template_files';
  constructor(readonly problems: string[]) {
    super(`the mail templates cannot be used:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'MailTemplateFilesError';
  }
}

function partOf(file: string): { name: string; part: keyof MailTemplate } | null {
  for (const [suffix, part] of PARTS) {
    if (!file.endsWith(suffix)) continue;
    const name = file.slice(0, -suffix.length);
    // `.txt` also ends `.subject.txt`: that one was matched first.
    if ((MAIL_TEMPLATE_NAMES as readonly string[]).includes(name)) return { name, part };
  }
  return null;
}

/**
 * Every template part in `dir` (relative to `siteRoot`). A file that is no template part, a
 * part over 64 KiB, or a subject of more than one line is a MailTemplateFilesError naming it,
 * so a typo fails the build rather than silently keeping rolegate's text.
 *
 * @example
 * const overrides = await readMailTemplates(siteRoot, 'mail-templates');
 */
export async function readMailTemplates(siteRoot: string, dir: string): Promise<MailTemplateOverrides> {
  const folder = resolve(siteRoot, dir);
  let files: string[];
  try {
    files = (await readdir(folder, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new MailTemplateFilesError([`accounts.mailTemplates ${JSON.stringify(dir)}: there is no folder ${folder}`]);
    throw error;
  }
  const overrides: Record<string, Partial<MailTemplate>> = {};
  const problems: string[] = [];
  for (const file of files) {
    const found = partOf(file);
    if (!found) {
      if (!file.startsWith('.')) problems.push(`${join(dir, file)}: not a template part (name them <template>.subject.txt, <template>.txt or <template>.html; templates: ${MAIL_TEMPLATE_NAMES.join(', ')})`);
      continue;
    }
    const buffer = await readFile(join(folder, file));
    if (buffer.byteLength > MAX_TEMPLATE_BYTES) {
      problems.push(`${join(dir, file)}: ${buffer.byteLength} bytes, more than a mail template may have (64 KiB)`);
      continue;
    }
    let text = buffer.toString('utf8');
    if (found.part === 'subject') {
      text = text.replace(/\r?\n$/u, '');
      if (/[\r\n]/u.test(text)) problems.push(`${join(dir, file)}: a subject is one line`);
    }
    (overrides[found.name] ??= {})[found.part] = text;
  }
  if (problems.length) throw new MailTemplateFilesError(problems);
  return overrides;
}
