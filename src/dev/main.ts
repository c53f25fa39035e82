/**
 * The entry of `npm start` (bundled to dist/dev.js). Kept apart from start.ts so that
 * importing its helpers (the test support, the bench) never starts a dev server.
 */
import { startDev } from './start.js';

startDev().catch((error: unknown) => {
  console.error(`rolegate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
