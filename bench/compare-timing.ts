import bcrypt from 'bcryptjs';

/**
 * Wraps bcryptjs's compare (which src/core/password.ts calls) so the time spent
 * in it is added to `spent.ms`; returns the undo. What a sign-in costs beyond
 * its hash is its total less this.
 */
export function timeCompares(spent: { ms: number }): () => void {
  type Compare = (password: string, hash: string) => Promise<boolean>;
  const patchable = bcrypt as unknown as { compare: Compare };
  const compare = patchable.compare;
  patchable.compare = async (password, hash) => {
    const start = performance.now();
    try {
      return await compare(password, hash);
    } finally {
      spent.ms += performance.now() - start;
    }
  };
  return () => {
    patchable.compare = compare;
  };
}
