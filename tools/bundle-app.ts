import { dirname, join, relative, resolve } from 'node:path';

import { build, type Plugin } from 'esbuild';

/**
 * The build's second step, after tsc: bundles the app's entry (src/main.ts) and the app's own modules it
 * imports at load into one CommonJS file, dist/src/main.js, written over tsc's output of the same file.
 * Loading the app then reads and compiles one file of its own, not one per registration and helper.
 * Left out of the bundle, so they load as before when first used:
 * - every npm package (`@azure/functions` included), as ordinary packages from node_modules;
 * - the handlers (src/handlers), which the registrations require on first invocation: they stay tsc's
 *   output next to the bundle, so a cold start compiles only the handler it calls.
 */

const repo = resolve(__dirname, '..', '..');
export const ENTRY = join(repo, 'src', 'main.ts');
export const BUNDLE = join(repo, 'dist', 'src', 'main.js');
const handlers = join(repo, 'src', 'handlers');

/** Keeps `require('../handlers/x')` a require of tsc's output, rewritten relative to the bundle. */
const handlersStayModules: Plugin = {
  name: 'handlers-stay-modules',
  setup(plugin) {
    plugin.onResolve({ filter: /[\\/]handlers[\\/]/ }, ({ path, resolveDir }) => {
      const source = resolve(resolveDir, path);
      if (dirname(source) !== handlers) return undefined;
      return { path: `./${relative(dirname(BUNDLE), join(repo, 'dist', 'src', relative(join(repo, 'src'), source))).split('\\').join('/')}`, external: true };
    });
  },
};

export async function bundleApp(): Promise<void> {
  await build({
    entryPoints: [ENTRY],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    plugins: [handlersStayModules],
    // Stack traces map to the TypeScript sources under node --enable-source-maps; the package leaves maps out.
    sourcemap: true,
    sourcesContent: false,
    logLevel: 'warning',
  });
}

if (require.main === module) {
  bundleApp().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
