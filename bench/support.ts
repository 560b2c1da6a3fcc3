import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';

/** Shared helpers of the benchmarks: child processes, free ports, load runs, tables. */

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

export interface Child {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * The Node flags the service runs with (`npm start`, the Dockerfile): every benchmarked process gets them, as does `npm run bench` itself (raw BullMQ runs in it).
 * `BENCH_NODE_FLAGS` adds more to the processes a benchmark starts, for a trial or a profile (`--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
export const NODE_FLAGS = ['--max-semi-space-size=64', ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];

/** Starts `script` in a child process, on `node` (this process's Node by default). */
export function start(script: string, env: Record<string, string>, node = process.execPath): Child {
  const proc = spawn(node, [...NODE_FLAGS, script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  const exited = new Promise<number | null>((ok) => proc.on('exit', (code) => ok(code)));
  return {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

export async function waitFor(url: string, child: Child, timeoutMs = 90_000): Promise<void> {
  await until(child, `${url} ready`, async () => (await fetch(url).catch(() => undefined))?.ok === true, timeoutMs);
}

/** Waits until `child` has written `line` (a process without HTTP, such as a worker). */
export async function started(child: Child, line: string, timeoutMs = 90_000): Promise<void> {
  await until(child, `"${line}" written`, async () => child.output().includes(line), timeoutMs);
}

async function until(child: Child, what: string, done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw new Error(`process exited early:\n${child.output()}`);
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ${what} in time:\n${child.output()}`);
}

export interface LoadResult {
  requestsPerSec: number;
  /** Requests answered (2xx or not) in the run. */
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/**
 * Runs autocannon against `url` with a body made fresh for every request (unique event ids, so
 * nothing is answered from the idempotency cache). `rate` caps the overall requests per second.
 */
export async function load(url: string, opts: { body: () => unknown; connections?: number; seconds?: number; rate?: number; headers?: Record<string, string> }): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: opts.connections ?? 100,
    duration: opts.seconds ?? 10,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) },
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: JSON.stringify(opts.body()) }),
      },
    ],
  });
  return {
    requestsPerSec: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/**
 * An open-loop load at a steady `rate`: requests leave at even intervals (checked every
 * millisecond) over up to `connections` keep-alive sockets, whatever the answers do, and each
 * latency is measured from the moment its request was due, so a stall shows in the percentiles
 * instead of slowing the load down (no coordinated omission). autocannon's rate caps are budgets
 * per second and per connection, spent as fast as possible at the start of each second: at "half
 * load" every second begins with a burst at full speed, which is not the load the target means.
 * `record`, when given, receives every latency (ms), to pool several runs. `agent`, when given,
 * is used (and left open) instead of a new one: its connections, opened by an earlier run, are not
 * opened again inside this one.
 */
export async function paced(url: string, opts: { body: () => unknown; rate: number; seconds: number; connections?: number; headers?: Record<string, string>; record?: number[]; agent?: import('node:http').Agent }): Promise<LoadResult> {
  const http = await import('node:http');
  const agent = opts.agent ?? new http.Agent({ keepAlive: true, maxSockets: opts.connections ?? 100 });
  const target = new URL(url);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let pending = 0;
  const send = (due: number) => {
    const body = JSON.stringify(opts.body());
    pending++;
    const req = http.request(
      { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(opts.headers ?? {}) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          pending--;
          latencies.push(performance.now() - due);
          if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) non2xx++;
        });
      },
    );
    req.on('error', () => {
      pending--;
      errors++;
    });
    req.end(body);
  };
  const start = performance.now();
  const total = Math.floor(opts.seconds * opts.rate);
  // Request k is due at start + k / rate; each tick sends every request due by then.
  const dueAt = (k: number) => start + (k * 1000) / opts.rate;
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const now = performance.now();
      for (; sent < total && dueAt(sent) <= now; sent++) send(dueAt(sent));
      if (sent >= total) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
  const deadline = performance.now() + 30_000;
  while (pending > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!opts.agent) agent.destroy();
  const elapsed = (performance.now() - start) / 1000;
  opts.record?.push(...latencies);
  return { requestsPerSec: latencies.length / Math.max(elapsed, opts.seconds), requests: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), non2xx, errors: errors + pending };
}

/** The `p`th percentile of `values` (sorts them in place); NaN for none. */
export function percentile(values: number[], p: number): number {
  const sorted = values.sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The local PostgreSQL's administrative connection for the benchmarks (fresh databases, server statistics). */
export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Runs `work` and tells how many buffers PostgreSQL's checkpointer wrote meanwhile (the whole
 * server's, from `pg_stat_bgwriter`): more than none means a checkpoint overlapped the run, and
 * with it the full-page images each first change of a page writes to the WAL after a checkpoint
 * begins, which lengthen commits and the latency tail (docs/benchmarks.md).
 */
export async function withCheckpointer<T>(work: () => Promise<T>): Promise<{ result: T; checkpointBuffers: number }> {
  const { Client } = await import('pg');
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const written = async () => Number((await admin.query('SELECT buffers_checkpoint::bigint AS n FROM pg_stat_bgwriter')).rows[0].n);
    const before = await written();
    const result = await work();
    return { result, checkpointBuffers: (await written()) - before };
  } finally {
    await admin.end();
  }
}

