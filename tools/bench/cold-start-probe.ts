import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { globSync } from 'tinyglobby';

import { CoreApi } from '../local-host/core-api';

/**
 * Child process of the cold-start bench: loads an app's `main` as the Functions worker does and prints
 * how long the process took, from its start, to have every function registered. It also prints what was
 * registered and every module loaded by then when given `--details` (for the tests; the bench leaves it
 * off so the figures count the load alone).
 */
const appDir = resolve(process.argv[2] ?? '.');
const core = new CoreApi(() => undefined);
core.install();
const { main } = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { main: string };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loading CommonJS the way the worker does
for (const file of globSync(main, { cwd: appDir, absolute: true }).sort()) require(file);
const ms = performance.now();
const details = process.argv[3] === '--details' ? { registered: core.functions.map((f) => f.metadata), modules: Object.keys(require.cache) } : {};
process.stdout.write(JSON.stringify({ ms, functions: core.functions.length, ...details }));
