import { describe, expect, it } from 'vitest';
import { MAIL_TEMPLATE_NAMES, renderMail, UnknownMailTemplateError, type RenderMailOptions } from '../../src/mail/templates.js';

const link = { url: 'https://site.example/verify?token=tok_123&x=1', token: 'tok_123' };
/** The distinct URLs a text shows, without the full stop of a sentence. */
const linksIn = (text: string) => [...new Set((text.match(/https?:\/\/\S+/g) ?? []).map((url) => url.replace(/[.,]$/, '')))];
const base: RenderMailOptions = { template: 'recovery', recipient: 'ada@example.com', siteUrl: new URL('https://site.example/'), secret: link, variables: {} };

describe('built-in mail templates', () => {
  it('every template renders a one-line subject and text and HTML that name the site', () => {
    for (const template of MAIL_TEMPLATE_NAMES) {
      const mail = renderMail({ ...base, template, secret: template === 'signup_existing' || template === 'email_change_notice' ? null : link, variables: { new_email: 'new@example.com' } });
      expect(mail.subject, template).toMatch(/^[^\r\n]+$/);
      expect(mail.text, template).toContain('https://site.example');
      expect(mail.html, template).toContain('href="https://site.example"');
      // No template shows its own source.
      expect(`${mail.subject}${mail.text}${mail.html}`, template).not.toContain('{{');
    }
  });

  it('a recovery mail carries the link in both parts, escaped in the HTML', () => {
    const mail = renderMail(base);
    expect(mail.subject).toBe('Reset your password');
    expect(mail.text).toContain('https://site.example/verify?token=tok_123&x=1');
    expect(mail.text).toContain('ada@example.com');
    expect(mail.html).toContain('href="https://site.example/verify?token=tok_123&amp;x=1"');
    expect(mail.html).not.toContain('token=tok_123&x=1');
  });

  it('the notices carry no link but the site, and the change notice names the new address', () => {
    const notice = renderMail({ ...base, template: 'email_change_notice', secret: null, variables: { new_email: 'new@example.com' } });
    expect(notice.text).toContain('new@example.com');
    expect(notice.text).toContain('ada@example.com');
    expect(linksIn(notice.text)).toEqual(['https://site.example']);
    const existing = renderMail({ ...base, template: 'signup_existing', secret: null });
    expect(linksIn(existing.text)).toEqual(['https://site.example']);
    expect(existing.subject).toBe('Someone tried to sign up with your address');
  });

  it('an email change mailed to the new address asks to confirm it and keeps the old one as Email', () => {
    const mail = renderMail({ ...base, template: 'email_change', recipient: 'new@example.com', variables: { email: 'ada@example.com', new_email: 'new@example.com' } });
    expect(mail.subject).toBe('Confirm your new address');
    expect(mail.text).toContain('to new@example.com');
    expect(mail.text).toContain(link.url);
  });

  it('an unknown template is an error naming it, not an empty mail', () => {
    expect(() => renderMail({ ...base, template: 'welcome' })).toThrow(UnknownMailTemplateError);
    expect(() => renderMail({ ...base, template: 'welcome' })).toThrow(/"welcome"/);
  });
});

describe("a site's own templates in Identity's spelling", () => {
  const identityRecovery = {
    subject: 'Reset your password for {{ .SiteURL }}',
    html: '<h2>Reset Password</h2>\n<p>Follow <a href="{{ .ConfirmationURL }}">this link</a> to reset the password for {{.Email}}, or enter {{ .Token }}.</p>',
  };

  it('fills in every GoTrue variable, with or without spaces, and escapes values in the HTML', () => {
    const mail = renderMail({ ...base, recipient: 'o\'brien+<b>@example.com', overrides: { recovery: identityRecovery } });
    expect(mail.subject).toBe('Reset your password for https://site.example');
    expect(mail.html).toBe('<h2>Reset Password</h2>\n<p>Follow <a href="https://site.example/verify?token=tok_123&amp;x=1">this link</a> to reset the password for o&#39;brien+&lt;b&gt;@example.com, or enter tok_123.</p>');
    // The part the site left out is rolegate's.
    expect(mail.text).toContain('Choose a new password:\nhttps://site.example/verify?token=tok_123&x=1');
  });

  it('an unknown variable or action renders as nothing, never as template text', () => {
    const mail = renderMail({ ...base, overrides: { recovery: { text: 'a{{ .Nope }}b{{ .Data.name }}c{{ if .Token }}d{{ end }}e{{- .Email -}}f' } } });
    expect(mail.text).toBe('abcdeada@example.comf');
  });

  it('a subject never holds a line break, whatever the template or the values', () => {
    const mail = renderMail({
      ...base,
      template: 'email_change_notice',
      secret: null,
      variables: { new_email: 'x@example.com\r\nBcc: victim@example.com' },
      overrides: { email_change_notice: { subject: 'Change\r\nto {{ .NewEmail }}\n' } },
    });
    expect(mail.subject).toBe('Change to x@example.com Bcc: victim@example.com');
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  it('values that are not strings are left empty', () => {
    const mail = renderMail({ ...base, template: 'email_change_notice', secret: null, variables: { new_email: { nested: true } }, overrides: { email_change_notice: { text: '[{{ .NewEmail }}]' } } });
    expect(mail.text).toBe('[]');
  });
});
