import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startBenchApi, transaction } from './http.bench';
import { fmt, load, table } from './support';

/**
 * `node dist/bench/cpu.js [build's dist/apps/api/src/main.js] [seconds]`: where the CPU of
 * `POST /v1/events` goes at saturation. It runs the HTTP benchmark's service (this build's by
 * default) at 100 connections and reads, from Linux's /proc, the CPU time that the service's
 * process, PostgreSQL's processes, Redis and this load generator used meanwhile: per request,
 * and as a share of one core. Linux only; the machine's other processes should be idle.
 */
function cpuSeconds(match: (pid: number, cmdline: string) => string | undefined): Map<string, number> {
  const totals = new Map<string, number>();
  const tick = 100; // USER_HZ on Linux
  for (const entry of readdirSync('/proc')) {
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
    // Fields after the command name: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    totals.set(name, (totals.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / tick);
  }
  return totals;
}

async function main() {
  const [build, secs = '10'] = process.argv.slice(2);
  const seconds = Number(secs);
  const api = await startBenchApi(build ? resolve(build) : join(__dirname, '..', 'apps/api/src/main.js'));
  const match = (pid: number, cmdline: string) =>
    pid === api.pid ? 'service (Node)' : pid === process.pid ? 'load generator (autocannon)' : cmdline.startsWith('postgres') ? 'PostgreSQL' : cmdline.startsWith('redis') ? 'Redis' : undefined;
  try {
    await load(api.url, { body: transaction, seconds: 3, headers: api.headers });
    const before = cpuSeconds(match);
    const started = process.hrtime.bigint();
    const result = await load(api.url, { body: transaction, seconds, headers: api.headers });
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    const after = cpuSeconds(match);
    const requests = result.requestsPerSec * elapsed;
    const rows = [...after].map(([name, total]) => {
      const used = total - (before.get(name) ?? 0);
      return [name, fmt((used * 1e6) / requests), `${fmt((100 * used) / elapsed)}%`];
    });
    console.log(`${fmt(result.requestsPerSec)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms over ${seconds} s at 100 connections`);
    console.log(table(['process', 'CPU µs per request', 'share of one core'], rows));
  } finally {
    await api.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
