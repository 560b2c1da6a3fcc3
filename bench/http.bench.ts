import { dirname, join } from 'node:path';
import { BENCH_REDIS_URL, benchConfigDir, cpuBudget, cpuCell, cpuDuring, dropQueueKeys, fmt, freePort, freshDatabase, load, paced, perUnit, POSTGRES, REDIS, SERVICE, start, started, table, total, waitFor, withCheckpointer, type LoadResult } from './support';

/**
 * HTTP: `POST /v1/events` on the real service (the shipped example rules plus 100 generated rules
 * across fraud, promo and growth, on PostgreSQL + Redis as in production) against a bare Nest 12 +
 * Fastify endpoint that parses and echoes the same body — the same machine, one after the other,
 * 100 connections each — and against the same echo after one durable insert of the body (the
 * least a service that answers only once it cannot lose what it accepted has to do). Then the
 * service again at half its measured throughput, for p99 under a sustainable load: paced evenly
 * (the target's measure), and with autocannon's rate cap, which spends each connection's budget
 * for a second in one burst at the start of that second.
 */
const DOMAINS = ['fraud', 'promo', 'growth'];
const CATEGORIES = ['food', 'travel', 'games', 'fashion', 'books', 'electronics'];
const CURRENCIES = ['EUR', 'USD', 'GBP'];

export function generatedRules(n: number): string {
  const lines = ['# generated for the HTTP benchmark', 'rules:'];
  for (let i = 0; i < n; i++) {
    const domain = DOMAINS[i % 3];
    const threshold = 500 + ((i * 37) % 4000);
    const category = CATEGORIES[i % CATEGORIES.length];
    const currency = CURRENCIES[i % CURRENCIES.length];
    lines.push(
      `  - id: gen_${domain}_${i}`,
      `    domain: ${domain}`,
      `    on: [transaction]`,
      `    priority: ${i % 10}`,
      `    when: payload.amount > ${threshold} and payload.category == "${category}" and payload.currency == "${currency}"`,
    );
    if (domain === 'fraud') lines.push(`    score: ${1 + (i % 5)}`);
  }
  return `${lines.join('\n')}\n`;
}

let seq = 0;
export function transaction(): Record<string, unknown> {
  seq++;
  return {
    id: `bench-${process.pid}-${seq}`,
    type: 'transaction',
    user_id: `user-${seq % 10_000}`,
    payload: { amount: (seq * 7919) % 5000, category: CATEGORIES[seq % CATEGORIES.length], currency: CURRENCIES[seq % CURRENCIES.length], merchant: `m-${seq % 100}` },
  };
}

/**
 * The service of build `main` (its dist/apps/api/src/main.js) on a fresh database, the benchmarks'
 * rules, the local Redis and a free port, ready, with `env` added to its settings; `stop` also
 * drops what it made. `url` is its `POST /v1/events`, `database` the name of its database.
 */
export async function startBenchApi(main: string, env: Record<string, string> = {}, node?: string, workers = 0): Promise<{ url: string; headers: Record<string, string>; pid: number; pids: number[]; database: string; stop(): Promise<void> }> {
  const db = await freshDatabase();
  const config = await benchConfigDir({ 'zz-generated.yaml': generatedRules(100) });
  const port = await freePort();
  const prefix = `bench${Date.now().toString(36)}`;
  const settings = {
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_URL: BENCH_REDIS_URL,
    QUEUE_PREFIX: prefix,
    CONFIG_DIR: config.dir,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    API_KEYS: 'bench-key-0001:*',
    ...env,
  };
  const api = start(main, settings, node);
  const children = [api];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    await config.cleanup();
    await db.drop();
    await dropQueueKeys(BENCH_REDIS_URL, prefix);
  };
  try {
    await waitFor(`http://127.0.0.1:${port}/readyz`, api);
    // Worker processes (apps/worker) beside it, once its migrations have run: the scale-out of README "Scale-out".
    const script = join(dirname(main), '..', '..', 'worker', 'src', 'main.js');
    for (let i = 0; i < workers; i++) children.push(start(script, { ...settings, LOG_LEVEL: 'info' }, node));
    await Promise.all(children.slice(1).map((w) => started(w, 'Arbiter worker started')));
  } catch (err) {
    await stop();
    throw err;
  }
  const pids = children.map((c) => c.proc.pid!);
  return { url: `http://127.0.0.1:${port}/v1/events`, headers: { authorization: 'Bearer bench-key-0001' }, pid: pids[0], pids, database: new URL(db.url).pathname.slice(1), stop };
}

/**
 * The baseline of the HTTP benchmark (bench/echo-server.ts) on a free port and a fresh database,
 * ready: `url(path)` is its `/echo` or `/stored`, `stop` also drops the database.
 */
export async function startEchoServer(): Promise<{ url(path: '/echo' | '/stored'): string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const db = await freshDatabase();
  const server = start(join(__dirname, 'echo-server.js'), { PORT: String(port), DATABASE_URL: db.url });
  const stop = async () => {
    await server.stop();
    await db.drop();
  };
  try {
    await waitFor(`http://127.0.0.1:${port}/readyz`, server);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: (path) => `http://127.0.0.1:${port}${path}`, pid: server.proc.pid!, stop };
}

