// `npm install` in this repository (the `prepare` script) runs this, never a
// site that installs the package. rolegate needs Node >= 22.13. When the
// machine's own node is older, this fetches Node 22 from the npm registry (the
// `node-<os>-<cpu>` packages carry the binary in their tarball) and links it
// as node_modules/.bin/node, which npm puts first on PATH for every `npm run`,
// `npm test` and `npx`. With Node >= 22.13 already it fetches nothing.
// Then it runs the script named on its command line on the chosen node.
// Plain JavaScript for any Node from 18 up, since it runs on the old one.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

const FLOOR = [22, 13];
const RANGE = '^22.13.0';
const BUILDS = new Set(['linux-x64', 'linux-arm64', 'darwin-x64']);

const atLeastFloor = (version) => {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > FLOOR[0] || (major === FLOOR[0] && minor >= FLOOR[1]);
};

const binDir = join('node_modules', '.bin');
const link = join(binDir, 'node');

function versionOf(file) {
  try {
    return execFileSync(file, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'v0.0.0';
  }
}

function chooseNode() {
  if (atLeastFloor(process.version)) return process.execPath;
  if (existsSync(link) && atLeastFloor(versionOf(link))) return link;
  const build = `${process.platform}-${process.arch}`;
  if (!BUILDS.has(build)) {
    console.error(`rolegate: Node ${process.version} is too old (needs >= ${FLOOR.join('.')}); install Node 22 or newer from https://nodejs.org/ and run npm install again.`);
    process.exit(1);
  }
  const pkg = `node-${build}`;
  const home = join('node_modules', '.cache', 'rolegate-node');
  mkdirSync(home, { recursive: true });
  console.log(`rolegate: Node ${process.version} is older than ${FLOOR.join('.')}: fetching ${pkg}@${RANGE} from the npm registry for this checkout's scripts`);
  const args = ['install', '--prefix', home, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel', 'error', `${pkg}@${RANGE}`];
  const npm = process.env.npm_execpath;
  execFileSync(npm ? process.execPath : 'npm', npm ? [npm, ...args] : args, { stdio: 'inherit' });
  mkdirSync(binDir, { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(relative(binDir, join(home, 'node_modules', pkg, 'bin', 'node')), link);
  console.log(`rolegate: npm scripts in this checkout now run on Node ${versionOf(link)} (${link})`);
  return link;
}

const node = chooseNode();
const [script, ...rest] = process.argv.slice(2);
if (script) process.exitCode = spawnSync(node, [script, ...rest], { stdio: 'inherit' }).status ?? 1;
