/**
 * The base of every error rolegate expects and explains: a stable, machine-readable `code`
 * (what entry points map to a status, an exit code or a page) beside a message for people.
 * Anything else that reaches an entry point is a bug, answered without detail.
 */
export abstract class RolegateError extends Error {
  abstract readonly code: string;
}
