import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';

import { outgoingWebhook } from '../../src/handlers/outgoingWebhook';
import { upsertUsers } from '../../src/lib/directory/directory';
import { readBody } from '../../src/lib/core/http';
import { startAzurite } from '../azurite';
import { type BenchRow, median, percentile } from './table';

/**
 * The outgoing webhook's figures:
 * - `help` (verify the HMAC over the raw bytes, parse, reply) against a trivial handler that only reads
 *   the body and returns JSON: both called the same number of times, interleaved, with real HttpRequests
 *   built from the same bytes, timed around the handler call alone;
 * - a people search end to end through the handler over a 20,000-user directory in an in-memory Azurite,
 *   p95 over a mix of names, surnames, departments, short prefixes and misses. It runs in a child process,
 *   whose storage clients point at this Azurite only, so no other section inherits them.
 */

const TOKEN = randomBytes(32).toString('base64');
const URL = 'http://localhost:7071/api/outgoing-webhook';
const USERS = 20_000;

/** `HMAC <digest>` under the token the handler is configured with (this process's, or the parent's in the probe). */
export function authorization(body: Buffer, token = process.env.OUTGOING_WEBHOOK_SECRETS ?? ''): string {
  return `HMAC ${createHmac('sha256', Buffer.from(token, 'base64')).update(body).digest('base64')}`;
}

function webhookRequest(body: Buffer, signature: string): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: URL,
    headers: { 'content-type': 'application/json; charset=utf-8', authorization: signature },
    body: { bytes: body },
  });
}

const context = (): InvocationContext =>
  new InvocationContext({ functionName: 'outgoingWebhook', invocationId: 'bench', logHandler: () => undefined });

/** A Teams channel message of realistic size (about 1.5 KB, as Teams sends them). */
export function teamsMessage(text: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: 'message',
      id: '1485983408511',
      timestamp: '2026-11-23T10:00:00.000Z',
      serviceUrl: 'https://smba.trafficmanager.net/amer/',
      channelId: 'msteams',
      from: { id: `29:${'x'.repeat(80)}`, name: 'Tim Jones', aadObjectId: 'c8a7a3b2-9f0e-4d7b-8a54-2f1a0b9c6d11' },
      conversation: { isGroup: true, conversationType: 'channel', id: '19:253b1f34@thread.tacv2;messageid=1485983194839' },
      textFormat: 'plain',
      text,
      attachments: [{ contentType: 'text/html', content: `<div>${text}</div>` }],
      entities: [
        { type: 'mention', mentioned: { id: '28:c9e8c047-2a74-40a2-b28a-b162d5f5327c', name: 'Expenses' }, text: '<at>Expenses</at>' },
        { type: 'clientInfo', locale: 'en-US', country: 'US', platform: 'Windows' },
      ],
      channelData: {
        teamsChannelId: '19:253b1f34@thread.tacv2',
        teamsTeamId: '19:712c61d0@thread.tacv2',
        tenant: { id: '72f988bf-86f1-41af-91ab-2d7cd011db47' },
      },
    }),
    'utf8',
  );
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

async function trivialHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const body = await readBody(request);
  return { status: 200, jsonBody: { type: 'message', text: `received ${body.length} bytes` } };
}

interface Timing {
  /** The handler call alone. */
  handlerMs: number;
  /** Building the real HttpRequest from the bytes (the worker's share of an invocation) plus the call. */
  requestMs: number;
}

async function timeCall(handler: Handler, body: Buffer, signature = authorization(body)): Promise<Timing> {
  const ctx = context();
  const started = performance.now();
  const request = webhookRequest(body, signature);
  const called = performance.now();
  const response = await handler(request, ctx);
  const ended = performance.now();
  if (response.status !== 200) throw new Error(`bench request answered ${response.status}`);
  return { handlerMs: ended - called, requestMs: ended - started };
}

