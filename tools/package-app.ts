import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { ZipFile } from 'yazl';

/**
 * `npm run package`: the lean deployment package of the app, in `dist/deploy/app/` (what azd zips, see
 * azure.yaml, and what `npm run deploy` publishes with Core Tools) and `dist/deploy/app.zip` (for
 * `az functionapp deployment source config-zip`). It holds host.json, package.json, package-lock.json, the
 * compiled app (`dist/src`: JavaScript and the JSON it imports; no maps, tests or tools) and the production
 * dependencies only.
 *
 * Production dependencies are chosen from package-lock.json exactly as `npm ci --omit=dev` would install
 * them (every package not flagged `dev`), and copied from the installed node_modules, whose layout the
 * lockfile describes. So packaging needs no network and no second install, and the package holds the same
 * versions the tests ran against.
 *
 * `npm run deploy [-- <function app name>]` packages, then runs `func azure functionapp publish <name>
 * --no-build` in the package folder (name default: AZURE_FUNCTION_NAME, an output of infra/main.bicep that
 * azd stores).
 */

const DEPLOY_DIR = join('dist', 'deploy');
export const PACKAGE_DIR = join(DEPLOY_DIR, 'app');
export const PACKAGE_ZIP = join(DEPLOY_DIR, 'app.zip');

const ROOT_FILES = ['host.json', 'package.json', 'package-lock.json'];

/**
 * Written into the staging folder (not the zip): azd and Core Tools look for ignore rules in the folder they
 * package and, finding none, azd leaves node_modules out by default. This folder is already the package.
 */
const STAGING_FUNCIGNORE = '# Written by tools/package-app.ts: this folder is the finished package; keep everything.\n.funcignore\n';

/** Files never needed at run time: source maps, type declarations and TypeScript sources. */
const DROPPED_FILE = /\.(map|[cm]?ts|tsbuildinfo)$/;

interface LockEntry {
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
}

export interface PackageSelection {
  /** Paths relative to the repository root, `/`-separated, sorted. */
  files: string[];
  /** Compiled files under dist/src whose TypeScript source no longer exists (stale build output, left out). */
  staleOutputs: string[];
  /** Production packages from the lockfile. */
  packages: string[];
}

const toPosix = (path: string): string => path.split(sep).join('/');

function walk(dir: string, skipDir: (name: string) => boolean = () => false): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skipDir(entry.name)) found.push(...walk(path, skipDir));
    } else if (entry.isFile()) {
      found.push(path);
    }
  }
  return found;
}

/**
 * The compiled app: every dist/src file that still has its source (`x.js` from `src/x.ts`; JSON that tsc
 * copies for `resolveJsonModule` imports from the same path under src/), without maps.
 */
function appFiles(root: string): { files: string[]; stale: string[] } {
  const out = join(root, 'dist', 'src');
  if (!existsSync(out)) throw new Error('dist/src is missing: run `npm run build` first');
  const files: string[] = [];
  const stale: string[] = [];
  for (const path of walk(out)) {
    const rel = toPosix(relative(root, path));
    if (DROPPED_FILE.test(rel)) continue;
    const source = join(root, rel.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    (existsSync(source) ? files : stale).push(rel);
  }
  return { files, stale };
}

/** Installed directories of the packages `npm ci --omit=dev` installs, from the lockfile. */
export function productionPackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    lockfileVersion?: number;
    packages?: Record<string, LockEntry>;
  };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new Error('package-lock.json must be lockfileVersion 2 or 3 (npm 7 or later)');
  }
  const packages: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || entry.dev === true) continue;
    if (entry.link === true) throw new Error(`${path} is a linked package; the package would not be self-contained`);
    if (!existsSync(join(root, path))) {
      // Optional dependencies for other platforms are not installed, here or in Azure.
      if (entry.optional === true) continue;
      throw new Error(`${path} is in package-lock.json but not installed: run \`npm ci\` first`);
    }
    packages.push(path);
  }
  return packages.sort();
}

/** Every file of the deployment package, relative to the repository root. */
export function selectPackageFiles(root: string): PackageSelection {
  for (const file of ROOT_FILES) {
    if (!existsSync(join(root, file))) throw new Error(`${file} is missing`);
  }
  const app = appFiles(root);
  const packages = productionPackages(root);
  const dependencyFiles = packages.flatMap((pkg) =>
    // Nested node_modules hold packages of their own lockfile entries, selected (or not) on their own.
    walk(join(root, pkg), (name) => name === 'node_modules')
      .map((path) => toPosix(relative(root, path)))
      .filter((rel) => !DROPPED_FILE.test(rel)),
  );
  return {
    files: [...ROOT_FILES, ...app.files, ...dependencyFiles].sort(),
    staleOutputs: app.stale.sort(),
    packages,
  };
}

/**
 * Copies the selection into a fresh `app/` staging folder and writes `app.zip` beside it, both in `out`
 * (default dist/deploy); returns their sizes in bytes.
 */
export async function writePackage(
  root: string,
  files: readonly string[],
  out = join(root, DEPLOY_DIR),
): Promise<{ unpackedBytes: number; zipBytes: number }> {
  const staging = join(out, 'app');
  const zipPath = join(out, 'app.zip');
  rmSync(staging, { recursive: true, force: true });
  rmSync(zipPath, { force: true });
  mkdirSync(staging, { recursive: true });
  const zip = new ZipFile();
  // A fixed timestamp, so the same inputs give the same zip.
  const mtime = new Date('2020-01-01T00:00:00Z');
  let unpackedBytes = 0;
  for (const file of files) {
    const target = join(staging, file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(root, file), target);
    unpackedBytes += statSync(target).size;
    // Zipped from the staged copy, which nothing else writes while the zip streams.
    zip.addFile(target, file, { mtime, mode: 0o100644, compress: true });
  }
  zip.end();
  writeFileSync(join(staging, '.funcignore'), STAGING_FUNCIGNORE);
  const zipFailed = new Promise<never>((_, reject) => zip.once('error', reject));
  await Promise.race([pipeline(zip.outputStream, createWriteStream(zipPath)), zipFailed]);
  return { unpackedBytes, zipBytes: statSync(zipPath).size };
}

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(argv: readonly string[]): Promise<number> {
  const root = resolve(__dirname, '..', '..');
  const publish = argv.includes('--publish');
  const selection = selectPackageFiles(root);
  for (const stale of selection.staleOutputs) {
    console.warn(`left out ${stale}: its TypeScript source is gone (stale build output)`);
  }
  const { unpackedBytes, zipBytes } = await writePackage(root, selection.files);
  console.log(
    `${PACKAGE_ZIP}: ${selection.files.length} files, ${selection.packages.length} production packages, ` +
      `${megabytes(unpackedBytes)} unpacked, ${megabytes(zipBytes)} zipped (${PACKAGE_DIR}/ holds the same files)`,
  );
  if (!publish) return 0;

  const name = argv.find((arg) => !arg.startsWith('--')) ?? process.env.AZURE_FUNCTION_NAME;
  if (!name) {
    console.error('npm run deploy -- <function app name> (or set AZURE_FUNCTION_NAME, an output of infra/main.bicep)');
    return 2;
  }
  // --no-build: the folder is already built and holds production dependencies only; nothing to install.
  const result = spawnSync('func', ['azure', 'functionapp', 'publish', name, '--no-build'], {
    cwd: join(root, PACKAGE_DIR),
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (result.error) {
    console.error(`could not run Azure Functions Core Tools (func): ${result.error.message}`);
    return 1;
  }
  return result.status ?? 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
