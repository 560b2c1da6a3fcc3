import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { AppConfig, QueueService, type CarriedRow, type GivenUp } from '@arbiter/platform';
import { ACTIONS_QUEUE } from './actions.constants';
import type { ActionContext, ActionEvent, ActionMode, RegisteredAction } from './action.interfaces';
import type { ActionLogEntry, ActionStatus } from './action-log.entity';
import { ActionLogRepository, type Claim, type NewLogEntry, type StatusChange } from './action-log.repository';
import { actionExecutions } from './action.metrics';
import { ActionRegistry } from './action.registry';
import { PermanentActionError } from './errors/action.error';
import { idempotencyKey } from './idempotency';

/** The part of a matched rule the executor needs (a `RuleMatch` from @arbiter/rules fits). */
export interface MatchedRule {
  ruleId: string;
  domain: string;
  mode?: 'live' | 'shadow' | string;
  actions: readonly { action: string; params: Readonly<Record<string, unknown>> }[];
}

/**
 * The outcome of one action of one matched rule. `replayed` is true when the idempotency key was
 * already in the action log: the action did not run again and `status`/`result` are the logged ones.
 * `skipped` is for shadow-mode rules, whose actions are reported but never run.
 */
export interface ActionOutcome {
  idempotencyKey: string;
  ruleId: string;
  domain: string;
  index: number;
  action: string;
  mode: ActionMode;
  status: ActionStatus | 'skipped';
  params: Readonly<Record<string, unknown>>;
  result?: unknown;
  error?: { code: string; message: string };
  replayed: boolean;
}

export interface ExecuteOptions {
  /**
   * Takes the action log's records of inline outcomes as rows for the caller's own statement to
   * carry (the pipeline's, that stores the event's outcome), instead of writing them here.
   */
  carry?: (row: CarriedRow) => void;
  /**
   * This is the event's first run: the append that stored it was this run's, and no other run of it
   * is under way in this process (the pipeline makes a second delivery wait). With `carry`, inline
   * actions then run without a claim, and their whole action-log entry, outcome included, is
   * carried instead of a status change: one statement fewer per event, and one row written once.
   * A run in another process at the same time claims as usual; inline handlers are idempotent under
   * their key, so a second run there changes nothing.
   */
  firstRun?: boolean;
}

/**
 * An action about to run: what it is, its action-log entry, and its claim of that entry (sent, not
 * yet answered; none for an inline action of an event's first run, whose entry is written with its
 * outcome).
 */
interface Prepared {
  match: MatchedRule;
  index: number;
  key: string;
  action: RegisteredAction;
  base: Omit<ActionOutcome, 'mode' | 'status'>;
  entry: NewLogEntry;
  claim?: Promise<Claim>;
}

/** Data of one job on the `actions` queue; the job id is the idempotency key. */
export interface ActionJobData {
  key: string;
  action: string;
  params: Record<string, unknown>;
  event: ActionEvent;
  ruleId: string;
  domain: string;
  actionIndex: number;
}

/**
 * Runs the actions of matched rules for one event. Inline actions run now, in order, and their
 * result is returned; deferred ones are enqueued on the `actions` queue (job id = idempotency key,
 * attempts and exponential backoff from the action's retry policy). An execution is first claimed
 * in the action log under its idempotency key, so a replayed event returns the logged outcome
 * instead of running anything twice; the inline actions of an event's first run need no claim
 * (`ExecuteOptions.firstRun`): nothing can have run them before. An action that throws never
 * stops the others.
 */
@Injectable()
export class ActionExecutor {
  private readonly logger = new Logger('ActionExecutor');
  private readonly executions = actionExecutions();

