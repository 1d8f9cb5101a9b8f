import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { after, describe, test } from 'node:test';

import ignore from 'ignore';

import { PACKAGE_DIR, PACKAGE_ZIP, productionPackages, selectPackageFiles, writePackage } from '../../tools/package-app';
import { read, repoRoot } from './sources';

interface Lockfile {
  packages: Record<string, { dev?: boolean }>;
}

describe('deployment package selection on this repository', () => {
  const selection = selectPackageFiles(repoRoot);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile;

  test('holds the host files, the compiled app and every function', () => {
    for (const file of ['host.json', 'package.json', 'package-lock.json', 'dist/src/index.js', 'dist/src/functions/health.js']) {
      assert.ok(selection.files.includes(file), file);
    }
  });

  test('leaves out sources, tests, tools, maps, type declarations and infra', () => {
    const unwanted = selection.files.filter(
      (file) =>
        /^(src|test|tools|infra|dist\/test|dist\/tools|dist\/deploy|bench-results)\//.test(file) ||
        /\.(map|ts|tsbuildinfo)$/.test(file) ||
        /^(local\.settings\.json.*|azure\.yaml|tsconfig\.json|\.funcignore)$/.test(file),
    );
    assert.deepEqual(unwanted, []);
    assert.ok(selection.files.every((file) => /^(host\.json|package(-lock)?\.json|dist\/src\/.+\.(js|json)|node_modules\/.+)$/.test(file)));
  });

  test('holds every production dependency and no development-only package', () => {
    for (const name of Object.keys(pkg.dependencies)) {
      assert.ok(selection.files.includes(`node_modules/${name}/package.json`), name);
    }
    const devOnly = Object.keys(pkg.devDependencies).filter((name) => lock.packages[`node_modules/${name}`]?.dev === true);
    assert.ok(devOnly.includes('typescript') && devOnly.includes('azurite') && devOnly.includes('yazl'));
    for (const name of devOnly) {
      assert.ok(!selection.files.some((file) => file.startsWith(`node_modules/${name}/`)), `${name} is a devDependency`);
    }
    // Every dependency file belongs to a production package of the lockfile.
    const packages = new Set(selection.packages);
    for (const file of selection.files.filter((f) => f.startsWith('node_modules/'))) {
      const owner = /^((?:node_modules\/(?:@[^/]+\/)?[^/]+\/)*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
      assert.ok(owner && packages.has(owner), `${file} has no production owner`);
    }
  });
});

describe('the deployment package runs on its own', () => {
  const out = mkdtempSync(join(tmpdir(), 'deploy-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  test('outside the repository every function registers and every production dependency loads', async () => {
    const { files } = selectPackageFiles(repoRoot);
    await writePackage(repoRoot, files, out);
    const app = join(out, 'app');
    // Loads `main` the way the Functions worker does and counts the registered functions.
    const probe = join(repoRoot, 'dist', 'tools', 'bench', 'cold-start-probe.js');
    const count = (dir: string): number =>
      (JSON.parse(execFileSync(process.execPath, [probe, dir], { encoding: 'utf8' })) as { functions: number }).functions;
    const expected = count(repoRoot);
    assert.ok(expected > 0);
    assert.equal(count(app), expected);
    // The app imports its SDKs lazily, so import each one from inside the package (resolution stops there).
    const { dependencies } = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const script = join(app, 'load-dependencies.mjs');
    writeFileSync(script, `for (const name of ${JSON.stringify(Object.keys(dependencies))}) await import(name);\n`);
    execFileSync(process.execPath, [script], { cwd: app, stdio: 'pipe' });
  });
});

describe('.funcignore agrees with the package selection', () => {
  test('a publish from the root keeps every selected file and leaves out every other one (gitignore rules, as azd reads them)', () => {
    const { files, staleOutputs } = selectPackageFiles(repoRoot);
    const selected = new Set(files);
    const rules = ignore().add(read('.funcignore'));
    const projectFiles: string[] = [];
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory() && !['node_modules', '.git'].includes(entry.name)) visit(path);
        else if (entry.isFile()) projectFiles.push(relative(repoRoot, path).split(sep).join('/'));
      }
    };
    visit(repoRoot);
    assert.deepEqual(
      files.filter((file) => rules.ignores(file)),
      [],
      'selected files that .funcignore would leave out',
    );
    assert.deepEqual(
      projectFiles.filter((file) => !selected.has(file) && !staleOutputs.includes(file) && !rules.ignores(file)),
      [],
      'files outside the package that .funcignore would publish: add them to .funcignore',
    );
  });
});

