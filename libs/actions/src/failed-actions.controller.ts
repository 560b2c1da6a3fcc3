import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Controller, Get, HttpCode, Logger, Param, Post, Query } from '@nestjs/common';
import { NotFoundError, QueueService, RequireScope, ValidationError } from '@arbiter/platform';
import { ACTIONS_QUEUE } from './actions.constants';
import { addJob, jobData, type ActionJobData } from './action.executor';
import type { ActionLogEntry } from './action-log.entity';
import { ActionLogRepository } from './action-log.repository';
import { ActionRegistry } from './action.registry';
import { ActionNotFailedError } from './errors/action.error';

/** The JSON form of an action log entry. */
export function logEntryView(e: ActionLogEntry) {
  return {
    id: e.id,
    idempotency_key: e.idempotencyKey,
    event_id: e.eventId,
    rule_id: e.ruleId,
    domain: e.domain,
    action_index: e.actionIndex,
    action: e.action,
    mode: e.mode,
    status: e.status,
    params: e.params,
    result: e.result ?? null,
    error: e.errorMessage ? { code: e.errorCode ?? 'ACTION_FAILED', message: e.errorMessage } : null,
    attempts: e.attempts,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
  };
}

/**
 * Deferred actions that used up their retries, for operators: list them, and send one back to the
 * queue with a fresh set of attempts once the cause is fixed.
 */
@ApiTags('actions')
@ApiBearerAuth()
@Controller('v1/actions')
@RequireScope('admin')
export class FailedActionsController {
  private readonly logger = new Logger('FailedActions');

  constructor(
    private readonly log: ActionLogRepository,
    private readonly queues: QueueService,
    private readonly registry: ActionRegistry,
  ) {}

  /** Every registered action with its params, mode and retry policy. */
  @ApiOperation({ summary: 'Every registered action with its params, mode and retry policy' })
  @Get()
  list() {
    return { items: this.registry.list().map((a) => ({ name: a.name, mode: a.mode, params: a.params, retry: a.retry, description: a.description ?? null })) };
  }

  @ApiOperation({ summary: 'Deferred executions that used up their retries, newest first (?limit=&before=)' })
  @Get('failed')
  async failed(@Query('limit') limitRaw?: string, @Query('before') before?: string) {
    const limit = limitRaw === undefined ? 50 : Number(limitRaw);
    const problems = [];
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) problems.push({ path: 'limit', message: 'must be a whole number from 1 to 500' });
    if (before !== undefined && !/^\d{1,18}$/.test(before)) problems.push({ path: 'before', message: 'must be the id of an entry' });
    if (problems.length) throw new ValidationError(problems);
    const rows = await this.log.failed(limit, before);
    return { items: rows.map(logEntryView), next: rows.length === limit ? rows[rows.length - 1].id : null };
  }

  @ApiOperation({ summary: 'Send a failed deferred execution back to the queue with a fresh set of attempts' })
  @Post('failed/:id/retry')
  @HttpCode(202)
  async retry(@Param('id') id: string) {
    const entry = await this.log.byId(id);
    if (!entry || entry.mode !== 'deferred') throw new NotFoundError('failed action', id);
    if (entry.status !== 'failed') throw new ActionNotFailedError(id, entry.status);
    const action = this.registry.get(entry.action);
    if (!action) throw new NotFoundError('action', entry.action);
    if (!(await this.log.requeue(id))) throw new ActionNotFailedError(id, 'no longer failed');
    const key = entry.idempotencyKey;
    // What the entry was (failed), and what `requeue` made it (queued, no attempts yet).
    const failed = { status: 'failed' as const, errorCode: entry.errorCode, errorMessage: entry.errorMessage, attempts: entry.attempts };
    const queued = { ...failed, status: 'queued' as const, attempts: 0 };
    try {
      await this.queues.within<void, ActionJobData>(
        ACTIONS_QUEUE,
        async (queue) => {
          const job = await queue.getJob(key);
          const state = job ? await job.getState() : 'unknown';
          if (job && state === 'failed') {
            await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          } else {
            // The job was cleaned away (or never made it to the queue): rebuild it from the log,
            // within this one wait (a wait of its own would find the queue stalled by this one).
            if (job) await job.remove().catch(() => undefined);
            await addJob(queue, action, jobData(entry));
          }
        },
        // Not queued, as far as can be told: failed as it was, still listed for the next retry;
        // queued again if it lands after all. Neither overwrites what a worker wrote since.
        { givenUp: () => this.log.updateIf(key, { status: 'queued' }, failed), landed: () => this.log.updateIf(key, { status: 'failed', errorCode: entry.errorCode }, queued) },
      );
    } catch (err) {
      this.logger.warn(`retry of action ${key} did not reach the queue: ${(err as Error).message}`);
      throw err;
    }
    const updated = await this.log.byId(id);
    return logEntryView(updated ?? entry);
  }
}