  constructor(
    private readonly registry: ActionRegistry,
    private readonly log: ActionLogRepository,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Runs the actions of `matches` in order. Their claims in the action log go out together first
   * (concurrent claims share one statement); the actions then run one after another. With
   * `options.carry`, the action log's record of each inline outcome is handed to the caller to
   * write with its own statement, instead of being written here (with `options.firstRun`, the
   * whole entry of an unclaimed one).
   */
  async execute(event: ActionEvent, matches: readonly MatchedRule[], options: ExecuteOptions = {}): Promise<ActionOutcome[]> {
    const steps = matches.flatMap((match) => match.actions.map((_, index) => this.prepare(event, match, index, options)));
    for (const step of steps) if ('claim' in step) step.claim?.catch(() => undefined); // awaited in order below
    const outcomes: ActionOutcome[] = [];
    for (const step of steps) outcomes.push('outcome' in step ? step.outcome : await this.run(event, step, options));
    return outcomes;
  }

  /** An action's outcome when it cannot run (unknown, shadow), else its entry and its claim, sent now (if it takes one). */
  private prepare(event: ActionEvent, match: MatchedRule, index: number, options: ExecuteOptions): { outcome: ActionOutcome } | Prepared {
    const invocation = match.actions[index];
    const key = idempotencyKey(event.id, match.ruleId, index);
    const action = this.registry.get(invocation.action);
    const base = { idempotencyKey: key, ruleId: match.ruleId, domain: match.domain, index, action: invocation.action, params: invocation.params, replayed: false };
    if (!action) {
      // The rule compiled against a registry without this action: impossible unless a plugin was removed between compile and run.
      return { outcome: outcomeOf(base, 'inline', 'failed', { error: { code: 'UNKNOWN_ACTION', message: `no action "${invocation.action}" is registered` } }) };
    }
    if (match.mode === 'shadow') return { outcome: outcomeOf(base, action.mode, 'skipped') };
    const entry: NewLogEntry = {
      idempotencyKey: key,
      eventId: event.id,
      ruleId: match.ruleId,
      domain: match.domain,
      actionIndex: index,
      action: action.name,
      mode: action.mode,
      status: action.mode === 'inline' ? 'running' : 'queued',
      params: { ...invocation.params },
      event,
    };
    const unclaimed = options.firstRun === true && options.carry !== undefined && action.mode === 'inline';
    return { match, index, key, action, base, entry, claim: unclaimed ? undefined : this.log.claim(entry) };
  }

  private async run(event: ActionEvent, step: Prepared, options: ExecuteOptions): Promise<ActionOutcome> {
    const { match, index, key, action, base } = step;
    if (!step.claim) return this.runInline(event, step, options);
    const claim = await step.claim;
    const invocation = match.actions[index];
    // An inline execution still `running` from an attempt whose process died is run again (once
    // stale for as long as a queued job's lock), so its effect is not lost with the crash.
    const takenOver = !claim.claimed && action.mode === 'inline' && claim.existing.status === 'running' && (await this.log.takeOver(key, this.config.jobLockMs));
    if (!claim.claimed && !takenOver) {
      this.executions.inc({ action: action.name, mode: action.mode, outcome: 'replayed' });
      // A deferred entry still `queued` may have lost its job to a crash between claim and enqueue;
      // adding it again is harmless (BullMQ keeps one job per id).
      if (action.mode === 'deferred' && claim.existing.status === 'queued') await this.enqueue(action, jobData(claim.existing)).catch(() => undefined);
      return fromLog(claim.existing, base);
    }

    if (action.mode === 'deferred') {
      // Kept as a failed entry when not queued, not lost: GET /v1/actions/failed lists it and its
      // retry queues it from the log. A job given up on that lands later puts it back to queued.
      // Each write holds only if nothing moved the entry since: what a worker wrote stands.
      const error = { code: 'ENQUEUE_FAILED', message: ENQUEUE_FAILED };
      try {
        await this.enqueue(action, { key, action: action.name, params: { ...invocation.params }, event, ruleId: match.ruleId, domain: match.domain, actionIndex: index }, {
          givenUp: () => this.log.updateIf(key, { status: 'queued' }, { status: 'failed', errorCode: error.code, errorMessage: error.message, attempts: 0 }),
          landed: () => this.log.updateIf(key, { status: 'failed', errorCode: error.code }, { status: 'queued', errorCode: null, errorMessage: null, attempts: 0 }),
        });
      } catch (err) {
        // The queue's own words (a host, a port) are for the log, not the answer.
        this.logger.warn(`deferred action ${action.name} (${key}) could not be queued: ${(err as Error).message}`);
        this.executions.inc({ action: action.name, mode: 'deferred', outcome: 'failed' });
        return outcomeOf(base, 'deferred', 'failed', { error });
      }
      this.executions.inc({ action: action.name, mode: 'deferred', outcome: 'queued' });
      return outcomeOf(base, 'deferred', 'queued');
    }

    return this.runInline(event, step, options);
  }

  /** Runs an inline action (claimed, or of an event's first run) and records its outcome. */
  private async runInline(event: ActionEvent, step: Prepared, options: ExecuteOptions): Promise<ActionOutcome> {
    const { match, index, key, action, base } = step;
    // The result, once known: a carried row dropped later (ActionContext.carry) corrects it in place,
    // and the event's result, which holds this very object, with it.
    let result: unknown;
    const carry = step.claim || !options.carry ? undefined : carryFor(options.carry, () => result);
    const context: ActionContext = { idempotencyKey: key, event, ruleId: match.ruleId, domain: match.domain, actionIndex: index, mode: 'inline', attempt: 1, carry };
    try {
      result = normalise(await action.handler.execute(match.actions[index].params as Record<string, unknown>, context));
      await this.record(step, { status: 'succeeded', result: result ?? null, attempts: 1 }, options);
      this.executions.inc({ action: action.name, mode: 'inline', outcome: 'succeeded' });
      return outcomeOf(base, 'inline', 'succeeded', { result });
    } catch (err) {
      const error = describeError(err);
      await this.record(step, { status: 'failed', errorCode: error.code, errorMessage: error.message, attempts: 1 }, options);
      this.executions.inc({ action: action.name, mode: 'inline', outcome: 'failed' });
      this.logger.warn(`inline action ${action.name} (${key}) failed: ${error.message}`);
      return outcomeOf(base, 'inline', 'failed', { error });
    }
  }

  /**
   * Writes an inline outcome to the action log, or hands the row to the caller (`options.carry`):
   * the status change of a claimed entry, or the whole entry of an unclaimed one.
   */
  private async record(step: Prepared, change: StatusChange, options: ExecuteOptions): Promise<void> {
    if (!step.claim) options.carry!(this.log.carriedRecord(step.entry, change));
    else if (options.carry) options.carry(this.log.carriedUpdate(step.key, change));
    else await this.log.update(step.key, change);
  }

  /**
   * Adds (or re-adds) the job of a deferred execution with the action's retry policy, waiting at
   * most `QUEUE_TIMEOUT_MS` for the queue: an event does not hang on a queue that does not answer.
   * A job so given up on may still land once the queue answers (`followUp` records both); its id
   * is the action's key, so it is queued once either way.
   */
  private async enqueue(action: RegisteredAction, data: ActionJobData, followUp?: GivenUp): Promise<void> {
    await this.queues.within<unknown, ActionJobData>(ACTIONS_QUEUE, (queue) => addJob(queue, action, data), followUp);
  }
}

/** Adds the job of a deferred execution with the action's retry policy (no wait bound: see {@link ActionExecutor.enqueue}). */
export function addJob(queue: Queue<ActionJobData>, action: RegisteredAction, data: ActionJobData): Promise<unknown> {
  return queue.add(action.name as never, data as never, {
    jobId: data.key,
    attempts: action.retry.attempts,
    backoff: { type: 'exponential', delay: action.retry.backoffMs },
    // Succeeded executions live on in the action log; failed jobs stay for the retry endpoint.
    removeOnComplete: { count: 1000 },
    removeOnFail: false,
  });
}

export function jobData(entry: ActionLogEntry): ActionJobData {
  return { key: entry.idempotencyKey, action: entry.action, params: entry.params, event: entry.event, ruleId: entry.ruleId, domain: entry.domain, actionIndex: entry.actionIndex };
}

/** A replayed execution's outcome, as its entry in the action log has it. */
function fromLog(entry: ActionLogEntry, base: Omit<ActionOutcome, 'mode' | 'status'>): ActionOutcome {
  return outcomeOf(base, entry.mode, entry.status, {
    result: entry.result === null ? undefined : entry.result,
    error: entry.errorMessage ? { code: entry.errorCode ?? 'ACTION_FAILED', message: entry.errorMessage } : undefined,
    replayed: true,
  });
}

/**
 * An outcome as one object literal. Spread from `base` (`{...base, status, result}`), these
 * objects outlived their calls in V8's young generation and were promoted to the old one, as the
 * action-log rows were (docs/benchmarks.md).
 */
function outcomeOf(
  base: Omit<ActionOutcome, 'mode' | 'status'>,
  mode: ActionMode,
  status: ActionOutcome['status'],
  more: { result?: unknown; error?: ActionOutcome['error']; replayed?: boolean } = {},
): ActionOutcome {
  const outcome: ActionOutcome = { idempotencyKey: base.idempotencyKey, ruleId: base.ruleId, domain: base.domain, index: base.index, action: base.action, mode, status, params: base.params, replayed: more.replayed ?? base.replayed };
  if (more.result !== undefined) outcome.result = more.result;
  if (more.error) outcome.error = more.error;
  return outcome;
}

/**
 * An action's `carry`: rows go to the pipeline's; one handed with `ifDropped` gets a `dropped` that
 * replaces the members of the action's result (`reported()`, an object by then) with what
 * `ifDropped` answers, unless it answers undefined (its row was written after all).
 */
function carryFor(carry: (row: CarriedRow) => void, reported: () => unknown): NonNullable<ActionContext['carry']> {
  return (row, ifDropped) => {
    if (!ifDropped) return carry(row);
    const dropped = async () => {
      const target = reported();
      const corrected = normalise(await ifDropped());
      if (corrected === undefined || !target || typeof target !== 'object' || !corrected || typeof corrected !== 'object') return;
      for (const k of Object.keys(target)) delete (target as Record<string, unknown>)[k];
      Object.assign(target, corrected);
    };
    carry({ kind: row.kind, row: row.row, dropped });
  };
}

/** Results go to JSON (log, response, queue): round-trip now so the caller sees exactly what a replay will. */
function normalise(result: unknown): unknown {
  return result === undefined ? undefined : JSON.parse(JSON.stringify(result));
}

/** What an action that could not be queued reports (the reason is in the log). */
export const ENQUEUE_FAILED = 'the action could not be queued (the queue did not answer in time, or refused it); GET /v1/actions/failed lists it, and its retry queues it';

export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof PermanentActionError) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(e.code) ? e.code : 'ACTION_FAILED';
  return { code, message: typeof e?.message === 'string' ? e.message.slice(0, 2000) : String(err).slice(0, 2000) };
}
