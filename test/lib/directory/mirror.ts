import { derivedRows, type DirectoryUser, USER_SELECT } from '../../../src/lib/directory/directory';
import { tableClient } from '../../../src/lib/clients/storage';
import type { UserProps } from '../../../tools/stand-ins/fake-graph';

/**
 * How the directory differs from a tenant, read straight from the table: users missing, extra or with
 * other values; derived rows missing, extra, or written from another state of their user (their `v`).
 * Empty when the mirror is exact. Tombstones (rows without data) are not users.
 */
export async function mirrorProblems(tenant: Iterable<UserProps>): Promise<string[]> {
  const table = await tableClient('directory');
  const live = new Map<string, DirectoryUser>();
  const derived = new Map<string, unknown>();
  for await (const entity of table.listEntities<{ data?: string; v?: string }>()) {
    const partitionKey = entity.partitionKey ?? '';
    if (partitionKey.startsWith('user-')) {
      if (entity.data) live.set(entity.rowKey ?? '', JSON.parse(entity.data) as DirectoryUser);
    } else derived.set(`${partitionKey}\n${entity.rowKey ?? ''}`, entity.v);
  }
  const problems: string[] = [];
  const wanted = new Map<string, UserProps>([...tenant].map((user) => [user.id, user]));
  for (const id of live.keys()) if (!wanted.has(id)) problems.push(`${id}: in the directory, not in the tenant`);
  const expected = new Map<string, unknown>();
  for (const [id, props] of wanted) {
    const user = live.get(id);
    if (!user) {
      problems.push(`${id}: in the tenant, not in the directory`);
      continue;
    }
    for (const field of USER_SELECT) {
      const graphValue = graphField(props, field);
      const mirrorValue = field === 'businessPhones' ? user.businessPhones : user[field];
      if (JSON.stringify(graphValue) !== JSON.stringify(mirrorValue)) problems.push(`${id}: ${field} is ${JSON.stringify(mirrorValue)}, Graph has ${JSON.stringify(graphValue)}`);
    }
    for (const row of derivedRows(user)) expected.set(`${row.partitionKey}\n${row.rowKey}`, row.v);
  }
  for (const [key, v] of expected) {
    if (!derived.has(key)) problems.push(`missing row ${JSON.stringify(key)}`);
    else if (derived.get(key) !== v) problems.push(`row ${JSON.stringify(key)} written from another state`);
  }
  for (const key of derived.keys()) if (!expected.has(key)) problems.push(`extra row ${JSON.stringify(key)}`);
  return problems;
}

/** A Graph property as the directory keeps it: empty text as absent, accountEnabled false only when false. */
function graphField(props: UserProps, field: (typeof USER_SELECT)[number]): unknown {
  const value = props[field];
  if (field === 'businessPhones') return Array.isArray(value) ? value : [];
  if (field === 'accountEnabled') return value !== false;
  if (field === 'displayName') return typeof value === 'string' ? value : '';
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Rows (the user row with data, and every derived row) that still say something about user `id`. */
export async function rowsOf(id: string): Promise<{ partitionKey: string; rowKey: string }[]> {
  const table = await tableClient('directory');
  const rows: { partitionKey: string; rowKey: string }[] = [];
  for await (const entity of table.listEntities<{ data?: string }>()) {
    const key = { partitionKey: entity.partitionKey ?? '', rowKey: entity.rowKey ?? '' };
    if ((key.rowKey === id && entity.data !== '') || key.rowKey.endsWith(` ${id}`)) rows.push(key);
  }
  return rows;
}

/** Empties the directory and the Graph pipeline's state (between the runs of a property): Azurite drops a table at once. */
export async function clearDirectory(): Promise<void> {
  for (const name of ['directory', 'graphstate']) {
    const table = await tableClient(name);
    await table.deleteTable();
    await table.createTable();
  }
}
