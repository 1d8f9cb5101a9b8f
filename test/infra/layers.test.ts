import assert from 'node:assert/strict';
import { dirname, join, normalize } from 'node:path';
import { describe, test } from 'node:test';

import { filesUnder, read } from './sources';

/** Every module a TypeScript file imports or requires, as written. */
function importsOf(file: string): string[] {
  const text = read(file);
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*|\brequire\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
}

/** Relative imports resolved to repository paths; package imports as they are. */
function resolvedImportsOf(file: string): string[] {
  return importsOf(file).map((spec) => (spec.startsWith('.') ? normalize(join(dirname(file), spec)).split('\\').join('/') : spec));
}

function offending(files: string[], forbidden: (target: string) => boolean): string[] {
  return files.flatMap((file) => resolvedImportsOf(file).filter(forbidden).map((target) => `${file} → ${target}`));
}

describe('imports go one way', () => {
  test('src imports neither tests nor tools', () => {
    const found = offending(filesUnder('src', '.ts'), (target) => target.startsWith('test/') || target.startsWith('tools/'));
    assert.deepEqual(found, []);
  });

  test('tools, the stand-ins included, never import tests', () => {
    assert.deepEqual(offending(filesUnder('tools', '.ts'), (target) => target.startsWith('test/')), []);
  });

  test('src/lib is framework-free: only src/functions and src/handlers know @azure/functions', () => {
    assert.deepEqual(offending(filesUnder('src/lib', '.ts'), (target) => target === '@azure/functions'), []);
  });

  test('the stand-ins carry no test-runner hooks, so tools can start them', () => {
    assert.deepEqual(offending(filesUnder('tools/stand-ins', '.ts'), (target) => target === 'node:test' || target.startsWith('node:assert')), []);
  });
});
