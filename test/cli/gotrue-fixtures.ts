import { randomUUID } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * A bcrypt hash as GoTrue stores it. Go's x/crypto/bcrypt writes the `$2a$`
 * prefix; bcryptjs writes `$2b$` for the same algorithm and output, so the
 * prefix is swapped. Cost 4 keeps tests fast.
 */
export function goTrueHash(password: string): string {
  return bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2a$');
}

/** One `auth.users` row as `select row_to_json(u) from auth.users u` exports it. */
export function goTrueRow(fields: { email: string; password?: string; roles?: string[]; id?: string } & Record<string, unknown>) {
  const { email, password, roles, id, ...rest } = fields;
  return {
    instance_id: '00000000-0000-0000-0000-000000000000',
    id: id ?? randomUUID(),
    aud: 'authenticated',
    role: 'authenticated',
    email,
    encrypted_password: password === undefined ? '' : goTrueHash(password),
    email_confirmed_at: '2024-03-01T10:00:00.000000+00:00',
    raw_app_meta_data: { provider: 'email', providers: ['email'], ...(roles ? { roles } : {}) },
    raw_user_meta_data: { full_name: 'Test Person' },
    created_at: '2024-03-01T10:00:00.000000+00:00',
    updated_at: '2024-03-01T10:00:00.000000+00:00',
    banned_until: null,
    deleted_at: null,
    is_sso_user: false,
    ...rest,
  };
}

export const jsonLines = (rows: unknown[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';
