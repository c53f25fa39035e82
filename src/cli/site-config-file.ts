import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { siteMailTemplates } from '../gates/functions-build.js';
import { MailTemplateFilesError } from '../mail/template-files.js';
import type { MailTemplateOverrides } from '../mail/templates.js';
import { compileSiteConfig } from '../site-config/compile.js';
import type { CompiledSiteConfig } from '../site-config/compiled.js';
import { CliError, type CliIo } from './io.js';

/**
 * The site's rolegate.config.json (in the working directory), for commands that act as the
 * site's functions do (sending mail, inviting): compiled, with its mail templates; the
 * defaults when there is no such file.
 */
export async function siteConfigForCli(io: CliIo): Promise<{ compiled: CompiledSiteConfig; mailTemplates?: MailTemplateOverrides }> {
  const text = await readFile(join(io.cwd, 'rolegate.config.json'), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (text === null) return { compiled: compileSiteConfig({ gates: [] }) };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CliError(`rolegate.config.json is not valid JSON: ${(error as Error).message}`);
  }
  const compiled = compileSiteConfig(raw);
  try {
    const mailTemplates = await siteMailTemplates(io.cwd, raw);
    return mailTemplates ? { compiled, mailTemplates } : { compiled };
  } catch (error) {
    if (error instanceof MailTemplateFilesError) throw new CliError(error.message);
    throw error;
  }
}
