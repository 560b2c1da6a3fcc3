// Runs once before the suite: finds out whether the real PostgreSQL and Redis the integration
// suites need are reachable. In CI (CI=true) both must be: a missing service fails the run. On a
// developer's machine without them, the suites that need them are skipped, loudly, and the
// embedded-default suites still run.
const net = require('node:net');

function reachable(url, fallbackPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || fallbackPort) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

module.exports = async () => {
  const pgUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const redisUrl = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
  const [pg, redis] = await Promise.all([reachable(pgUrl, 5432), reachable(redisUrl, 6379)]);
  const missing = [!pg && `PostgreSQL (${pgUrl})`, !redis && `Redis (${redisUrl})`].filter(Boolean);
  if (missing.length && process.env.CI) {
    throw new Error(`CI needs the real services, unreachable: ${missing.join(', ')}`);
  }
  if (missing.length) {
    process.stderr.write(`\n*** ${missing.join(' and ')} unreachable: skipping the suites that need them (set TEST_DATABASE_URL / TEST_REDIS_URL, or start them; CI=true makes this an error). ***\n\n`);
  }
  process.env.ARBITER_TEST_POSTGRES = pg ? '1' : '0';
  process.env.ARBITER_TEST_REDIS = redis ? '1' : '0';
};
