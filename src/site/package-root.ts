import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** rolegate's own package folder (a checkout or an install), found by walking up from this module, or undefined when bundled elsewhere. */
export function rolegatePackageRoot(from: string | undefined = typeof import.meta.url === 'string' ? import.meta.url : undefined): string | undefined {
  if (!from) return undefined;
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        if ((JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown }).name === 'rolegate') return dir;
      } catch {
        /* not ours */
      }
    }
    dir = dirname(dir);
  }
  return undefined;
}
