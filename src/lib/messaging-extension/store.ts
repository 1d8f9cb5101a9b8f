import { createHash } from 'node:crypto';

import { BadRequestError } from '../core/errors';
import { isRecord } from '../core/http';
import { getEntityIfExists, tableClient, withStorage } from '../clients/storage';

/**
 * Per-user state of the messaging extension in Table storage: the user's search settings and their
 * sign-in records. One table, a partition per kind of row; users are keyed by the SHA-256 of their Teams
 * `from.id` (ids may hold characters RowKeys forbid, and the table need not hold them in clear).
 */

const COMPOSE_EXTENSION_TABLE = 'composeextension';

export function userKey(teamsUserId: string): string {
  return createHash('sha256').update(teamsUserId, 'utf8').digest('hex');
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
  return withStorage('read settings', async () => {
    const table = await composeExtensionTable();
    const row = await getEntityIfExists<{ department?: string }>(table, 'settings', userKey(teamsUserId));
    return row?.department ? { department: row.department } : {};
  });
}

export function saveUserSettings(teamsUserId: string, settings: UserSettings): Promise<void> {
  return withStorage('write settings', async () => {
    const table = await composeExtensionTable();
    // Replace, so that a cleared department is removed rather than merged back.
    await table.upsertEntity({ partitionKey: 'settings', rowKey: userKey(teamsUserId), ...settings }, 'Replace');
  });
}
