import { RolegateError } from '../core/rolegate-error.js';

/**
 * The mails rolegate sends, and how their templates are written. Variables use the spelling of
 * Netlify Identity's and GoTrue's mailer templates (`{{ .ConfirmationURL }}`, `{{ .SiteURL }}`,
 * `{{ .Email }}`, `{{ .Token }}`, `{{ .NewEmail }}`; supabase/auth README, "MAILER_TEMPLATES_*"),
 * so a site moving off Identity can bring its templates as they are.
 */

/** The template names the outbox's `template` column holds. */
export const MAIL_TEMPLATE_NAMES = ['recovery', 'magic_link', 'signup', 'signup_existing', 'signup_pending', 'invite', 'email_change', 'email_change_notice'] as const;
export type MailTemplateName = (typeof MAIL_TEMPLATE_NAMES)[number];

/** One mail's three parts, each a template string. */
export interface MailTemplate {
  subject: string;
  text: string;
  html: string;
}

/** A site's own templates by name; a part left out keeps rolegate's. */
export type MailTemplateOverrides = Readonly<Record<string, Partial<MailTemplate> | undefined>>;

/** What a delivered mail says: `subject` is one line, `html` has every value escaped. */
export type RenderedMail = MailTemplate;

/** The secret part of a mail, opened from the outbox's seal: the link and its raw token. */
export interface MailSecret {
  url: string;
  token: string;
}

export interface RenderMailOptions {
  template: string;
  recipient: string;
  siteUrl: URL | string;
  /** null for a notice that carries no link. */
  secret: MailSecret | null;
  /** The outbox row's `variables` (snake_case: `new_email`, `old_email`, `email`). */
  variables: Record<string, unknown>;
  overrides?: MailTemplateOverrides;
}

/** The outbox names a template rolegate does not have: the mail can never be rendered. */
export class UnknownMailTemplateError extends RolegateError {
  readonly code = 'unknown_mail_template';
  constructor(readonly template: string) {
    super(`there is no mail template named ${JSON.stringify(template)} (known: ${MAIL_TEMPLATE_NAMES.join(', ')})`);
    this.name = 'UnknownMailTemplateError';
  }
}

const LINK_SIGN_OFF = "If you didn't ask for this, you can ignore this mail.";

function builtIn(heading: string, lead: string, action: string | null, after: string): MailTemplate {
  const htmlAction = action ? `<p><a href="{{ .ConfirmationURL }}">${action}</a></p>\n<p>Or paste this link into your browser:<br>{{ .ConfirmationURL }}</p>\n` : '';
  return {
    subject: heading,
    text: `${lead}\n\n${action ? `${action}:\n{{ .ConfirmationURL }}\n\n` : ''}${after}\n\n{{ .SiteURL }}\n`,
    html: `<!doctype html>\n<html><body>\n<h2>${heading}</h2>\n<p>${lead}</p>\n${htmlAction}<p>${after}</p>\n<p><a href="{{ .SiteURL }}">{{ .SiteURL }}</a></p>\n</body></html>\n`,
  };
}

// Written in the same template language a site's own would be, and rendered the same way.
const BUILT_IN: Readonly<Record<MailTemplateName, MailTemplate>> = {
  recovery: builtIn('Reset your password', 'Someone asked to reset the password of the account {{ .Email }} at {{ .SiteURL }}.', 'Choose a new password', `${LINK_SIGN_OFF} Your password stays as it is.`),
  magic_link: builtIn('Your sign-in link', 'Here is the link to sign in to {{ .SiteURL }} as {{ .Email }}. It works once.', 'Sign in', LINK_SIGN_OFF),
  signup: builtIn('Confirm your address', 'Someone signed up at {{ .SiteURL }} with the address {{ .Email }}.', 'Confirm your address', `${LINK_SIGN_OFF} No account is made without the confirmation.`),
  signup_existing: builtIn(
    'Someone tried to sign up with your address',
    'Someone tried to sign up at {{ .SiteURL }} with the address {{ .Email }}, which already has an account. No new account was made.',
    null,
    "If it was you, sign in instead, or reset your password from the sign-in page if you don't remember it. If it wasn't, you can ignore this mail.",
  ),
  signup_pending: builtIn(
    'Finish signing up: choose your password',
    'Someone signed up at {{ .SiteURL }} with the address {{ .Email }} again before the address was confirmed. Only the owner of this mailbox can finish, so no password sent was kept.',
    'Choose your password',
    LINK_SIGN_OFF,
  ),
  invite: builtIn("You've been invited", "You've been invited to an account at {{ .SiteURL }} with the address {{ .Email }}.", 'Accept the invitation and choose a password', LINK_SIGN_OFF),
  email_change: builtIn('Confirm your new address', 'Someone asked to change the address of an account at {{ .SiteURL }} to {{ .NewEmail }}.', 'Confirm the new address', `${LINK_SIGN_OFF} The address stays as it was.`),
  email_change_notice: builtIn(
    'Your address is being changed',
    'Someone asked to change the address of your account {{ .Email }} at {{ .SiteURL }} to {{ .NewEmail }}. The change happens once the new address is confirmed.',
    null,
    "If it wasn't you, sign in and change your password, or contact the site.",
  ),
};