/** A fresh database on the local PostgreSQL for one benchmark run (dropped by `drop`). */
export async function freshDatabase(adminUrl = ADMIN_URL) {
  const { Client } = await import('pg');
  const name = `arbiter_bench_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** The Redis the benchmarks use (BENCH_REDIS_URL). */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Deletes the keys of one queue prefix from Redis: what a benchmark's service left there (its queues' keys, and completed jobs of the queues that keep them). */
export async function dropQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** A private CONFIG_DIR: the shipped events.yaml, facts.yaml and rules, plus generated rule files. */
export async function benchConfigDir(extraRules: Record<string, string>): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const { cp, mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'arbiter-bench-'));
  const shipped = join(__dirname, '..', '..', 'configs');
  await cp(shipped, dir, { recursive: true });
  for (const [name, text] of Object.entries(extraRules)) await writeFile(join(dir, 'rules', name), text);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * CPU seconds (user + system) used so far by the processes `match` names, summed by name (Linux
 * /proc; empty elsewhere). For a process named `withChildren`, the CPU of its children that have
 * exited is counted too: PostgreSQL's server, whose backends come and go with connections.
 */
export function cpuSeconds(match: (pid: number, cmdline: string) => string | undefined, withChildren?: string): Map<string, number> {
  const totals = new Map<string, number>();
  const tick = 100; // USER_HZ on Linux
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return totals; // not Linux: no CPU columns
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let cmdline: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const name = match(Number(entry), cmdline);
    if (!name) continue;
    // Fields after the command name: utime and stime are the 12th and 13th, cutime and cstime (exited children) the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    const children = name === withChildren ? Number(fields[13]) + Number(fields[14]) : 0;
    totals.set(name, (totals.get(name) ?? 0) + (own + children) / tick);
  }
  return totals;
}

/** The names {@link cpuDuring} gives: the measured Node process(es), and the servers. */
export const SERVICE = 'service (Node)';
export const POSTGRES = 'PostgreSQL';
export const REDIS = 'Redis';

/** PostgreSQL's processes: its server (`.../bin/postgres -D ...`) and the backends and helpers it starts (`postgres: ...`). */
const isPostgres = (cmdline: string) => cmdline.startsWith('postgres') || /\/bin\/postgres\0/.test(cmdline);

/**
 * Runs `work` and returns the CPU seconds each process used meanwhile, by name: the process
 * `service` (or each of several, summed) as {@link SERVICE}, this one as `self`, PostgreSQL's
 * and Redis's (every one on the machine: other work there counts too; Linux only, the map is
 * empty elsewhere), with the wall time it took.
 */
export async function cpuDuring<T>(service: number | readonly number[] | undefined, self: string, work: () => Promise<T>): Promise<{ result: T; used: Map<string, number>; elapsed: number }> {
  const services = new Set(typeof service === 'number' ? [service] : service);
  const match = (pid: number, cmdline: string) =>
    services.has(pid) ? SERVICE : pid === process.pid ? self : isPostgres(cmdline) ? POSTGRES : cmdline.startsWith('redis') ? REDIS : undefined;
  const before = cpuSeconds(match, POSTGRES);
  const started = process.hrtime.bigint();
  const result = await work();
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const used = new Map([...cpuSeconds(match, POSTGRES)].map(([name, total]) => [name, total - (before.get(name) ?? 0)]));
  return { result, used, elapsed };
}

/** Microseconds of CPU per unit of work, by process, from {@link cpuDuring}'s seconds. */
export function perUnit(used: ReadonlyMap<string, number>, units: number): Map<string, number> {
  return new Map([...used].map(([name, seconds]) => [name, units > 0 ? (seconds * 1e6) / units : 0]));
}

/** `a · b · c` microseconds of the named processes (0 when one did not run), or `n/a` without /proc. */
export function cpuCell(us: ReadonlyMap<string, number>, names: readonly string[]): string {
  return us.size ? names.map((n) => fmt(us.get(n) ?? 0)).join(' · ') : 'n/a';
}

/**
 * What a throughput target leaves to spend, as a paragraph: at `rate` units per second the
 * machine's cores have `cores * 1e6 / rate` µs of CPU per unit for every process on it, and one
 * Node process, which runs on one core, `1e6 / rate` µs of its own; then what was spent (`spent`,
 * sentences of µs per unit made by the caller from its rows).
 */
export function cpuBudget(target: string, rate: number, unit: string, spent: string): string {
  const cores = availableParallelism();
  return `**CPU budget.** ${target} is ${fmt(rate)} ${unit}s/s. At that rate the machine's ${cores} cores have ${fmt((cores * 1e6) / rate)} µs of CPU per ${unit} for everything on them, and the service, one Node process on one core, ${fmt(1e6 / rate)} µs of its own. ${spent}`;
}

/** The sum of `names`' values in `us` (µs per unit by process). */
export function total(us: ReadonlyMap<string, number>, names: readonly string[]): number {
  return names.reduce((a, n) => a + (us.get(n) ?? 0), 0);
}
