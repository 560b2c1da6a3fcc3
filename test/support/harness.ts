import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { loadConfig, shutdownApp, type AppConfig } from '@arbiter/platform';
import { createApi } from '../../apps/api/src/bootstrap';

/**
 * Where the integration suites find the real services (the local PostgreSQL and Redis on the
 * development and CI machines). Each suite gets its own database and its own queue prefix, so
 * suites never see each other's rows or jobs.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The three ways Arbiter runs: all embedded; PostgreSQL + Redis; PostgreSQL alone. */
export type Mode = 'embedded' | 'postgres+redis' | 'postgres';

const hasPostgres = process.env.ARBITER_TEST_POSTGRES !== '0';
const hasRedis = process.env.ARBITER_TEST_REDIS !== '0';

/** Whether this machine can run `mode` (global-setup.cjs probed the services; CI requires them). */
export function canRun(mode: Mode): boolean {
  return mode === 'embedded' || (hasPostgres && (mode === 'postgres' || hasRedis));
}

/** The modes this machine can run, in order: all three in CI and on the development machines. */
export const MODES: readonly Mode[] = (['embedded', 'postgres+redis', 'postgres'] as const).filter(canRun);

/** `modes` less the ones this machine cannot run (use with describe.each). */
export const runnable = (...modes: Mode[]): Mode[] => modes.filter(canRun);

export interface Environment {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

const suffix = () => randomBytes(5).toString('hex');

/** A fresh, empty PostgreSQL database on the test server; dropped by cleanup. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `arbiter_t_${suffix()}`;
  const admin = new Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Settings for one mode, with private storage, plus the cleanup that removes it. */
export async function environment(mode: Mode, extra: Record<string, string> = {}): Promise<Environment> {
  const cleanups: (() => Promise<void>)[] = [];
  const env: Record<string, string> = { NODE_ENV: 'test', LOG_LEVEL: 'error', QUEUE_PREFIX: `t${suffix()}` };
  if (mode === 'embedded') {
    const dir = await mkdtemp(join(tmpdir(), 'arbiter-test-'));
    env.DATA_DIR = dir;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  } else {
    const db = await freshDatabase();
    env.DATABASE_URL = db.url;
    cleanups.push(db.drop);
  }
  if (mode === 'postgres+redis') {
    env.REDIS_URL = TEST_REDIS_URL;
    const prefix = env.QUEUE_PREFIX;
    cleanups.push(() => deleteRedisKeys(`${prefix}:*`));
  }
  Object.assign(env, extra);
  return {
    env,
    async cleanup() {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  env: Record<string, string>;
  /** Fastify's inject: a real request through the whole stack, without a socket. */
  inject: NestFastifyApplication['inject'];
  close(): Promise<void>;
}

/** Boots the real API application in `mode`, on private storage. */
export async function bootApi(mode: Mode, extra: Record<string, string> = {}): Promise<TestApp> {
  const environmentFor = await environment(mode, extra);
  let config: AppConfig;
  let app: NestFastifyApplication;
  try {
    config = loadConfig(environmentFor.env);
    app = await createApi(config);
  } catch (err) {
    // A refused boot (a test of a bad configuration) must not leave its database or directory behind.
    await environmentFor.cleanup();
    throw err;
  }
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    config,
    env: environmentFor.env,
    inject: app.inject.bind(app),
    async close() {
      await shutdownApp(app);
      await environmentFor.cleanup();
    },
  };
}

/**
 * A private configuration directory: the shipped `events.yaml` and `facts.yaml` (or the given
 * replacements) plus the given rule files, for a suite that needs rules of its own. Pass its
 * `dir` as CONFIG_DIR.
 */
export async function configDir(files: { rules?: Record<string, string>; events?: string; facts?: string }): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const { cp, mkdir, writeFile } = await import('node:fs/promises');
  const dir = await mkdtemp(join(tmpdir(), 'arbiter-config-'));
  const shipped = join(__dirname, '..', '..', 'configs');
  if (files.events === undefined) await cp(join(shipped, 'events.yaml'), join(dir, 'events.yaml'));
  else await writeFile(join(dir, 'events.yaml'), files.events);
  if (files.facts === undefined) await cp(join(shipped, 'facts.yaml'), join(dir, 'facts.yaml'));
  else await writeFile(join(dir, 'facts.yaml'), files.facts);
  await mkdir(join(dir, 'rules'));
  for (const [name, text] of Object.entries(files.rules ?? {})) await writeFile(join(dir, 'rules', name), text);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs `work` and answers, with its result, the text of every statement `ds` ran meanwhile (TypeORM's own and `preparedQuery`'s). */
export async function withQueries<T>(ds: DataSource, work: () => Promise<T>): Promise<{ result: T; queries: string[] }> {
  const queries: string[] = [];
  const original = ds.logger.logQuery.bind(ds.logger);
  ds.logger.logQuery = (query, parameters, runner) => {
    queries.push(query);
    return original(query, parameters, runner);
  };
  try {
    return { result: await work(), queries };
  } finally {
    ds.logger.logQuery = original;
  }
}
