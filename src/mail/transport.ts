import { RolegateError } from '../core/rolegate-error.js';
import type { Secret } from '../core/secret.js';

/**
 * How a rendered mail leaves. The only file that knows nodemailer (STYLE.md: wrap a
 * dependency whose API moves in one file); delivery (deliver.ts) sees this interface only.
 */

export interface OutgoingMail {
  from: string;
  /** One bare address: never parsed as a list, so a value with a comma cannot add recipients. */
  to: string;
  subject: string;
  text: string;
  html: string;
  /** A stable Message-ID (`<…@…>`), so a receiving server can tell a resend from a new mail. */
  messageId?: string;
}

export interface MailTransport {
  /** Resolves once the mail server accepted the mail; throws MailSendError otherwise. */
  send(mail: OutgoingMail, options?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * A mail that did not leave. `permanent`: the server refused this mail for good (an SMTP 5xx
 * reply, RFC 5321 §4.2.1), so trying again sends nothing; otherwise (no connection, a timeout,
 * a 4xx reply, no SMTP_URL) the same mail may go later. The message never holds SMTP_URL.
 */
export class MailSendError extends RolegateError {
  readonly code = 'mail_send_failed';
  constructor(message: string, readonly permanent: boolean) {
    super(message);
    this.name = 'MailSendError';
  }
}

const CONNECTION_TIMEOUT_MS = 5_000;
const GREETING_TIMEOUT_MS = 5_000;
const SOCKET_TIMEOUT_MS = 10_000;

// A recipient is one address from the users table; anything that would be read as more
// (a list, a display name, a line break) is refused before nodemailer parses it.
const SINGLE_ADDRESS = /^[^\s@<>",;()\\]+@[^\s@<>",;()\\]+$/u;

interface SmtpFailure {
  message?: string;
  code?: string;
  /** The SMTP command the server answered (`RCPT TO`, `AUTH PLAIN`, …). */
  command?: string;
  /** The server's reply line, code first. */
  response?: string;
  responseCode?: number;
}

/** The server's reply first (what `rolegate mail` shows in its narrow column), then where it came. */
function describe(failure: SmtpFailure): string {
  if (failure.response) {
    const where = failure.command && failure.command !== 'CONN' ? ` (its answer to ${failure.command})` : '';
    const hint = failure.code === 'EAUTH' ? '; check the login in SMTP_URL' : '';
    return `${failure.response.replace(/\s+/gu, ' ').trim()}${where}${hint}`;
  }
  return `the mail server could not be reached or did not answer: ${failure.message ?? 'no reason given'}`;
}

/**
 * Permanent only for the server's verdict on this mail: a 5xx reply other than 503 (a bad
 * sequence of commands, fine on a new connection). A refused login is a 5xx too, but it is
 * the configuration that is wrong, not the mail: it waits until SMTP_URL is fixed.
 */
function isPermanent(failure: SmtpFailure): boolean {
  const reply = failure.responseCode;
  if (failure.code === 'EAUTH' || failure.code === 'ENOAUTH') return false;
  return typeof reply === 'number' && reply >= 500 && reply < 600 && reply !== 503;
}

function redacted(text: string, secrets: string[]): string {
  return secrets.filter((s) => s.length >= 3).reduce((out, s) => out.split(s).join('[redacted]'), text);
}

/** Host, port, TLS and login from SMTP_URL; the password is decoded here and handed only to nodemailer. */
function smtpOptions(smtpUrl: Secret) {
  const url = new URL(smtpUrl.reveal());
  const secure = url.protocol === 'smtps:';
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/u, '$1'),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    ...(user ? { auth: { user, pass } } : {}),
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    dnsTimeout: CONNECTION_TIMEOUT_MS,
    // A mail is the composed text and nothing else: no file or URL is ever read into it.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    // Whatever a message could echo: the password as decoded and as written, and the URL.
    secrets: [pass, url.password, url.href],
  };
}

/**
 * Sends through the SMTP server SMTP_URL names (`smtps://user:password@host:465`, or
 * `smtp://…:587` with STARTTLS when offered), one connection per mail, each step bounded by a
 * few seconds so a hung server cannot hold a delivery run. nodemailer is imported on first
 * use: a function that never mails never loads it.
 *
 * @example
 * const transport = smtpTransport(config.mail.smtpUrl!);
 * await transport.send({ from, to: 'ada@example.com', subject, text, html });
 */
export function smtpTransport(smtpUrl: Secret): MailTransport {
  const { secrets, ...options } = smtpOptions(smtpUrl);
  let transporter: Promise<import('nodemailer').Transporter> | undefined;
  const open = () => (transporter ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(options)));
  return {
    async send(mail, sendOptions) {
      if (!SINGLE_ADDRESS.test(mail.to)) throw new MailSendError('the recipient is not a single mail address', true);
      try {
        await (await open()).sendMail({
          from: mail.from,
          to: { name: '', address: mail.to },
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          ...(mail.messageId ? { messageId: mail.messageId } : {}),
          ...(sendOptions?.signal ? { signal: sendOptions.signal } : {}),
        });
      } catch (error) {
        const failure = (error ?? {}) as SmtpFailure;
        throw new MailSendError(redacted(describe(failure), secrets), isPermanent(failure));
      }
    },
  };
}

/**
 * Without SMTP_URL: every send fails transiently, so mail waits in the outbox (where
 * `rolegate mail` shows it with this reason) and leaves once SMTP_URL is set.
 */
export const unconfiguredTransport: MailTransport = {
  async send() {
    throw new MailSendError('SMTP_URL is not set', false);
  },
};

const URL_IN_TEXT = /https?:\/\/[^\s<>"]+/gu;

/**
 * For local development without SMTP_URL (`ROLEGATE_DEV_MAIL=terminal`): each mail becomes one
 * line on the terminal with its recipient, subject and links, so a recovery link can be
 * clicked from the `rolegate dev` output. Never for a deployed site: the link is a live token.
 *
 * @example
 * const transport = terminalTransport((line) => console.log(line));
 */
export function terminalTransport(write: (line: string) => void): MailTransport {
  return {
    async send(mail) {
      // A link that ends a sentence keeps its full stop in the text, not on the terminal.
      const links = [...new Set((mail.text.match(URL_IN_TEXT) ?? []).map((url) => url.replace(/[.,;:!?)]+$/u, '')))];
      write(`rolegate mail to ${mail.to}: ${mail.subject}${links.length ? ` — ${links.join(' ')}` : ''}`);
    },
  };
}
