import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

import { globSync } from 'tinyglobby';

/**
 * `npm test` after the build: runs every compiled `*.test.js` with node's test runner. Files are listed
 * explicitly because node 20 would also run the test helpers when given the folder.
 */
const root = resolve(__dirname, '..', '..');
const files = globSync('dist/test/**/*.test.js', { cwd: root }).sort();
if (files.length === 0) {
  console.error('no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...process.argv.slice(2), ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
