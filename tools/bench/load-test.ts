import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { type LoadSummary, loadRows } from '../load/load';
import { type BenchRow } from './table';

/**
 * `npm run load` as a bench section: run in a child process of its own (its local host, Azurite and
 * stand-ins, its storage clients and Graph credential seam), bounded in time, with half the mixed traffic of
 * `npm run load` to keep the whole bench short; its summary becomes rows.
 */
export async function loadTest(): Promise<BenchRow[]> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, '..', 'load', 'load.js'), '--json', '--scale', '0.5', '--time-limit', '300'], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 320_000,
    });
    return loadRows(JSON.parse(stdout) as LoadSummary);
  } catch (err) {
    // A hung or crashed load run is a failed figure of this run, not the end of the whole report.
    process.stderr.write(`bench: load test failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return [{ figure: 'load: the load test did not finish (see stderr)', value: Number.NaN, unit: '', goal: 'finishes', met: false }];
  }
}
