import { MAIL_RETRY_BUDGET_MS, mailDeliveryRuntime, mailScheduledHandler } from '../mail/handlers.js';
import type { MailTemplateOverrides } from '../mail/templates.js';
import type { CompiledSite } from './prebuilt.js';

/**
 * The `mail-scheduled` function of a site (`rolegate/functions/mail-scheduled`): every five
 * minutes it sends the mail that waits for a retry. A v2 function (Request → Response), as
 * Netlify's scheduled functions are declared by their `config.schedule` export.
 */
export function handlerFor(compiled: CompiledSite & { mailTemplates?: MailTemplateOverrides }): (request: Request) => Promise<Response> {
  return mailScheduledHandler(mailDeliveryRuntime(process.env, compiled?.mailTemplates, MAIL_RETRY_BUDGET_MS));
}
