import { randomUUID } from 'node:crypto';

import { type GraphServer, graphError, startGraphServer } from './graph-server';
import type { RecordedRequest, Reply } from './loopback';

/**
 * A Graph tenant on the loopback stand-in: it keeps users (with per-property versions, so delta
 * catch-ups return only what changed, as Graph does) and subscriptions; serves `/users/delta` pages,
 * next and delta links, JSON `$batch` of `GET /users?$filter=id in (…)`, and the subscription API
 * (validating notification URLs like Graph when asked); injects faults per route; and can deliver
 * change and lifecycle notifications to a subscription's URLs.
 */
export type UserProps = Record<string, unknown> & { id: string };

interface StoredUser {
  props: UserProps;
  versions: Record<string, number>;
}

export interface Subscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  expirationDateTime: string;
  clientState: string;
}

export type Route = 'batch' | 'batchPart' | 'delta' | 'subscriptions';

export interface FakeGraph {
  server: GraphServer;
  url: string;
  users: Map<string, StoredUser>;
  subscriptions: Map<string, Subscription>;
  /** Adds or changes a user (only the given properties change). */
  setUser(props: UserProps): void;
  deleteUser(id: string): void;
  /** Replies served, in order, instead of the real answer of the next requests to `route`. */
  fail(route: Route, ...replies: Reply[]): void;
  clearFaults(): void;
  /** Delta requests wait for this (when set) before answering: lets a test hold a sync mid-round. */
  deltaGate: Promise<void> | undefined;
  /** Resolves when a delta request arrives at the gate. */
  deltaArrived(): Promise<void>;
  expireDeltaLinks(): void;
  deltaPageSize: number;
  /** Ids that bulk answers ($batch filters and delta pages) leave out, as Graph's replicas do for a user created a moment ago. */
  lagging: Set<string>;
  /**
   * Holds the answer of the next $batch (computed now, from the tenant as it is now) until the returned
   * function is called: a read that is sent first and answered last.
   */
  holdNextBatch(): { release: () => void; arrived: Promise<void> };
  /** Forgets every user, deletion and fault (versions go on, so old delta links stay comparable). */
  reset(): void;
  /** Whether subscription create sends Graph's validation POSTs to both URLs (needs a reachable app). */
  validateUrls: boolean;
  requestsTo(pattern: RegExp): RecordedRequest[];
  /** POSTs a change notification collection for `ids` to the subscription's notificationUrl. */
  notify(subscription: Subscription, ids: readonly string[], changeType?: string, clientState?: string): Promise<Response>;
  notifyLifecycle(subscription: Subscription, lifecycleEvent: string, url?: string): Promise<Response>;
  close(): Promise<void>;
}

export function graphUser(id: string, displayName: string, extra: Record<string, unknown> = {}): UserProps {
  const [givenName, ...rest] = displayName.split(' ');
  const local = displayName.toLowerCase().replace(/[^a-z]+/g, '.');
  return {
    id,
    displayName,
    givenName: givenName ?? null,
    surname: rest.join(' ') || null,
    mail: `${local}@contoso.com`,
    userPrincipalName: `${local}@contoso.com`,
    jobTitle: null,
    department: null,
    officeLocation: null,
    businessPhones: [],
    accountEnabled: true,
    ...extra,
  };
}