function isBuiltIn(name: string): name is MailTemplateName {
  return (MAIL_TEMPLATE_NAMES as readonly string[]).includes(name);
}

/** GoTrue's SiteURL is the configured URL as written, without a trailing slash. */
function siteUrlText(siteUrl: URL | string): string {
  return new URL(siteUrl).href.replace(/\/$/u, '');
}

function stringVariable(variables: Record<string, unknown>, key: string): string | undefined {
  const value = variables[key];
  return typeof value === 'string' ? value : undefined;
}

/** The values a template may name, by their Go-template names. */
function templateValues(options: RenderMailOptions): ReadonlyMap<string, string> {
  const { variables } = options;
  return new Map([
    ['ConfirmationURL', options.secret?.url ?? ''],
    ['Token', options.secret?.token ?? ''],
    ['SiteURL', siteUrlText(options.siteUrl)],
    // The account's address; the recipient unless the row says otherwise (an email change
    // mailed to the new address keeps the old one here, as GoTrue does).
    ['Email', stringVariable(variables, 'email') ?? options.recipient],
    ['NewEmail', stringVariable(variables, 'new_email') ?? ''],
    ['OldEmail', stringVariable(variables, 'old_email') ?? ''],
  ]);
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/gu, (c) => HTML_ESCAPES[c]!);
}

// Any Go-template action, `{{ .Name }}`, `{{.Name}}` and `{{- .Name -}}` included. Only a bare
// field of the known values is filled in; every other action (an unknown field, `.Data.x`, an
// `if`) becomes empty, so a template never mails its own source.
const ACTION = /\{\{-?\s*(.*?)\s*-?\}\}/gsu;
const FIELD = /^\.([A-Za-z][A-Za-z0-9_]*)$/u;

/** Fills in one template string; `escape` is applied to every value (HTML escaping for the HTML part). */
export function renderTemplate(template: string, values: ReadonlyMap<string, string>, escape: (value: string) => string = (v) => v): string {
  return template.replace(ACTION, (_action, inner: string) => {
    const field = FIELD.exec(inner)?.[1];
    const value = field === undefined ? undefined : values.get(field);
    return value === undefined ? '' : escape(value);
  });
}

/** One header line: line breaks would start new headers (RFC 5322 §2.2), other controls have no place in a subject. */
function oneLine(subject: string): string {
  return subject.replace(/[\u0000-\u001f\u007f]+/gu, ' ').replace(/ {2,}/gu, ' ').trim();
}

/**
 * Renders one outbox mail: the site's override of each part if it has one, else rolegate's,
 * with Identity/GoTrue-style variables filled in (HTML-escaped in the HTML part, and an
 * unknown one left empty). The subject is always a single line.
 *
 * @example
 * const mail = renderMail({ template: 'recovery', recipient: 'ada@example.com', siteUrl: config.auth.siteUrl, secret: { url, token }, variables: {} });
 * mail.subject; // "Reset your password"
 */
export function renderMail(options: RenderMailOptions): RenderedMail {
  if (!isBuiltIn(options.template)) throw new UnknownMailTemplateError(options.template);
  const template = { ...BUILT_IN[options.template], ...definedParts(options.overrides?.[options.template]) };
  const values = templateValues(options);
  return {
    subject: oneLine(renderTemplate(template.subject, values)),
    text: renderTemplate(template.text, values),
    html: renderTemplate(template.html, values, escapeHtml),
  };
}

/** The parts an override really sets (a part given as undefined keeps rolegate's). */
function definedParts(override: Partial<MailTemplate> | undefined): Partial<MailTemplate> {
  if (!override) return {};
  return Object.fromEntries(Object.entries(override).filter(([key, value]) => typeof value === 'string' && ['subject', 'text', 'html'].includes(key)));
}
