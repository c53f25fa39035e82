/**
 * A real SMTP server in the test process (smtp-server, on a free loopback port) that keeps
 * every mail it accepts, parsed with mailparser, so delivery is tested over the wire as it
 * runs against a provider. It can be stopped and started again on the same port (an
 * outage), and told to refuse a recipient with a permanent (550) or transient (451) reply.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CapturedMail {
  /** The envelope's recipients (RCPT TO). */
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  /** The message as it came over the wire (headers and MIME body). */
  raw: string;
}

export interface SmtpCapture {
  /** `smtp://user:password@127.0.0.1:<port>`, for SMTP_URL. */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Every mail accepted so far, in order. */
  readonly mails: CapturedMail[];
  /** The mails accepted for one recipient. */
  to(address: string): CapturedMail[];
  /** Answers RCPT TO for `address` with `code` (550 refuses for good, 451 for now) until accepted again. */
  refuse(address: string, code: 550 | 451): void;
  accept(address: string): void;
  /** Stops listening (a mail server outage): connections are refused until start(). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/**
 * Starts a capturing SMTP server; stop it in afterAll.
 *
 * @example
 * const smtp = await startSmtpCapture();
 * // … deliver with smtpTransport(new Secret(smtp.url)) …
 * expect(smtp.to('ada@example.com')).toHaveLength(1);
 */
export async function startSmtpCapture(): Promise<SmtpCapture> {
  const user = 'rolegate-smtp-user';
  const password = 'smtp-capture-password-0123456789';
  const mails: CapturedMail[] = [];
  const refused = new Map<string, 550 | 451>();
  let port = 0;
  let server: SMTPServer | undefined;

  const newServer = () =>
    new SMTPServer({
      logger: false,
      // Plain SMTP on loopback: STARTTLS would need a certificate the client trusts.
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authOptional: false,
      closeTimeout: 200,
      onAuth(auth, _session, callback) {
        if (auth.username === user && auth.password === password) return callback(null, { user });
        return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onRcptTo(address, _session, callback) {
        const code = refused.get(address.address.toLowerCase());
        if (code === undefined) return callback();
        const text = code === 550 ? 'No such mailbox here' : 'Mailbox busy, try again later';
        return callback(Object.assign(new Error(text), { responseCode: code }));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', (error: Error) => callback(error));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks);
          simpleParser(raw).then((parsed) => {
            mails.push({
              to: session.envelope.rcptTo.map((r) => r.address),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              messageId: parsed.messageId ?? '',
              raw: raw.toString('utf8'),
            });
            callback();
          }, (error: Error) => callback(error));
        });
      },
    });

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const next = newServer();
      next.on('error', reject);
      next.listen(port, '127.0.0.1', () => {
        port = (next.server.address() as AddressInfo).port;
        server = next;
        resolve();
      });
    });

  const stop = () =>
    new Promise<void>((resolve) => {
      const current = server;
      server = undefined;
      if (!current) return resolve();
      current.close(() => resolve());
    });

  await start();
  return {
    get url() {
      return `smtp://${user}:${password}@127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    user,
    password,
    mails,
    to: (address) => mails.filter((mail) => mail.to.includes(address)),
    refuse: (address, code) => void refused.set(address.toLowerCase(), code),
    accept: (address) => void refused.delete(address.toLowerCase()),
    stop,
    start,
  };
}
