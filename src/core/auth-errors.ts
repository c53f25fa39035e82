/**
 * Every failure a client can cause or see, as data: a stable `code` and a
 * short public message. The HTTP status of each code is decided in one table
 * (src/http/respond.ts); causes stay in the log, never in the response.
 */
import { RolegateError } from './rolegate-error.js';

export type AuthErrorCode =
  | 'invalid_credentials'
  | 'throttled'
  | 'refresh_token_reused'
  | 'session_expired'
  | 'unauthenticated'
  | 'forbidden'
  | 'bad_origin'
  | 'bad_request'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'method_not_allowed'
  | 'link_invalid'
  | 'link_used'
  | 'link_expired'
  | 'weak_password'
  | 'signup_disabled'
  | 'email_not_allowed'
  | 'email_not_confirmed'
  | 'user_exists'
  | 'wrong_password'
  | 'sign_in_links_off'
  | 'reauthentication_required'
  | 'not_found'
  | 'provider_state_invalid'
  | 'provider_denied'
  | 'provider_failed'
  | 'provider_email_unverified'
  | 'provider_unavailable'
  | 'last_sign_in_method'
  | 'own_account'
  | 'unavailable'
  | 'internal';

const MESSAGES: Record<AuthErrorCode, string> = {
  invalid_credentials: 'The email or password is not right.',
  throttled: 'Too many failed sign-ins. Try again later.',
  refresh_token_reused: 'This session was ended because its refresh token was used twice.',
  session_expired: 'The session has ended. Sign in again.',
  unauthenticated: 'Sign in first.',
  forbidden: 'Your account does not have the role this needs.',
  bad_origin: 'This request must come from the site itself.',
  bad_request: 'The request is not valid.',
  unsupported_media_type: 'Send application/json or application/x-www-form-urlencoded.',
  payload_too_large: 'The request body is too large.',
  method_not_allowed: 'This method is not allowed here.',
  link_invalid: 'This link is not valid. Ask for a new one.',
  link_used: 'This link was already used. Ask for a new one if you still need it.',
  link_expired: 'This link has expired. Ask for a new one.',
  weak_password: 'Choose a password of at least 8 characters.',
  signup_disabled: 'This site does not take sign-ups. Ask its owner for an invitation.',
  email_not_allowed: 'This site takes sign-ups only from certain addresses, and this is not one of them.',
  email_not_confirmed: 'Confirm your address first: open the link we mailed you.',
  user_exists: 'That address already has an account.',
  wrong_password: 'Your current password is not right.',
  sign_in_links_off: 'This site does not sign in by emailed link. Sign in with your password.',
  reauthentication_required: 'Sign in again first: this change needs a session started in the last few minutes, or your current password.',
  not_found: 'There is nothing here.',
  provider_state_invalid: 'This sign-in expired or was started in another browser. Start it again from the sign-in page.',
  provider_denied: 'The sign-in was cancelled at the provider.',
  provider_failed: 'The provider\'s answer could not be verified, so nobody was signed in. Start again from the sign-in page.',
  provider_email_unverified: 'Your account at the provider has no verified address, so it cannot sign in or be linked here. Verify your address there, or sign in with your password.',
  provider_unavailable: 'The sign-in provider could not be reached. Try again shortly.',
  last_sign_in_method: 'This is your only way to sign in. Choose a password first ("Forgot your password?" mails a link), then remove it.',
  own_account: 'An admin cannot disable or delete their own account, or take away their own admin role, here: another admin can, or the rolegate CLI.',
  unavailable: 'The service is temporarily unavailable. Try again shortly.',
  internal: 'Something went wrong on our side.',
};

export class AuthError extends RolegateError {
  constructor(
    readonly code: AuthErrorCode,
    options: { message?: string; retryAfterSeconds?: number; allow?: string[]; cause?: unknown } = {},
  ) {
    super(options.message ?? MESSAGES[code], { cause: options.cause });
    this.name = 'AuthError';
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.allow = options.allow;
  }
  readonly retryAfterSeconds?: number;
  readonly allow?: string[];
}

export function publicMessage(code: AuthErrorCode): string {
  return MESSAGES[code];
}
