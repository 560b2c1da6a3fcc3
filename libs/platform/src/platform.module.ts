import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { collectDefaultMetrics, register } from 'prom-client';
import type { MixedList } from 'typeorm';
import { ApiKeyGuard } from './auth/api-key.guard';
import { AppConfig } from './config/app-config';
import { HttpErrorFilter } from './errors/http-error.filter';
import { CoreReadiness, HealthController } from './health/health.controller';
import { ReadinessRegistry } from './health/readiness';
import { MetricsController } from './metrics/metrics.controller';
import { QueueService } from './queue/queue.service';
import { EmbeddedDatabase } from './store/embedded-database';
import { StoreModule } from './store/store.module';

export interface PlatformOptions {
  config: AppConfig;
  /** Every migration of every lib that owns tables, in order. */
  migrations: MixedList<Function>;
}

/**
 * Everything the domain modules stand on: validated configuration, the store, the queue, auth,
 * the error filter, health and metrics. Global, so a lib injects AppConfig or QueueService
 * without importing this module.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot({ config, migrations }: PlatformOptions): DynamicModule {
    // Registered once per process: several app instances (tests) share prom-client's registry.
    if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
    return {
      module: PlatformModule,
      imports: [
        StoreModule.forRoot({ migrations }),
        TerminusModule.forRoot({ errorLogStyle: 'json' }),
        PrometheusModule.register({ path: '/metrics', controller: MetricsController, defaultMetrics: { enabled: false } }),
      ],
      controllers: [HealthController],
      providers: [
        { provide: AppConfig, useValue: config },
        EmbeddedDatabase,
        QueueService,
        ReadinessRegistry,
        CoreReadiness,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
      ],
      exports: [AppConfig, EmbeddedDatabase, QueueService, ReadinessRegistry, StoreModule],
    };
  }
}
