import { createHash } from 'node:crypto';

import { BadRequestError, ensureError, UnavailableError } from '../core/errors';
import { isRecord } from '../core/http';
import { storageStatus, tableClient } from '../clients/storage';

/**
 * Per-user state of the messaging extension in Table storage: the user's search settings and their
 * sign-in records. One table, a partition per kind of row; users are keyed by the SHA-256 of their Teams
 * `from.id` (ids may hold characters RowKeys forbid, and the table need not hold them in clear).
 */

const COMPOSE_EXTENSION_TABLE = 'composeextension';

export function userKey(teamsUserId: string): string {
  return createHash('sha256').update(teamsUserId, 'utf8').digest('hex');
}

/** Runs a storage operation; infrastructure failures become 503 so that Teams shows a retryable error. */
export async function storage<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new UnavailableError(`compose extension storage ${operation} failed: ${ensureError(err).message}`, { cause: err });
  }
}

export function composeExtensionTable(): ReturnType<typeof tableClient> {
  return tableClient(COMPOSE_EXTENSION_TABLE);
}

// ---------------------------------------------------------------------------------------------------
// Settings

export interface UserSettings {
  /** People search shows only people of this department (compared as the directory compares words). */
  department?: string;
}

export const MAX_DEPARTMENT_LENGTH = 128;

/**
 * The settings page hands `JSON.stringify({ department })` to `notifySuccess`, and Teams passes it on as
 * `value.state`. An empty department clears the filter.
 */
export function parseSettingsState(state: string): UserSettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(state);
  } catch {
    throw new BadRequestError('settings state is not JSON', ['value.state']);
  }
  if (!isRecord(parsed)) throw new BadRequestError('settings state must be an object', ['value.state']);
  const department = parsed.department;
  if (department === undefined || department === null) return {};
  if (typeof department !== 'string' || department.length > MAX_DEPARTMENT_LENGTH) {
    throw new BadRequestError('department must be a short string', ['value.state.department']);
  }
  const trimmed = department.trim();
  return trimmed ? { department: trimmed } : {};
}

export function getUserSettings(teamsUserId: string): Promise<UserSettings> {
  return storage('read settings', async () => {
    const table = await composeExtensionTable();
    try {
      const row = await table.getEntity<{ department?: string }>('settings', userKey(teamsUserId));
      return row.department ? { department: row.department } : {};
    } catch (err) {
      if (storageStatus(err) === 404) return {};
      throw err;
    }
  });
}

export function saveUserSettings(teamsUserId: string, settings: UserSettings): Promise<void> {
  return storage('write settings', async () => {
    const table = await composeExtensionTable();
    // Replace, so that a cleared department is removed rather than merged back.
    await table.upsertEntity({ partitionKey: 'settings', rowKey: userKey(teamsUserId), ...settings }, 'Replace');
  });
}
