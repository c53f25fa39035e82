import { z } from 'zod';
import { ROLE_NAME_PATTERN, roleNameProblem } from '../core/role-name.js';

/**
 * The `identity` section of rolegate.config.json: who may sign up through
 * Netlify Identity, which roles a new user gets, and where users are copied.
 * Rules are not secrets, so they live in the repository next to the gates.
 */

const domain = z
  .string()
  .regex(/^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/u, { error: 'must be a lower-case domain such as "example.com" (no "@")' });
const email = z.string().regex(/^[^@\s]+@[^@\s]+$/u, { error: 'must be an email address' }).transform((e) => e.toLowerCase());
// The roles a rule gives must be ones a gate can require: the gates' own rule.
const role = z.string().regex(new RegExp(ROLE_NAME_PATTERN, 'u'), { error: (issue) => roleNameProblem(String(issue.input)) ?? 'must be a role name' });

const roleRule = z
  .strictObject({
    emailDomains: z.array(domain).default([]).describe('Addresses at these domains (exactly; subdomains are not included).'),
    emails: z.array(email).default([]).describe('These exact addresses.'),
    roles: z.array(role).min(1, { error: 'a rule needs at least one role' }).describe('Roles added at sign-up.'),
  })
  .refine((rule) => rule.emailDomains.length + rule.emails.length > 0, { error: 'a rule needs emailDomains or emails' })
  .describe('Roles given at sign-up to matching addresses; every matching rule adds its roles.');

export const identityConfigSchema = z
  .strictObject({
    signups: z
      .strictObject({
        allowEmailDomains: z.array(domain).default([]),
        allowEmails: z.array(email).default([]),
        message: z.string().min(1).max(300).optional().describe('Shown to a refused person; says what to do instead.'),
      })
      .default({ allowEmailDomains: [], allowEmails: [] })
      .describe('When either list is non-empty, only matching addresses may sign up.'),
    roleRules: z.array(roleRule).default([]),
    sinks: z
      .array(z.enum(['store', 'contentful']))
      .min(1)
      .default(['store'])
      .refine((sinks) => new Set(sinks).size === sinks.length, { error: 'each sink once' })
      .describe('Where Identity users are copied: "store" (this site\'s database) and/or "contentful".'),
  })
  .describe('Syncing Netlify Identity users (identity-* functions, identity-webhook, rolegate sync).');

export type IdentitySyncConfig = z.output<typeof identityConfigSchema>;
