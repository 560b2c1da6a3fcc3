import { Controller, Get, Injectable } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { Public } from '../auth/scopes.decorator';
import { AppConfig } from '../config/app-config';
import { QueueService } from '../queue/queue.service';
import { ReadinessRegistry } from './readiness';

const CHECK_TIMEOUT_MS = 2000;

@Injectable()
export class CoreReadiness {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {}

  store() {
    return this.health
      .check('store')
      .attempt(async () => {
        await this.dataSource.query('SELECT 1');
        return { kind: this.config.storeKind };
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  queue() {
    return this.health
      .check('queue')
      .attempt(async () => {
        await this.queues.ping();
        return { kind: this.queues.kind };
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }
}

/** Liveness and readiness, open to everyone (a load balancer has no API key). */
@ApiTags('operations')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly core: CoreReadiness,
    private readonly registry: ReadinessRegistry,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process is up and serving HTTP' })
  @ApiResponse({ status: 200, schema: { example: { status: 'ok' } } })
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: the store and the queue answer; 503 names the failing check' })
  readyz() {
    return this.health.check([() => this.core.store(), () => this.core.queue(), ...this.registry.all()]);
  }
}
