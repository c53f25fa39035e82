import type { Handler } from '@netlify/functions';
import { mailBackgroundHandler, mailDeliveryRuntime } from '../mail/handlers.js';
import type { MailTemplateOverrides } from '../mail/templates.js';
import type { CompiledSite } from './prebuilt.js';

/**
 * The `mail-background` function of a site (`rolegate/functions/mail-background`): a background
 * function (the -background suffix) that delivers the mail outbox until nothing is due.
 * The build compiles the site's own mail templates into its table (functions-build.ts).
 */
export function handlerFor(compiled: CompiledSite & { mailTemplates?: MailTemplateOverrides }): Handler {
  return mailBackgroundHandler(mailDeliveryRuntime(process.env, compiled?.mailTemplates));
}
