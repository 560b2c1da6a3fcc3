import { ConfigError } from '../errors/config.error';
import { loadConfig, SETTINGS } from './app-config';

describe('loadConfig', () => {
  it('runs on embedded defaults with nothing set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, host: '0.0.0.0', dataDir: './data', queuePrefix: 'arbiter', logLevel: 'info', bodyLimit: 1048576, workersEnabled: true });
    expect(c.storeKind).toBe('embedded');
    expect(c.queueKind).toBe('embedded');
    expect(c.authDisabled).toBe(true);
  });

  it('chooses PostgreSQL and Redis from their URLs', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/arbiter', REDIS_URL: 'redis://cache:6379/2' });
    expect(c.storeKind).toBe('postgres');
    expect(c.queueKind).toBe('redis');
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/x' }).queueKind).toBe('postgres');
  });

  it('lists every bad setting in one error, naming each and why', () => {
    let error: unknown;
    try {
      loadConfig({ DATABASE_URL: 'nonsense', PORT: '70000', LOG_LEVEL: 'loud', REDIS_URL: 'http://x', WORKERS_ENABLED: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/DATABASE_URL="nonsense": must be a URL like postgres:\/\//);
    expect(problems.join('\n')).toMatch(/PORT="70000": must be a whole number from 0 to 65535/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL="loud"/);
    expect(problems.join('\n')).toMatch(/REDIS_URL/);
    expect(problems.join('\n')).toMatch(/WORKERS_ENABLED/);
  });

  it('refuses a batch limit the queue could never hold', () => {
    expect(() => loadConfig({ QUEUE_MAX_DEPTH: '100' })).toThrow(/BATCH_MAX_EVENTS=1000: must not exceed QUEUE_MAX_DEPTH=100/);
    expect(loadConfig({ QUEUE_MAX_DEPTH: '100', BATCH_MAX_EVENTS: '100' })).toMatchObject({ queueMaxDepth: 100, batchMaxEvents: 100 });
  });

  it('never prints a password from a bad URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://admin:hunter2@db/x' })).toThrow(/admin:\*\*\*@/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://admin:hunter2@db/x' })).not.toThrow(/hunter2/);
  });

  it('parses API keys with scopes, * meaning all', () => {
    const c = loadConfig({ API_KEYS: 'admin-key-123:*, reader-key-1:read' });
    expect(c.apiKeys).toHaveLength(2);
    expect([...c.apiKeys[0].scopes].sort()).toEqual(['admin', 'ingest', 'read']);
    expect([...c.apiKeys[1].scopes]).toEqual(['read']);
    expect(c.authDisabled).toBe(false);
  });

  it('refuses malformed keys, short keys, duplicates and unknown scopes', () => {
    expect(() => loadConfig({ API_KEYS: 'short:read' })).toThrow(/at least 8/);
    expect(() => loadConfig({ API_KEYS: 'longenough1:read,longenough1:admin' })).toThrow(/duplicate key/);
    expect(() => loadConfig({ API_KEYS: 'longenough1:superuser' })).toThrow(/unknown scope "superuser"/);
    expect(() => loadConfig({ API_KEYS: 'no-scopes-here' })).toThrow(/must look like key:scope/);
  });

  it('refuses to start in production without API keys', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/API_KEYS: required when NODE_ENV=production/);
    expect(loadConfig({ NODE_ENV: 'production', API_KEYS: 'prod-key-123:*' }).nodeEnv).toBe('production');
  });

  it('works on more queued events at once on Redis than on the PostgreSQL queue, unless told', () => {
    expect(loadConfig({}).eventConcurrency).toBe(128);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).eventConcurrency).toBe(512);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', EVENT_CONCURRENCY: '64' }).eventConcurrency).toBe(64);
  });

  it('documents every setting it reads', () => {
    const documented = new Set(SETTINGS.map((s) => s.name));
    const source = loadConfig.toString();
    const read = [...source.matchAll(/\(\s*'([A-Z_]+)'/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(5);
    for (const name of read) expect(documented).toContain(name);
  });
});
