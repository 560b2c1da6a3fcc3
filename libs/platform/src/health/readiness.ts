import type { HealthIndicatorResult } from '@nestjs/terminus';

export type ReadinessCheck = () => PromiseLike<HealthIndicatorResult>;

/**
 * Where libs add their own readiness checks (queue depth, for instance) at init; `/readyz` runs
 * them after the store and queue checks, and answers 503 naming whichever fails.
 */
export class ReadinessRegistry {
  private readonly checks: ReadinessCheck[] = [];

  add(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  all(): readonly ReadinessCheck[] {
    return this.checks;
  }
}
