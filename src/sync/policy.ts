import type { IdentitySyncConfig } from '../site-config/identity.js';

/** The part after the last "@", lower-cased. */
function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * Why this address may not sign up, in words the person can act on, or null
 * when it may. Open when no allow-list is configured.
 */
export function signupRefusal(config: IdentitySyncConfig, email: string): string | null {
  const { allowEmailDomains, allowEmails, message } = config.signups;
  if (allowEmailDomains.length === 0 && allowEmails.length === 0) return null;
  const address = email.toLowerCase();
  if (allowEmails.includes(address) || allowEmailDomains.includes(domainOf(address))) return null;
  if (message) return message;
  const domains = allowEmailDomains.map((d) => `@${d}`);
  return domains.length > 0
    ? `Sign-up is open to ${domains.join(', ')} addresses only. Sign up with such an address, or ask an administrator for an invitation.`
    : 'Sign-up is by invitation only. Ask an administrator for an invitation.';
}

/** Roles the configured rules give this address, in rule order, without repeats. */
export function rolesForSignup(config: IdentitySyncConfig, email: string): string[] {
  const address = email.toLowerCase();
  const roles: string[] = [];
  for (const rule of config.roleRules) {
    if (rule.emails.includes(address) || rule.emailDomains.includes(domainOf(address))) roles.push(...rule.roles);
  }
  return [...new Set(roles)];
}
