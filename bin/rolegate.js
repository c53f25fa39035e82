#!/usr/bin/env node
// The installed `rolegate` command: runs the bundled CLI (dist/cli.js, made by `npm run build`).
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (error) {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli.js')) {
    process.stderr.write('rolegate: dist/cli.js is missing: run `npm run build` in the rolegate package\n');
    process.exit(1);
  }
  throw error;
}
process.exitCode = await cli.runCli(process.argv.slice(2), cli.nodeIo());
