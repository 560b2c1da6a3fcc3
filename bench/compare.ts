import { join, resolve } from 'node:path';
import { ADMIN_URL, cpuSeconds, fmt, load, median, paced, percentile, table } from './support';
import { startBenchApi, transaction } from './http.bench';

/**
 * `node dist/bench/compare.js <other build's dist/apps/api/src/main.js> [rounds] [seconds]`: this
 * build's `POST /v1/events` against another build's (an older checkout, built with
 * scripts/build.mjs). Both services run at once, each on a fresh database, and take the load in
 * turn: `rounds` (10) rounds of `seconds` (2 s) each at 100 connections, alternating which goes
 * first, after 3 s of warm-up each. Besides requests per second it reads, from /proc, the CPU that
 * each service's process and its database's PostgreSQL backends used per request. This machine's
 * speed drifts by 20-30% within minutes; short alternating turns see the same drift on both sides,
 * where two runs of `npm run bench` made minutes apart do not.
 *
 * With `--rate <req/s>`, each turn sends that many requests a second, evenly paced (the HTTP
 * benchmark's half-load measure), and it reports each build's latency over all its turns too.
 * With `--other-node <path to a node binary>`, the other build runs on that Node instead of this
 * one's: give it this build's own main.js to compare two Node versions on the same code.
 */
async function main() {
  const args = process.argv.slice(2);
  const rateAt = args.indexOf('--rate');
  const rate = rateAt >= 0 ? Number(args[rateAt + 1]) : undefined;
  if (rateAt >= 0) args.splice(rateAt, 2);
  const nodeAt = args.indexOf('--other-node');
  const otherNode = nodeAt >= 0 ? args[nodeAt + 1] : undefined;
  if (nodeAt >= 0) args.splice(nodeAt, 2);
  const [other, rounds = '10', secs = '2'] = args;
  if (!other || (rate !== undefined && !(rate > 0)) || (nodeAt >= 0 && !otherNode)) {
    throw new Error('usage: node dist/bench/compare.js <other build: dist/apps/api/src/main.js> [rounds] [seconds] [--rate req/s] [--other-node <node binary>]');
  }
  const seconds = Number(secs);
  const names = ['other', 'this'] as const;
  const mains = [resolve(other), join(__dirname, '..', 'apps/api/src/main.js')];
  const apis: Awaited<ReturnType<typeof startBenchApi>>[] = [];
  const { Client } = await import('pg');
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    for (const [k, main] of mains.entries()) apis.push(await startBenchApi(main, {}, k === 0 ? otherNode : undefined));
    for (const api of apis) await load(api.url, { body: transaction, seconds: 3, headers: api.headers });
    const turns = names.map(() => ({ requests: 0, node: 0, postgres: 0, rates: [] as number[], latencies: [] as number[], p99s: [] as number[] }));
    for (let round = 0; round < Number(rounds); round++) {
      for (const k of round % 2 ? [1, 0] : [0, 1]) {
        const api = apis[k];
        const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [api.database]);
        const backends = new Set(rows.map((r) => r.pid));
        const match = (pid: number) => (pid === api.pid ? 'node' : backends.has(pid) ? 'postgres' : undefined);
        const before = cpuSeconds(match);
        const t = turns[k];
        const r = rate === undefined ? await load(api.url, { body: transaction, seconds, headers: api.headers }) : await paced(api.url, { body: transaction, seconds, rate, headers: api.headers, record: t.latencies });
        const after = cpuSeconds(match);
        const used = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
        t.p99s.push(r.p99);
        t.requests += r.requests;
        t.node += used('node');
        t.postgres += used('postgres');
        t.rates.push(r.requestsPerSec);
      }
    }
    const perRequest = (cpu: number, requests: number) => fmt((cpu * 1e6) / requests);
    const latency = rate === undefined ? [] : ['p50 ms', 'p99 ms', 'median turn p99 ms'];
    console.log(
      table(
        ['build', 'req/s (all turns)', 'median turn', 'service CPU µs/request', 'PostgreSQL CPU µs/request', ...latency],
        turns.map((t, k) => [
          names[k],
          fmt(t.requests / (seconds * t.rates.length)),
          fmt(median(t.rates)),
          perRequest(t.node, t.requests),
          perRequest(t.postgres, t.requests),
          ...(rate === undefined ? [] : [fmt(percentile(t.latencies, 50), 1), fmt(percentile(t.latencies, 99), 1), fmt(median(t.p99s), 1)]),
        ]),
      ),
    );
    const [o, n] = turns;
    const change = (a: number, b: number) => `${b >= a ? '+' : ''}${fmt((100 * (b - a)) / a)}%`;
    console.log(
      `this vs other: throughput ${change(o.requests, n.requests)}, service CPU per request ${change(o.node / o.requests, n.node / n.requests)}, PostgreSQL CPU per request ${change(o.postgres / o.requests, n.postgres / n.requests)}; ${rounds} turns of ${seconds} s each${rate === undefined ? '' : ` at ${fmt(rate)} req/s`}`,
    );
  } finally {
    await admin.end();
    for (const api of apis) await api.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
