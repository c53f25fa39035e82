import { z } from 'zod';
import { EXACT_PATH_PATTERN, pathPatternProblem } from '../gates/path-pattern.js';
import { EMAIL_TOKEN_LIFETIMES } from '../core/email-token.js';
import { DEFAULT_ACCOUNT_SETTINGS } from './account-settings.js';

/**
 * The `accounts` section of rolegate.config.json: the pages of the account flows (a mailed
 * link leads to them, and their forms post to the functions) and how long mailed links work.
 */

const page = z.string().regex(new RegExp(EXACT_PATH_PATTERN, 'u'), {
  error: (iss) => (typeof iss.input === 'string' ? (pathPatternProblem(iss.input, { allowSplat: false }) ?? 'is invalid') : 'must be a string'),
});

const DEFAULT_PAGES = DEFAULT_ACCOUNT_SETTINGS.pages;

export const accountsConfigSchema = z
  .strictObject({
    pages: z
      .strictObject({
        forgotPassword: page.default(DEFAULT_PAGES.forgotPassword).describe('The "forgot your password?" form (posts an address to the recover function).'),
        checkEmail: page.default(DEFAULT_PAGES.checkEmail).describe('Shown after a mail was requested: "if an account exists, a link is on its way".'),
        choosePassword: page.default(DEFAULT_PAGES.choosePassword).describe('Where a recovery link leads: the form that sets the new password (posts to the verify function).'),
      })
      .default(DEFAULT_PAGES),
    linkLifetimes: z
      .strictObject({
        recovery: z.int().min(60).max(EMAIL_TOKEN_LIFETIMES.recovery).default(EMAIL_TOKEN_LIFETIMES.recovery)
          .describe('Seconds a password recovery link works (at most one hour).'),
      })
      .default({ recovery: EMAIL_TOKEN_LIFETIMES.recovery }),
  })
  .describe('Self-service account pages and mailed links.');

export type AccountsSection = z.output<typeof accountsConfigSchema>;
