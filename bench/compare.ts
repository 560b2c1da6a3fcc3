import { join, resolve } from 'node:path';
import { benchConfigDir, fmt, freePort, freshDatabase, load, start, table, waitFor } from './support';
import { generatedRules, transaction } from './http.bench';

/**
 * `node dist/bench/compare.js <other build's dist/apps/api/src/main.js> [rounds]`: this build's
 * `POST /v1/events` against another build's (an older checkout, built with scripts/build.mjs), in
 * turn, a fresh database each, 3 s of warm-up then 10 s at 100 connections, alternating which goes
 * first. On a machine whose speed drifts, runs in turn compare two builds better than two runs of
 * `npm run bench` made minutes apart.
 */
async function once(main: string): Promise<number> {
  const db = await freshDatabase();
  const config = await benchConfigDir({ 'zz-generated.yaml': generatedRules(100) });
  const port = await freePort();
  const api = start(main, {
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `cmp${Date.now().toString(36)}`,
    CONFIG_DIR: config.dir,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    API_KEYS: 'bench-key-0001:*',
  });
  try {
    await waitFor(`http://127.0.0.1:${port}/readyz`, api);
    const url = `http://127.0.0.1:${port}/v1/events`;
    const headers = { authorization: 'Bearer bench-key-0001' };
    await load(url, { body: transaction, seconds: 3, headers });
    return (await load(url, { body: transaction, seconds: 10, headers })).requestsPerSec;
  } finally {
    await api.stop();
    await config.cleanup();
    await db.drop();
  }
}

async function main() {
  const [other, rounds = '3'] = process.argv.slice(2);
  if (!other) throw new Error('usage: node dist/bench/compare.js <other build: dist/apps/api/src/main.js> [rounds]');
  const builds = { other: resolve(other), this: join(__dirname, '..', 'apps/api/src/main.js') };
  const results: Record<keyof typeof builds, number[]> = { other: [], this: [] };
  for (let round = 0; round < Number(rounds); round++) {
    for (const name of round % 2 ? (['this', 'other'] as const) : (['other', 'this'] as const)) {
      results[name].push(await once(builds[name]));
      console.log(`round ${round + 1}: ${name} ${fmt(results[name].at(-1)!)} req/s`);
    }
  }
  console.log(table(['build', 'req/s, each round'], [['other', results.other.map((r) => fmt(r)).join(', ')], ['this', results.this.map((r) => fmt(r)).join(', ')]]));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
