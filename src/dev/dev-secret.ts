/**
 * The `[dev] jwtSecret` of netlify.toml: a plain string key, read without a
 * TOML library. Its own module so that test and bench helpers can read it
 * without importing npm start's entry point.
 */
export function devJwtSecret(netlifyToml: string): string | undefined {
  const dev = /^\[dev\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(netlifyToml)?.[1] ?? '';
  return /^\s*jwtSecret\s*=\s*"([^"]+)"\s*$/m.exec(dev)?.[1];
}