export async function runHttpBench({ quick }: { quick: boolean }): Promise<string> {
  const seconds = quick ? 3 : 15;
  const dist = join(__dirname, '..');
  const rows: { name: string; r: LoadResult; checkpointBuffers: number; cpu: Map<string, number> }[] = [];
  const run = async (name: string, pid: number, work: () => Promise<LoadResult>) => {
    const { result, used } = await cpuDuring(pid, LOAD_GENERATOR, () => withCheckpointer(work));
    rows.push({ name, r: result.result, checkpointBuffers: result.checkpointBuffers, cpu: perUnit(used, result.result.requests) });
    return result.result;
  };

  const echo = await startEchoServer();
  try {
    await load(echo.url('/echo'), { body: transaction, seconds: 2 });
    await run('bare Nest 12 + Fastify, parse and echo', echo.pid, () => load(echo.url('/echo'), { body: transaction, seconds }));
    await load(echo.url('/stored'), { body: transaction, seconds: 2 });
    await run('the same echo after one durable insert of the body (grouped, committed)', echo.pid, () => load(echo.url('/stored'), { body: transaction, seconds }));
  } finally {
    await echo.stop();
  }

  const { url, headers, pid, stop } = await startBenchApi(join(dist, 'apps/api/src/main.js'));
  try {
    await load(url, { body: transaction, seconds: 3, headers });
    const max = await run('Arbiter `POST /v1/events`, 100 connections', pid, () => load(url, { body: transaction, seconds, headers }));
    const half = Math.max(1, Math.floor(max.requestsPerSec / 2));
    await run(`Arbiter \`POST /v1/events\` at half that rate (${fmt(half)} req/s), steady pacing`, pid, () => paced(url, { body: transaction, seconds, headers, rate: half }));
    await run(`Arbiter \`POST /v1/events\` at half that rate, autocannon's per-second budget (bursts)`, pid, () => load(url, { body: transaction, seconds, headers, rate: half }));
  } finally {
    await stop();
  }

  const base = rows[0].r.requestsPerSec;
  const out = table(
    ['Endpoint', 'req/s', 'vs bare', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'checkpoint', 'CPU µs/request: service · PostgreSQL · Redis · load generator'],
    rows.map(({ name, r, checkpointBuffers, cpu }) => [name, fmt(r.requestsPerSec), `${fmt((100 * r.requestsPerSec) / base)}%`, fmt(r.p50, 1), fmt(r.p99, 1), r.non2xx, r.errors, checkpointBuffers ? `${fmt(checkpointBuffers)} buffers` : 'none', cpuCell(cpu, CPU_NAMES)]),
  );
  const budget = httpBudget(base, rows[0].cpu, rows[2].cpu);
  const note = `Each event is a \`transaction\` with a fresh id (nothing answered from the idempotency store), evaluated against ${100} generated rules plus the shipped examples; the service runs on PostgreSQL + Redis as in production, on the same 2 cores as autocannon. The CPU column counts each process's CPU time (Linux /proc) over the row's run, per request answered, every PostgreSQL and Redis process on the machine included. Targets: at least 60% of the bare endpoint's throughput; p99 under 20 ms at half load. The second row is the floor of a durable service: the echo stores each body first, as one row (primary key only) inserted by one statement for all the requests of an event-loop turn (the service's Coalescer) and committed before the answer. The steady half-load run sends its requests at even intervals (open loop, latency counted from when each request was due); autocannon's rate cap sends each connection's share for a second as one burst at the start of that second, so its p99 measures bursts of full load. \`checkpoint\`: the buffers PostgreSQL's checkpointer wrote during the row's run (none: no checkpoint overlapped it); after a checkpoint begins, the first change of each page writes the whole page to the WAL, and commits, hence the tail, slow down.`;
  console.log(`${out}\n\n${budget}`);
  return `${out}\n\n${note}\n\n${budget}\n`;
}

const LOAD_GENERATOR = 'load generator';
const CPU_NAMES = [SERVICE, POSTGRES, REDIS, LOAD_GENERATOR] as const;

/**
 * The CPU the throughput target leaves per request on this machine, against what the bare
 * endpoint's row and Arbiter's saturated row spent (µs per request by process).
 */
function httpBudget(bare: number, bareCpu: ReadonlyMap<string, number>, cpu: ReadonlyMap<string, number>): string {
  if (!cpu.size) return '';
  const [service, postgres, redis, generator] = CPU_NAMES.map((n) => cpu.get(n) ?? 0);
  const spent = `The bare endpoint's row spent ${fmt(total(bareCpu, CPU_NAMES))} µs per request in all (its service ${fmt(bareCpu.get(SERVICE) ?? 0)}); Arbiter's saturated row ${fmt(total(cpu, CPU_NAMES))}: the service ${fmt(service)}, PostgreSQL ${fmt(postgres)}, Redis ${fmt(redis)}, the load generator ${fmt(generator)}.`;
  return cpuBudget("60% of the bare endpoint", 0.6 * bare, 'request', spent);
}

if (require.main === module) {
  runHttpBench({ quick: process.argv.includes('--quick') }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
