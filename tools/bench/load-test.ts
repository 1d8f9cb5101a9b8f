import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { type LoadSummary, loadRows } from '../load/load';
import { type BenchRow } from './table';

/**
 * `npm run load` as a bench section: run in a child process of its own (its local host, Azurite and
 * stand-ins, its storage clients and Graph credential seam), bounded in time; its summary becomes rows.
 */
export async function loadTest(): Promise<BenchRow[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, '..', 'load', 'load.js'), '--json', '--time-limit', '240'], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 260_000,
  });
  return loadRows(JSON.parse(stdout) as LoadSummary);
}
