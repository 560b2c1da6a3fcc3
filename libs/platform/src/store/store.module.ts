import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions, type MixedList } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { EmbeddedDatabase } from './embedded-database';

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
 * so that several processes starting together do not race.
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
            // Custom plans for the hot path's named statements (preparedQuery): a generic plan made
            // while a table was small (a sequential scan) is kept as it grows, and cost 100x.
            if (config.databaseUrl) return { ...base, url: config.databaseUrl, extra: { max: 20, options: '-c plan_cache_mode=force_custom_plan' } };
            const pool = await embedded.pool('public');
            // TypeORM calls `new driver.Pool(options)`; a constructor returning an object yields it.
            return { ...base, driver: { Pool: function EmbeddedPool() { return pool; } } };
          },
          dataSourceFactory: async (opts?: DataSourceOptions) => {
            const dataSource = await new DataSource(opts!).initialize();
            await runMigrations(dataSource);
            return dataSource;
          },
        }),
      ],
      exports: [TypeOrmModule],
    };
  }
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