export async function helpRows(iterations: number, warmup: number): Promise<BenchRow[]> {
  const body = teamsMessage('<at>Expenses</at> help');
  const signature = authorization(body);
  const subject: Timing[] = [];
  const anchor: Timing[] = [];
  for (let i = 0; i < warmup + iterations; i++) {
    // Interleaved, alternating which goes first, so that noise and GC hit both alike.
    let ours: Timing;
    let trivial: Timing;
    if (i % 2 === 0) {
      ours = await timeCall(outgoingWebhook, body, signature);
      trivial = await timeCall(trivialHandler, body, signature);
    } else {
      trivial = await timeCall(trivialHandler, body, signature);
      ours = await timeCall(outgoingWebhook, body, signature);
    }
    if (i < warmup) continue;
    subject.push(ours);
    anchor.push(trivial);
  }
  const µs = (list: Timing[], key: keyof Timing): number => median(list.map((t) => t[key] * 1000));
  const handler = µs(subject, 'handlerMs');
  const handlerAnchor = µs(anchor, 'handlerMs');
  const request = µs(subject, 'requestMs');
  const requestAnchor = µs(anchor, 'requestMs');
  return [
    {
      figure: `outgoing webhook: 'help' handler time (HMAC, parse, reply), median of ${iterations}`,
      value: handler,
      unit: 'µs',
      anchor: 'trivial handler: read body, return JSON',
      anchorValue: handlerAnchor,
      ratio: handler / handlerAnchor,
      goal: '≤ 1.5×',
      met: handler / handlerAnchor <= 1.5,
    },
    {
      figure: `outgoing webhook: 'help' per request, HttpRequest built from the bytes + handler, median of ${iterations}`,
      value: request,
      unit: 'µs',
      anchor: 'the same for the trivial handler',
      anchorValue: requestAnchor,
      ratio: request / requestAnchor,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// People search over 20,000 users (child process)

const GIVEN = ['Adele', 'Alex', 'Allan', 'Bianca', 'Brian', 'Cameron', 'Christie', 'Debra', 'Diego', 'Emily', 'Enrico', 'Grady', 'Henrietta', 'Irvin', 'Isaiah', 'Johanna', 'Joni', 'Lee', 'Lidia', 'Lynne', 'Megan', 'Miriam', 'Nestor', 'Patti', 'Pradeep', 'Raul', 'Sakura', 'Zoë', 'José', 'Søren', 'Ngozi', 'Wei', 'Aarav', 'Fatima', 'Olga', 'Mateo', 'Chloé', 'Yuki', 'Kwame', 'Ingrid'];
const FAMILY = ['Vance', 'Wilber', 'Deyoung', 'Cooper', 'Johnson', 'Burke', 'Gautier', 'Ibarra', 'Braun', 'Rossi', 'Hollis', 'Cerrato', 'Sherwood', 'Fischer', 'Lambert', 'Bowen', 'Wilson', 'Smith', 'García', 'Müller', 'Nakamura', 'Okafor', 'Ångström', "O'Brien", 'Kowalski', 'Nguyen', 'Haddad', 'Petrov', 'Silva', 'Larsen', 'Dubois', 'Moreau', 'Tanaka', 'Mensah', 'Novak', 'Horvat', 'Jensen', 'Costa', 'Ali', 'Chen'];
const DEPARTMENTS = ['Sales', 'Marketing', 'Finance', 'Retail', 'Research', 'Engineering', 'Legal', 'Operations', 'Human Resources', 'Executive Management', 'Customer Support', 'Facilities'];
const TITLES = ['Manager', 'Engineer', 'Analyst', 'Director', 'Assistant', 'Designer', 'Consultant', 'Specialist', 'Architect', 'Coordinator'];

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

function graphUsers(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const given = pick(GIVEN, i * 7 + 3);
    const family = pick(FAMILY, Math.floor(i / 3) * 11 + i);
    const alias = `${given}.${family}.${i}`.normalize('NFD').replace(/[^A-Za-z0-9.]/g, '').toLowerCase();
    return {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      displayName: `${given} ${family}`,
      givenName: given,
      surname: family,
      mail: `${alias}@contoso.com`,
      userPrincipalName: `${alias}@contoso.onmicrosoft.com`,
      jobTitle: `${pick(DEPARTMENTS, i * 5)} ${pick(TITLES, i * 3)}`,
      department: pick(DEPARTMENTS, i * 5),
      officeLocation: `${(i % 40) + 1}/${1000 + (i % 500)}`,
      businessPhones: [`+1 425 555 ${String(i % 10000).padStart(4, '0')}`],
      accountEnabled: i % 50 !== 0,
    };
  });
}

function queries(): string[] {
  const list: string[] = [];
  for (let i = 0; i < 40; i++) {
    list.push(pick(GIVEN, i * 3));
    list.push(pick(FAMILY, i * 7));
    list.push(`${pick(GIVEN, i * 5)} ${pick(FAMILY, i * 13)}`);
    list.push(pick(DEPARTMENTS, i).toLowerCase());
    list.push(pick(GIVEN, i).slice(0, 2));
    list.push(`nobody${i}`);
  }
  return list;
}

async function searchProbe(): Promise<void> {
  const seedStarted = performance.now();
  // One call: the directory then reads the (still empty) table once, instead of once per chunk.
  await upsertUsers(graphUsers(USERS));
  const seedMs = performance.now() - seedStarted;
  const list = queries();
  for (const query of list.slice(0, 20)) await timeCall(outgoingWebhook, teamsMessage(`<at>Expenses</at> ${query}`));
  const times: number[] = [];
  for (const query of list) times.push((await timeCall(outgoingWebhook, teamsMessage(`<at>Expenses</at> ${query}`))).handlerMs);
  process.stdout.write(JSON.stringify({ seedMs, times }));
}

async function peopleSearch(): Promise<BenchRow[]> {
  const azurite = await startAzurite();
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [__filename, '--search-probe'], {
      env: { ...process.env, AzureWebJobsStorage: azurite.connectionString, OUTGOING_WEBHOOK_SECRETS: TOKEN },
      maxBuffer: 16 * 1024 * 1024,
    });
    const { seedMs, times } = JSON.parse(stdout) as { seedMs: number; times: number[] };
    process.stderr.write(`bench: outgoing webhook: ${USERS} users seeded through upsertUsers in ${Math.round(seedMs / 1000)} s\n`);
    const p95 = percentile(times, 95);
    return [
      {
        figure: `outgoing webhook: people search, ${USERS.toLocaleString('en-US')} users in Azurite, p95 of ${times.length}`,
        value: p95,
        unit: 'ms',
        anchor: 'median',
        anchorValue: median(times),
        goal: '≤ 1000 ms (Teams waits 5 s)',
        met: p95 <= 1000,
      },
    ];
  } finally {
    await azurite.stop();
  }
}

export async function outgoingWebhookBench(): Promise<BenchRow[]> {
  const saved = process.env.OUTGOING_WEBHOOK_SECRETS;
  process.env.OUTGOING_WEBHOOK_SECRETS = TOKEN;
  try {
    return [...(await helpRows(5000, 1000)), ...(await peopleSearch())];
  } finally {
    if (saved === undefined) delete process.env.OUTGOING_WEBHOOK_SECRETS;
    else process.env.OUTGOING_WEBHOOK_SECRETS = saved;
  }
}

if (require.main === module && process.argv.includes('--search-probe')) {
  searchProbe().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
