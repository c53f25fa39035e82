import { nodeCrypto } from '../core/node-crypto.js';
import { jwtVerify } from 'jose';
import { RolegateError } from '../core/rolegate-error.js';

/**
 * Netlify Identity's outgoing webhook signature: `X-Webhook-Signature` is an
 * HS256 JWT signed with the webhook secret set in the Identity settings, with
 * claims {iat, sub: instance id, iss: "gotrue", sha256: hex SHA-256 of the
 * exact body} (netlify/gotrue api/hooks.go, `webhookClaims`).
 */
export type WebhookErrorCode = 'missing_signature' | 'invalid_signature' | 'stale_signature' | 'body_mismatch';

export class WebhookError extends RolegateError {
  constructor(readonly code: WebhookErrorCode, message: string) {
    super(message);
    this.name = 'WebhookError';
  }
}

export interface WebhookCheck {
  secret: Uint8Array;
  /** When set, `sub` must equal it; otherwise it must equal the body's instance_id. */
  instanceId?: string;
  /** How old `iat` may be. GoTrue signs once per event and re-sends that signature on a retry (within seconds). */
  maxAgeSeconds: number;
  /** Seconds since the epoch. */
  now: number;
}

const MAX_SIGNATURE_LENGTH = 2048;
// iat a little in the future is clock skew between GoTrue and us; more is forged or broken.
const CLOCK_SKEW_SECONDS = 30;

export function sha256Hex(data: string | Uint8Array): string {
  return nodeCrypto().createHash('sha256').update(data).digest('hex');
}

/** Verifies the signature against the raw body; throws a WebhookError naming what is wrong. */
export async function verifyWebhookSignature(rawBody: string, signature: string | undefined, bodyInstanceId: string | null, check: WebhookCheck): Promise<void> {
  if (!signature) throw new WebhookError('missing_signature', 'the X-Webhook-Signature header is missing');
  if (signature.length > MAX_SIGNATURE_LENGTH) throw new WebhookError('invalid_signature', 'the signature is not a valid JWT');
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(signature, check.secret, {
      algorithms: ['HS256'],
      issuer: 'gotrue',
      requiredClaims: ['iat', 'sub', 'sha256'],
      currentDate: new Date(check.now * 1000),
    }));
  } catch {
    throw new WebhookError('invalid_signature', 'the signature does not verify with the webhook secret');
  }
  // Freshness by hand: skew is allowed only into the future, never added to the age.
  if (typeof claims.iat !== 'number' || check.now - claims.iat > check.maxAgeSeconds || claims.iat > check.now + CLOCK_SKEW_SECONDS) {
    throw new WebhookError('stale_signature', 'the signature is too old or not yet valid');
  }
  const instance = check.instanceId ?? bodyInstanceId;
  if (!instance || claims.sub !== instance) throw new WebhookError('invalid_signature', 'the signature was made for another Identity instance');
  const expected = Buffer.from(sha256Hex(rawBody));
  const signed = Buffer.from(typeof claims.sha256 === 'string' ? claims.sha256.toLowerCase() : '');
  if (signed.length !== expected.length || !nodeCrypto().timingSafeEqual(signed, expected)) {
    throw new WebhookError('body_mismatch', 'the body is not the one that was signed');
  }
}