describe('deployment package on a small project', () => {
  const root = mkdtempSync(join(tmpdir(), 'package-app-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('host.json', '{"version":"2.0"}');
  write('package.json', '{"name":"small","main":"dist/src/functions/*.js"}');
  write(
    'package-lock.json',
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'small' },
        'node_modules/prod': { version: '1.0.0' },
        'node_modules/prod/node_modules/nested-dev': { version: '1.0.0', dev: true },
        'node_modules/prod/node_modules/nested': { version: '1.0.0' },
        'node_modules/tool': { version: '1.0.0', dev: true },
        'node_modules/other-platform': { version: '1.0.0', optional: true },
      },
    }),
  );
  write('src/functions/hello.ts', 'export {};');
  write('src/cards/card.json', '{}');
  write('dist/src/cards/card.json', '{}');
  write('dist/src/functions/hello.js', 'module.exports = 1;');
  write('dist/src/functions/hello.js.map', '{}');
  write('dist/src/functions/removed.js', 'module.exports = 2;'); // its source was deleted
  write('dist/test/hello.test.js', '');
  write('node_modules/prod/package.json', '{"name":"prod"}');
  write('node_modules/prod/index.js', 'module.exports = 3;');
  write('node_modules/prod/index.d.ts', 'export {};');
  write('node_modules/prod/node_modules/nested/index.js', '');
  write('node_modules/prod/node_modules/nested-dev/index.js', '');
  write('node_modules/tool/index.js', '');

  test('selects like npm ci --omit=dev, skips stale build output and uninstalled optional packages', () => {
    const selection = selectPackageFiles(root);
    assert.deepEqual(selection.files, [
      'dist/src/cards/card.json',
      'dist/src/functions/hello.js',
      'host.json',
      'node_modules/prod/index.js',
      'node_modules/prod/node_modules/nested/index.js',
      'node_modules/prod/package.json',
      'package-lock.json',
      'package.json',
    ]);
    assert.deepEqual(selection.staleOutputs, ['dist/src/functions/removed.js']);
    assert.deepEqual(selection.packages, ['node_modules/prod', 'node_modules/prod/node_modules/nested']);
  });

  test('writes the staging folder and a zip of exactly those files', async () => {
    const { files } = selectPackageFiles(root);
    const { unpackedBytes, zipBytes } = await writePackage(root, files);
    assert.ok(existsSync(join(root, PACKAGE_ZIP)));
    assert.ok(unpackedBytes > 0 && zipBytes > 0);
    for (const file of files) {
      assert.deepEqual(readFileSync(join(root, PACKAGE_DIR, file)), readFileSync(join(root, file)));
    }
    // azd and Core Tools find ignore rules in the folder and so apply no defaults (azd's drops node_modules).
    assert.ok(existsSync(join(root, PACKAGE_DIR, '.funcignore')));
    // End of central directory record: the entry count, then the central directory's names.
    const zip = readFileSync(join(root, PACKAGE_ZIP));
    const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    assert.equal(zip.readUInt16LE(eocd + 10), files.length);
    const names: string[] = [];
    let offset = zip.readUInt32LE(eocd + 16);
    for (let i = 0; i < files.length; i++) {
      const nameLength = zip.readUInt16LE(offset + 28);
      const extra = zip.readUInt16LE(offset + 30);
      const comment = zip.readUInt16LE(offset + 32);
      names.push(zip.toString('utf8', offset + 46, offset + 46 + nameLength));
      offset += 46 + nameLength + extra + comment;
    }
    assert.deepEqual(names, files);
  });

  test('refuses a lockfile package that is not installed', () => {
    write(
      'package-lock.json',
      JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/missing': { version: '1.0.0' } } }),
    );
    assert.throws(() => productionPackages(root), /node_modules\/missing is in package-lock\.json but not installed/);
  });
});
