import type { Handler } from '@netlify/functions';
import { mailBackgroundHandler, mailDeliveryRuntime } from '../mail/handlers.js';
import type { CompiledSite } from './prebuilt.js';

/**
 * The `mail-background` function of a site (`rolegate/functions/mail-background`): a background
 * function (the -background suffix) that delivers the mail outbox until nothing is due.
 * The compiled table is taken like every function's; the site's own mail templates will come
 * from it.
 */
export function handlerFor(_compiled: CompiledSite): Handler {
  return mailBackgroundHandler(mailDeliveryRuntime(process.env));
}
