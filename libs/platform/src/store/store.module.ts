import { DynamicModule, Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource, type DataSourceOptions, type MixedList } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { EmbeddedDatabase } from './embedded-database';
import { STATEMENT_SETTINGS, useStatementPool } from './prepared-query';

/** Connections per process on a PostgreSQL server: TypeORM's pool, and the hot path's statements' (preparedQuery). */
const ORM_POOL_SIZE = 12;
const STATEMENT_POOL_SIZE = 8;
/** Of those, the connections for statements that defer their commit's flush (the event append; one runs at a time). */
const DEFERRED_POOL_SIZE = 2;

/** Arbitrary but fixed: the advisory lock that lets one process at a time run migrations. */
const MIGRATION_LOCK = 0x4152_4254; // "ARBT"

export interface StoreModuleOptions {
  /** Every migration of every lib that owns tables, in order. */
  migrations: MixedList<Function>;
}

/**
 * TypeORM on PostgreSQL: the real server when DATABASE_URL is set, else the embedded PGlite.
 * Entities are registered by the lib that owns them (`TypeOrmModule.forFeature`) and picked up
 * automatically; the schema only changes through migrations, run at boot under an advisory lock
 * so that several processes starting together do not race. On a server, the hot path's named
 * statements run on a pool of their own, whose connections keep one plan per statement
 * (`STATEMENT_SETTINGS`); TypeORM's queries keep PostgreSQL's defaults.
 */
@Global()
@Module({})
export class StoreModule {
  static forRoot(options: StoreModuleOptions): DynamicModule {
    return {
      module: StoreModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [AppConfig, EmbeddedDatabase],
          useFactory: async (config: AppConfig, embedded: EmbeddedDatabase) => {
            const base = {
              type: 'postgres' as const,
              autoLoadEntities: true,
              synchronize: false,
              migrationsRun: false,
              migrations: options.migrations,
              logging: false,
              retryAttempts: 2,
              retryDelay: 1000,
            };
            // A connection that cannot be had within STORE_TIMEOUT_MS fails instead of waiting on.
            if (config.databaseUrl) return { ...base, url: config.databaseUrl, extra: { max: ORM_POOL_SIZE, connectionTimeoutMillis: config.storeTimeoutMs } };
            const pool = await embedded.pool('public');
            // TypeORM calls `new driver.Pool(options)`; a constructor returning an object yields it.
            return { ...base, driver: { Pool: function EmbeddedPool() { return pool; } } };
          },
          dataSourceFactory: async (opts?: DataSourceOptions) => {
            const dataSource = await new DataSource(opts!).initialize();
            await runMigrations(dataSource);
            const { url, extra } = opts as { url?: string; extra?: { connectionTimeoutMillis?: number } };
            if (url) {
              const timeoutMs = extra?.connectionTimeoutMillis ?? 0;
              closeWith(dataSource, statementPool(url, STATEMENT_POOL_SIZE - DEFERRED_POOL_SIZE, timeoutMs), statementPool(url, DEFERRED_POOL_SIZE, timeoutMs, { synchronous_commit: 'off' }));
            }
            return dataSource;
          },
        }),
      ],
      exports: [TypeOrmModule],
    };
  }
}

/**
 * A pool for the hot path's statements. `timeoutMs` (STORE_TIMEOUT_MS) bounds both the wait for
 * a connection and each statement (`statement_timeout`, which also ends a wait on a lock): the
 * event path then answers 503 instead of hanging with the database. TypeORM's pool, which runs
 * the migrations, keeps no statement limit.
 */
function statementPool(url: string, max: number, timeoutMs: number, extra: Record<string, string> = {}): Pool {
  const settings = { ...STATEMENT_SETTINGS, statement_timeout: String(timeoutMs), ...extra };
  const options = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`).join(' ');
  const pool = new Pool({ connectionString: url, max, options, connectionTimeoutMillis: timeoutMs });
  // An idle connection that breaks (the server restarted) is dropped and replaced; without a
  // listener its error would end the process.
  const logger = new Logger('StatementPool');
  pool.on('error', (err) => logger.warn(`idle connection failed: ${err.message}`));
  return pool;
}

/** The statement pools serve `dataSource` and close with it. */
function closeWith(dataSource: DataSource, pool: Pool, deferred: Pool): void {
  useStatementPool(dataSource, pool, deferred);
  const destroy = dataSource.destroy.bind(dataSource);
  dataSource.destroy = async () => {
    try {
      await destroy();
    } finally {
      await Promise.all([pool.end(), deferred.end()]);
    }
  };
}

async function runMigrations(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}
