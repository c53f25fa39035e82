import { z } from 'zod';
import { EXACT_PATH_PATTERN, pathPatternProblem } from '../gates/path-pattern.js';
import { EMAIL_TOKEN_LIFETIMES } from '../core/email-token.js';
import { ROLE_NAME_PATTERN, roleNameProblem } from '../core/role-name.js';
import { DEFAULT_ACCOUNT_SETTINGS } from './account-settings.js';

/**
 * The `accounts` section of rolegate.config.json: who may create an account, the pages of
 * the account flows (a mailed link leads to them, and their forms post to the functions) and
 * how long mailed links work.
 */

export const page = z.string().regex(new RegExp(EXACT_PATH_PATTERN, 'u'), {
  error: (iss) => (typeof iss.input === 'string' ? (pathPatternProblem(iss.input, { allowSplat: false }) ?? 'is invalid') : 'must be a string'),
});

export const roleName = z.string().regex(new RegExp(ROLE_NAME_PATTERN, 'u'), {
  error: (iss) => (typeof iss.input === 'string' ? (roleNameProblem(iss.input) ?? 'is invalid') : 'must be a string'),
});

// A host name as it follows the "@" of an address: labels of letters, digits and inner hyphens.
const domain = z
  .string()
  .regex(/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/u, {
    error: 'must be a domain in lower case, such as "example.com" (no "@", no wildcard)',
  });

const DEFAULTS = DEFAULT_ACCOUNT_SETTINGS;
const DEFAULT_PAGES = DEFAULTS.pages;

/** A link lifetime in seconds: at least a minute, at most rolegate's own limit for that kind. */
function lifetime(max: number, what: string) {
  return z.int().min(60).max(max).default(max).describe(`Seconds ${what} works (at most ${max / 3600} hours).`);
}

export const accountsConfigSchema = z
  .strictObject({
    registration: z
      .enum(['closed', 'invite', 'open'])
      .default(DEFAULTS.registration)
      .describe('Who may create an account. "closed" (the default): only admins, at the terminal or by invitation. "invite": the same, and the sign-up page says it is by invitation. "open": any visitor may sign up.'),
    allowedDomains: z
      .array(domain)
      .default([])
      .describe('Sign-up accepts only addresses at these domains (exactly; "example.com" does not admit "mail.example.com"). Empty: any domain.'),
    newUserRoles: z
      .array(roleName)
      .default([])
      .describe('Roles a visitor\'s own sign-up gets, and an invitation that names none.'),
    requireConfirmation: z
      .boolean()
      .default(DEFAULTS.requireConfirmation)
      .describe('A new account must confirm its address by a mailed link before it can sign in (the default). Off: sign-up signs in at once, and the answer then tells whether an address already had an account.'),
    inviterRoles: z
      .array(roleName)
      .min(1)
      .default(DEFAULTS.inviterRoles)
      .describe('Roles that may invite people (any one of them).'),
    signInLinks: z
      .boolean()
      .default(DEFAULTS.signInLinks)
      .describe('Sign-in by a link mailed to the address ("magic link", the magic-link function). Off by default: whoever reads the mailbox can then sign in without the password.'),
    pages: z
      .strictObject({
        forgotPassword: page.default(DEFAULT_PAGES.forgotPassword).describe('The "forgot your password?" form (posts an address to the recover function).'),
        checkEmail: page.default(DEFAULT_PAGES.checkEmail).describe('Shown after a mail was requested: "if an account exists, a link is on its way".'),
        choosePassword: page.default(DEFAULT_PAGES.choosePassword).describe('Where a recovery or invitation link leads: the form that sets the password (posts to the verify function).'),
        signup: page.default(DEFAULT_PAGES.signup).describe('The sign-up form (posts to the signup function).'),
        confirm: page.default(DEFAULT_PAGES.confirm).describe('Where a confirmation link leads (a sign-up, a new address): one button that confirms and signs in (posts to the verify function).'),
        account: page.default(DEFAULT_PAGES.account).describe('The signed-in user\'s own page: change the password or the address (posts to the account function).'),
      })
      .default(DEFAULT_PAGES),
    mailTemplates: z
      .string()
      .regex(/^(?!\/)(?![A-Za-z]:)(?!.*(?:^|[\\/])\.\.(?:[\\/]|$)).+$/u, { error: 'must be a relative path inside the site (no "..")' })
      .optional()
      .describe('A folder of the site with its own mail templates, read at build: <template>.subject.txt, <template>.txt and <template>.html (templates: recovery, signup, signup_existing, signup_pending, invite, email_change, email_change_notice, magic_link), with Identity/GoTrue variables such as {{ .ConfirmationURL }}. A part without a file keeps rolegate\'s.'),
    linkLifetimes: z
      .strictObject({
        recovery: lifetime(EMAIL_TOKEN_LIFETIMES.recovery, 'a password recovery link'),
        signup: lifetime(EMAIL_TOKEN_LIFETIMES.signup, 'a sign-up confirmation link'),
        invite: lifetime(EMAIL_TOKEN_LIFETIMES.invite, 'an invitation link'),
        emailChange: lifetime(EMAIL_TOKEN_LIFETIMES.email_change, 'the link that confirms a new address'),
        magicLink: lifetime(EMAIL_TOKEN_LIFETIMES.magic_link, 'a sign-in link'),
      })
      .default(DEFAULTS.linkLifetimes),
  })
  .describe('Self-service accounts: registration, the account pages and mailed links.');

export type AccountsSection = z.output<typeof accountsConfigSchema>;