export async function startFakeGraph(): Promise<FakeGraph> {
  const server = await startGraphServer();
  const users = new Map<string, StoredUser>();
  const deleted = new Map<string, number>();
  const subscriptions = new Map<string, Subscription>();
  const faults = new Map<Route, Reply[]>();
  const holds: { gate: Promise<void>; arrive: () => void }[] = [];
  let version = 1;
  let expiredBefore = 0;
  let arrived: (() => void) | undefined;

  const fault = (route: Route): Reply | undefined => {
    const reply = faults.get(route)?.shift();
    return reply === REAL_ANSWER ? undefined : reply;
  };

  const fake: FakeGraph = {
    server,
    url: server.url,
    users,
    subscriptions,
    deltaGate: undefined,
    deltaPageSize: 100,
    lagging: new Set(),
    holdNextBatch() {
      let release: () => void = () => undefined;
      let arrive: () => void = () => undefined;
      const arrived = new Promise<void>((done) => (arrive = done));
      holds.push({ gate: new Promise<void>((done) => (release = done)), arrive });
      return { release, arrived };
    },
    reset() {
      users.clear();
      deleted.clear();
      faults.clear();
      holds.length = 0;
      fake.lagging.clear();
      // Links from before the reset are expired; links issued from now on carry a later version.
      version++;
      expiredBefore = version;
    },
    validateUrls: false,
    setUser(props) {
      version++;
      const stored = users.get(props.id) ?? { props: { id: props.id }, versions: {} };
      for (const [key, value] of Object.entries(props)) {
        if (key === 'id') continue;
        if (JSON.stringify(stored.props[key]) !== JSON.stringify(value)) stored.versions[key] = version;
        stored.props[key] = value;
      }
      users.set(props.id, stored);
      deleted.delete(props.id);
    },
    deleteUser(id) {
      version++;
      users.delete(id);
      deleted.set(id, version);
    },
    fail(route, ...replies) {
      faults.set(route, [...(faults.get(route) ?? []), ...replies]);
    },
    clearFaults: () => faults.clear(),
    deltaArrived: () => new Promise<void>((done) => (arrived = done)),
    expireDeltaLinks() {
      expiredBefore = version + 1;
    },
    requestsTo: (pattern) => server.requests.filter((r) => pattern.test(`${r.method} ${r.path}`)),
    async notify(subscription, ids, changeType = 'updated', clientState = subscription.clientState) {
      const value = ids.map((id) => ({
        changeType,
        clientState,
        resource: `Users/${id}`,
        resourceData: {
          '@odata.type': '#Microsoft.Graph.User',
          '@odata.id': `Users/${id}`,
          id,
          organizationId: 'aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb',
          eventTime: new Date().toISOString(),
          sequenceNumber: String(version),
        },
        subscriptionExpirationDateTime: subscription.expirationDateTime,
        subscriptionId: subscription.id,
        tenantId: 'aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb',
      }));
      return fetch(subscription.notificationUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value }),
      });
    },
    async notifyLifecycle(subscription, lifecycleEvent, url = subscription.lifecycleNotificationUrl ?? subscription.notificationUrl) {
      const value = [
        {
          lifecycleEvent,
          subscriptionId: subscription.id,
          resource: `Subscriptions/${subscription.id}`,
          clientState: subscription.clientState,
          sequence: null,
          resourceData: {
            '@odata.type': '#microsoft.graph.subscription',
            '@odata.id': `subscriptions/${subscription.id}`,
            id: subscription.id,
          },
          encryptedContent: null,
          organizationId: 'aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb',
          subscriptionExpirationDateTime: subscription.expirationDateTime,
        },
      ];
      return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value, validationTokens: ['eyJ0eXAiOiJKV1QiLCJhb...'] }) });
    },
    close: () => server.close(),
  };

  // --- $batch of `GET /users?$filter=id in (…)&$select=…`
  server.on('POST', /^\/v1\.0\/\$batch$/, async (request) => {
    const injected = fault('batch');
    if (injected) return injected;
    const hold = holds.shift();
    const body = JSON.parse(request.body.toString('utf8')) as { requests: { id: string; method: string; url: string }[] };
    if (body.requests.length > 20) return graphError(400, 'BadRequest', 'more than 20 requests in a batch');
    const responses = body.requests.map((part) => {
      const partFault = fault('batchPart');
      if (partFault) {
        return { id: part.id, status: partFault.status ?? 500, headers: partFault.headers ?? {}, body: partFault.json ?? {} };
      }
      const url = new URL(part.url, 'http://graph.invalid');
      const filter = url.searchParams.get('$filter') ?? '';
      const match = /^id in \(((?:'[^']*',?)*)\)$/.exec(filter);
      if (url.pathname !== '/users' || !match) return { id: part.id, status: 400, body: { error: { code: 'BadRequest' } } };
      const ids = [...(match[1] ?? '').matchAll(/'([^']*)'/g)].map((m) => m[1] as string);
      if (ids.length > 15) return { id: part.id, status: 400, body: { error: { code: 'BadRequest', message: 'too many values' } } };
      const select = (url.searchParams.get('$select') ?? '').split(',');
      const value = ids.flatMap((id) => {
        const user = users.get(id);
        return user && !fake.lagging.has(id) ? [pick(user.props, select)] : [];
      });
      return { id: part.id, status: 200, headers: { 'content-type': 'application/json' }, body: { value } };
    });
    if (hold) {
      hold.arrive();
      await hold.gate;
    }
    return { json: { responses } };
  });

  // --- GET /users/{id}: 404 once the user is gone (registered before /users/delta, which is matched first)
  server.on('GET', /^\/v1\.0\/users\/([^/]+)$/, (request, match) => {
    const id = decodeURIComponent(match[1] ?? '');
    const user = users.get(id);
    if (!user) return graphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
    return { json: pick(user.props, (request.url.searchParams.get('$select') ?? '').split(',')) };
  });

  // --- /users/delta
  server.on('GET', /^\/v1\.0\/users\/delta$/, async (request) => {
    if (arrived) {
      const done = arrived;
      arrived = undefined;
      done();
    }
    if (fake.deltaGate) await fake.deltaGate;
    const injected = fault('delta');
    if (injected) return injected;
    const params = request.url.searchParams;
    const select = (params.get('$select') ?? '').split(',').filter(Boolean);
    const skip = params.get('$skiptoken');
    const deltaToken = params.get('$deltatoken');
    let cursor: { since: number; at: number; offset: number; select: string[] };
    if (skip) cursor = JSON.parse(Buffer.from(skip, 'base64url').toString('utf8')) as typeof cursor;
    else if (deltaToken) {
      const since = Number(deltaToken);
      if (since < expiredBefore) return graphError(410, 'syncStateNotFound', 'The sync state has expired');
      cursor = { since, at: version, offset: 0, select: JSON.parse(Buffer.from(params.get('s') ?? 'W10', 'base64url').toString('utf8')) as string[] };
    } else cursor = { since: 0, at: version, offset: 0, select };

    const changed: Record<string, unknown>[] = [];
    for (const user of [...users.values()].sort((a, b) => a.props.id.localeCompare(b.props.id))) {
      if (fake.lagging.has(user.props.id)) continue;
      if (cursor.since === 0) changed.push(pick(user.props, cursor.select));
      else {
        const props = Object.keys(user.versions).filter((key) => (user.versions[key] ?? 0) > cursor.since && cursor.select.includes(key));
        if (props.length > 0) changed.push(pick(user.props, ['id', ...props]));
      }
    }
    if (cursor.since > 0) {
      for (const [id, at] of deleted) if (at > cursor.since) changed.push({ id, '@removed': { reason: 'changed' } });
    }
    const page = changed.slice(cursor.offset, cursor.offset + fake.deltaPageSize);
    const base = `${server.url}/v1.0/users/delta`;
    const rest = cursor.offset + fake.deltaPageSize < changed.length;
    const link = rest
      ? { '@odata.nextLink': `${base}?$skiptoken=${Buffer.from(JSON.stringify({ ...cursor, offset: cursor.offset + fake.deltaPageSize })).toString('base64url')}` }
      : { '@odata.deltaLink': `${base}?$deltatoken=${cursor.at}&s=${Buffer.from(JSON.stringify(cursor.select)).toString('base64url')}` };
    return { json: { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users(id,displayName)', value: page, ...link } };
  });

  // --- subscriptions
  server.on('GET', /^\/v1\.0\/subscriptions$/, (request) => {
    const injected = fault('subscriptions');
    if (injected) return injected;
    const all = [...subscriptions.values()];
    const offset = Number(request.url.searchParams.get('$skiptoken') ?? '0');
    const page = all.slice(offset, offset + 2).map((s) => ({ ...s, clientState: null, applicationId: 'app' }));
    const next = offset + 2 < all.length ? { '@odata.nextLink': `${server.url}/v1.0/subscriptions?$skiptoken=${offset + 2}` } : {};
    return { json: { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions', value: page, ...next } };
  });
  server.on('POST', /^\/v1\.0\/subscriptions$/, async (request) => {
    const injected = fault('subscriptions');
    if (injected) return injected;
    const body = JSON.parse(request.body.toString('utf8')) as Omit<Subscription, 'id'>;
    const minutes = (Date.parse(body.expirationDateTime) - Date.now()) / 60_000;
    if (!(minutes > 0 && minutes <= 41_760)) return graphError(400, 'InvalidRequest', 'expirationDateTime out of range');
    if (fake.validateUrls) {
      for (const url of [body.notificationUrl, body.lifecycleNotificationUrl].filter((u): u is string => !!u)) {
        const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
        const res = await fetch(`${url}?validationToken=${encodeURIComponent(token)}`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
        });
        if (res.status !== 200 || (await res.text()) !== token || !(res.headers.get('content-type') ?? '').startsWith('text/plain')) {
          return graphError(400, 'ValidationError', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');
        }
      }
    }
    const subscription: Subscription = { id: randomUUID(), ...body };
    subscriptions.set(subscription.id, subscription);
    return { status: 201, json: { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity', ...subscription } };
  });
  server.on('PATCH', /^\/v1\.0\/subscriptions\/([^/]+)$/, (request, match) => {
    const injected = fault('subscriptions');
    if (injected) return injected;
    const subscription = subscriptions.get(decodeURIComponent(match[1] ?? ''));
    if (!subscription) return graphError(404, 'ResourceNotFound', 'The object was not found.');
    const body = JSON.parse(request.body.toString('utf8')) as { expirationDateTime: string };
    subscription.expirationDateTime = body.expirationDateTime;
    return { json: { ...subscription, clientState: null } };
  });
  server.on('DELETE', /^\/v1\.0\/subscriptions\/([^/]+)$/, (_request, match) => {
    const injected = fault('subscriptions');
    if (injected) return injected;
    return subscriptions.delete(decodeURIComponent(match[1] ?? '')) ? { status: 204 } : graphError(404, 'ResourceNotFound');
  });
  return fake;
}

function pick(props: Record<string, unknown>, select: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: props.id };
  for (const key of select) if (key in props) out[key] = props[key];
  return out;
}

/** Among the replies given to `fail`: this request gets the real answer (so a fault can hit the nth request). */
export const REAL_ANSWER: Reply = Object.freeze({});

/** The user offset a delta link of this fake goes on from (its `$skiptoken` is the cursor; none: 0). */
export function deltaOffset(link: string | URL): number {
  const token = new URL(link).searchParams.get('$skiptoken');
  return token === null ? 0 : (JSON.parse(Buffer.from(token, 'base64url').toString()) as { offset: number }).offset;
}

/** A Graph 429 as the throttling docs show it. */
export function throttled(retryAfter: string): Reply {
  return {
    status: 429,
    headers: { 'Retry-After': retryAfter },
    json: { error: { code: 'TooManyRequests', innerError: { code: '429', message: 'Please retry after', status: '429' }, message: 'Please retry again later.' } },
  };
}

const FIRST = ['Adele', 'Alex', 'Allan', 'Bianca', 'Brian', 'Cameron', 'Christie', 'Debra', 'Diego', 'Emily', 'Enrico', 'Grady', 'Henrietta', 'Irvin', 'Isaiah', 'Johanna', 'Joni', 'Lee', 'Lidia', 'Lynne', 'Megan', 'Miriam', 'Nestor', 'Patti', 'Pradeep', 'Raul', 'Sanjay', 'Sean', 'Zoë', 'Øystein', 'Åsa', 'Chloé', 'Mateo', 'Yuki', 'Kwame', 'Fatima', 'Olga', 'Tomás', 'Ingrid', 'Ravi'];
const LAST = ['Vance', 'Wilber', 'Deyoung', 'Pisani', 'Johnson', 'White', 'Cline', 'Berg', 'Siciliani', 'Braun', 'Ortiz', 'Archie', 'Mueller', 'Sherman', 'Langer', 'Lauer', 'Sherman', 'Gu', 'Holloway', 'Robbins', 'Bowen', 'Graham', 'Wilke', 'Fernandez', 'Gupta', 'Razo', 'Patel', "O'Brien", 'Ångström', 'Nguyen', 'García', 'Müller', 'Tanaka', 'Mensah', 'Haddad', 'Ivanova', 'Souza', 'Larsen', 'Sharma', 'Kowalski'];
const DEPARTMENTS = ['Sales', 'Marketing', 'Finance', 'Legal', 'Retail', 'Operations', 'Research', 'Engineering', 'Human Resources', 'Support', 'Logistics', 'Procurement', 'Design', 'Security', 'Facilities', 'Training'];
const TITLES = ['Analyst', 'Director', 'Consultant', 'Specialist', 'Coordinator', 'Associate', 'Architect', 'Planner', 'Advisor', 'Officer', 'Developer', 'Technician'];

/** A plausible user, varied enough that the index spreads like a real tenant's. */
export function sampleUser(n: number, id: string): UserProps {
  const first = FIRST[n % FIRST.length] as string;
  const last = LAST[Math.floor(n / FIRST.length) % LAST.length] as string;
  const department = DEPARTMENTS[Math.floor(n / 7) % DEPARTMENTS.length] as string;
  return graphUser(id, `${first} ${last}`, {
    mail: `${first}.${last}${n}@contoso.com`.toLowerCase().replace(/[^a-z0-9.@]/g, ''),
    userPrincipalName: `${first}.${last}${n}@contoso.com`.toLowerCase().replace(/[^a-z0-9.@]/g, ''),
    jobTitle: TITLES[n % TITLES.length] as string,
    department,
    officeLocation: `${(n % 40) + 1}/${1000 + (n % 500)}`,
    businessPhones: [`+1 425 555 ${String(n % 10000).padStart(4, '0')}`],
  });
}
