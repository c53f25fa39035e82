/**
 * The Identity (GoTrue) admin users API, read page by page:
 * `GET <identity url>/admin/users?page=N&per_page=M&sort=created_at asc` with
 * an admin bearer token; the body is `{aud, users: [...]}` and the
 * `X-Total-Count` header holds the total (netlify/gotrue api/admin.go,
 * api/pagination.go, api/sorting.go). Oldest first, so users created while a
 * backfill runs land on later pages instead of shifting the earlier ones.
 */
import { RolegateError } from '../core/rolegate-error.js';

export interface UsersPage {
  users: unknown[];
  total: number | null;
}

export interface IdentityAdminSource {
  readonly url: string;
  fetchPage(page: number, perPage: number): Promise<UsersPage>;
}

/** The admin API refused or failed; the message names the status, never the token. */
export class IdentityAdminError extends RolegateError {
  readonly code = 'identity_admin_failed';
  constructor(message: string, readonly status: number | null) {
    super(message);
    this.name = 'IdentityAdminError';
  }
}

export function gotrueAdminSource(options: { url: string; token: string; fetch?: typeof fetch; timeoutMs?: number }): IdentityAdminSource {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  return {
    url: base,
    async fetchPage(page, perPage) {
      const url = new URL(`${base}/admin/users`);
      url.searchParams.set('page', String(page));
      url.searchParams.set('per_page', String(perPage));
      url.searchParams.set('sort', 'created_at asc');
      let response: Response;
      try {
        response = await doFetch(url, {
          headers: { authorization: `Bearer ${options.token}`, accept: 'application/json' },
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        throw new IdentityAdminError(`the Identity admin API at ${base} is unreachable (${(error as Error).name})`, null);
      }
      if (response.status === 401 || response.status === 403) {
        throw new IdentityAdminError(`the Identity admin API refused the token (${response.status}); IDENTITY_ADMIN_TOKEN must be an admin token of this instance`, response.status);
      }
      if (!response.ok) {
        const detail = await response.text().then((t) => t.slice(0, 200)).catch(() => '');
        throw new IdentityAdminError(`the Identity admin API answered ${response.status} for page ${page}${detail ? `: ${detail}` : ''}`, response.status);
      }
      const body = (await response.json().catch(() => null)) as { users?: unknown } | null;
      if (!body || !Array.isArray(body.users)) throw new IdentityAdminError(`the Identity admin API answered page ${page} without a users list`, response.status);
      const total = Number(response.headers.get('x-total-count'));
      return { users: body.users, total: Number.isFinite(total) && response.headers.has('x-total-count') ? total : null };
    },
  };
}
