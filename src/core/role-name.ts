/**
 * Role names as they can be written in a `Role=` condition. Netlify splits the condition on
 * commas and keeps spaces (`Role=a, b` becomes `["a", ""]`, PLATFORM-NOTES.md), and
 * netlify-cli strips a leading `:` from role values, so rolegate allows only a plain,
 * unambiguous alphabet.
 */
export const ROLE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const roleNameRegExp = new RegExp(ROLE_NAME_PATTERN, 'u');

/** Why `name` cannot be a role, or `null` when it can (exactly when the JSON Schema pattern matches). */
export function roleNameProblem(name: string): string | null {
  if (roleNameRegExp.test(name)) return null;
  if (name === '') return 'role names may not be empty';
  if (/\s/u.test(name)) return 'role names may not contain spaces';
  if (name.includes(',')) return 'role names may not contain commas (Role= separates roles with commas)';
  if (name.length > 64) return 'role names may be at most 64 characters long';
  return 'role names may use only letters, digits, "_", "-" and ".", and must start with a letter or digit';
}
