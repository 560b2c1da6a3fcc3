import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { QueueService } from '@arbiter/platform';
import { runInSession } from '@arbiter/session';
import { ACTIONS_QUEUE } from './actions.constants';
import type { ActionContext } from './action.interfaces';
import { describeError, type ActionJobData } from './action.executor';
import { ActionLogRepository } from './action-log.repository';
import { actionExecutions } from './action.metrics';
import { ActionRegistry } from './action.registry';
import { PermanentActionError } from './errors/action.error';

/**
 * Runs deferred actions from the `actions` queue (in every process whose workers are enabled).
 * Each job opens its own session. The action log decides first: an entry already `succeeded`
 * (a duplicate delivery) returns the logged result without running. A failed try is logged as
 * `retrying` and thrown so BullMQ schedules the next one with exponential backoff; the last try
 * (or a {@link PermanentActionError}) leaves the entry `failed`, listed by `GET /v1/actions/failed`.
 */
@Injectable()
export class ActionQueueProcessor implements OnApplicationBootstrap {
  private readonly logger = new Logger('ActionQueue');
  private readonly executions = actionExecutions();

  constructor(
    private readonly queues: QueueService,
    private readonly registry: ActionRegistry,
    private readonly log: ActionLogRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queues.worker<ActionJobData>(ACTIONS_QUEUE, (job) => this.process(job), { concurrency: 5 });
  }

  async process(job: Job<ActionJobData>): Promise<unknown> {
    const data = job.data;
    return runInSession({ requestId: `action-${job.id ?? data.key}`, userId: data.event.user_id }, async () => {
      const entry = await this.log.byKey(data.key);
      if (entry?.status === 'succeeded') return entry.result;
      const action = this.registry.get(data.action);
      if (!action) {
        await this.log.update(data.key, { status: 'failed', errorCode: 'UNKNOWN_ACTION', errorMessage: `no action "${data.action}" is registered in this process` });
        throw new UnrecoverableError(`no action "${data.action}" is registered`);
      }
      const attempt = job.attemptsMade + 1;
      const context: ActionContext = { idempotencyKey: data.key, event: data.event, ruleId: data.ruleId, domain: data.domain, actionIndex: data.actionIndex, mode: 'deferred', attempt };
      try {
        const raw = await action.handler.execute(data.params, context);
        const result = raw === undefined ? null : JSON.parse(JSON.stringify(raw));
        await this.log.update(data.key, { status: 'succeeded', result, attempts: attempt });
        this.executions.inc({ action: action.name, mode: 'deferred', outcome: 'succeeded' });
        return result;
      } catch (err) {
        const error = describeError(err);
        const permanent = err instanceof PermanentActionError;
        const last = permanent || attempt >= (job.opts.attempts ?? 1);
        await this.log.update(data.key, { status: last ? 'failed' : 'retrying', errorCode: error.code, errorMessage: error.message, attempts: attempt });
        this.executions.inc({ action: action.name, mode: 'deferred', outcome: last ? 'failed' : 'retrying' });
        if (last) this.logger.warn(`deferred action ${action.name} (${data.key}) failed for good after ${attempt} attempt(s): ${error.message}`);
        throw permanent ? new UnrecoverableError(error.message) : err;
      }
    });
  }
}
