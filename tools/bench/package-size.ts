import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { selectPackageFiles, writePackage } from '../package-app';
import { type BenchRow } from './table';

const root = resolve(__dirname, '..', '..', '..');

function bytesUnder(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) total += bytesUnder(child);
    else if (entry.isFile()) total += statSync(child).size;
  }
  return total;
}

const mb = (bytes: number): number => bytes / 1024 / 1024;

/**
 * The deployment package of `npm run package` (what azd and `npm run deploy` upload), against what a
 * publish of the unpruned project would carry: the same app with every installed dependency, dev included.
 */
export async function packageSize(): Promise<BenchRow[]> {
  const selection = selectPackageFiles(root);
  const { unpackedBytes, zipBytes } = await writePackage(root, selection.files);
  const appBytes = selection.files
    .filter((file) => !file.startsWith('node_modules/'))
    .reduce((sum, file) => sum + statSync(join(root, file)).size, 0);
  const unprunedBytes = appBytes + bytesUnder(join(root, 'node_modules'));
  return [
    {
      figure: `deployment package: zip (${selection.files.length} files, ${selection.packages.length} production packages)`,
      value: mb(zipBytes),
      unit: 'MB',
    },
    {
      figure: 'deployment package: unpacked',
      value: mb(unpackedBytes),
      unit: 'MB',
      anchor: 'same app with all of node_modules (dev dependencies included)',
      anchorValue: mb(unprunedBytes),
      ratio: unpackedBytes / unprunedBytes,
    },
  ];
}
