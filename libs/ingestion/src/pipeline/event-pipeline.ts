import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ActionExecutor, EventSinks, type ActionOutcome, type EmittedEvent } from '@arbiter/actions';
import { CatalogueService, EventLogService, FactsService, type EvaluationInputs, type StoredEvent } from '@arbiter/facts';
import { JsonText, ValidationError, type CarriedRead, type CarriedRow } from '@arbiter/platform';
import { RuleSetService } from '@arbiter/ruleset';
import type { EvalResult, RuleMatch, RuleSet } from '@arbiter/rules';
import { currentSession, decisionOf, runInSession, setSessionUser } from '@arbiter/session';
import type { IncomingEvent } from '../event.schema';
import { eventsDuplicate, eventsIngested, ruleMatches, stageDuration } from '../ingestion.metrics';
import { OutcomeRepository } from '../outcome.repository';
import { PipelineStage } from './pipeline-stage.decorator';
import { differingFields, EventIdReusedError } from './reused-id';
import type { PipelineMode, PipelineResult, StageContext, StageHandler } from './pipeline.interfaces';

interface Stage {
  domain: string;
  order: number;
  handler: StageHandler;
}

const DEFAULT_ORDER = 1000;

/** How many undeclared event types the ingestion counter names before it counts the rest as `(other)`. */
const UNDECLARED_TYPE_LABELS = 100;

/** The event as the log holds it, with this delivery's session and depth (which the log does not keep). */
function asStored(stored: StoredEvent, delivery: IncomingEvent): IncomingEvent {
  return { id: stored.id, type: stored.type, user_id: stored.user_id, source: stored.source, session_id: delivery.session_id, occurred_at: stored.occurred_at, payload: stored.payload, depth: delivery.depth };
}

/**
 * One event, end to end (DESIGN.md): append it to the event log, then run every domain's stage in
 * order — fraud, promo, growth, then any other domain with rules — in the caller's session, and
 * store the result. A repeated event id is answered with the stored result and runs nothing. Each
 * step is idempotent (the event insert, the action log, the outcome), so an attempt cut short by a
 * crash is simply run again by the queue: effects happen once.
 */
@Injectable()
export class EventPipeline implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('EventPipeline');
  private stages: Stage[] = [];
  private readonly orderCache = new WeakMap<RuleSet, Stage[]>();
  private readonly ingested = eventsIngested();
  private readonly duplicates = eventsDuplicate();
  private readonly durations = stageDuration();
  private readonly matchesCounter = ruleMatches();
  /** Events being processed, by id, with the event each run got: shutdown lets them finish (a client that hung up does not stop its event). */
  private readonly inFlight = new Map<string, { event: IncomingEvent; running: Promise<PipelineResult> }>();
  /** The JSON text each new result was stored as, for {@link json} to answer with. */
  private readonly texts = new WeakMap<PipelineResult, string>();
  /** Undeclared event types counted under their own name so far (see {@link typeLabel}). */
  private readonly undeclaredTypes = new Set<string>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly eventLog: EventLogService,
    private readonly facts: FactsService,
    private readonly catalogue: CatalogueService,
    private readonly rules: RuleSetService,
    private readonly executor: ActionExecutor,
    private readonly outcomes: OutcomeRepository,
    sinks: EventSinks,
  ) {
    sinks.use({ emit: (event) => this.emit(event) });
  }

  onApplicationBootstrap(): void {
    const seen = new Map<string, string>();
    this.stages = this.discovery
      .getProviders({ metadataKey: PipelineStage.KEY })
      .map((wrapper) => {
        const options = this.discovery.getMetadataByDecorator(PipelineStage, wrapper)!;
        const name = wrapper.metatype?.name ?? String(wrapper.token);
        if (typeof (wrapper.instance as StageHandler | undefined)?.run !== 'function') {
          throw new Error(`pipeline stage ${name} (domain "${options.domain}") must implement StageHandler.run(context)`);
        }
        if (!wrapper.isDependencyTreeStatic()) throw new Error(`pipeline stage ${name} must not be request-scoped`);
        const other = seen.get(options.domain);
        if (other) throw new Error(`two pipeline stages for domain "${options.domain}": ${other} and ${name}`);
        seen.set(options.domain, name);
        return { domain: options.domain, order: options.order ?? DEFAULT_ORDER, handler: wrapper.instance as StageHandler };
      })
      .sort((a, b) => a.order - b.order || a.domain.localeCompare(b.domain));
    if (this.stages.length) this.logger.log(`pipeline stages: ${this.stages.map((s) => `${s.domain}(${s.order})`).join(' -> ')}`);
  }

  /**
   * Processes one validated event. `batchId` ties a queued event to its batch (for progress).
   * Returns the result, with `duplicate: true` when the id was already processed.
   */
  async process(event: IncomingEvent, mode: PipelineMode, batchId?: string): Promise<PipelineResult> {
    // A second delivery of an event this process is running (a client that retried too soon, the
    // same id in a batch and a call) waits for it and is answered as a repeat: a run in progress is
    // never joined by a second one, so the first run's inline actions need no claim.
    for (let earlier = this.inFlight.get(event.id); earlier; earlier = this.inFlight.get(event.id)) {
      const result = await earlier.running.catch(() => undefined);
      if (result) {
        // Compared once that run got past the log: a body it was refused for says nothing of the id.
        refuseReusedId(earlier.event, event, mode);
        this.duplicates.inc({ mode });
        return { ...result, duplicate: true };
      }
      // The earlier run failed: this one runs as a replay (its claims see what that one recorded).
    }
    const entry = { event, running: this.processNow(event, mode, batchId) };
    this.inFlight.set(event.id, entry);
    try {
      return await entry.running;
    } finally {
      // Only this run's entry: a later delivery may already hold the id again.
      if (this.inFlight.get(event.id) === entry) this.inFlight.delete(event.id);
    }
  }

  /**
   * The `type` label of `arbiter_events_ingested_total`: the type itself when it is declared
   * (configs/events.yaml) or among the first {@link UNDECLARED_TYPE_LABELS} undeclared ones seen,
   * else `(other)`. Clients choose event types, and every label value is a series Prometheus keeps.
   */
  private typeLabel(type: string): string {
    if (this.undeclaredTypes.has(type) || this.catalogue.isDeclared(type)) return type;
    if (this.undeclaredTypes.size >= UNDECLARED_TYPE_LABELS) return '(other)';
    this.undeclaredTypes.add(type);
    return type;
  }

  /**
   * A result of {@link process} as JSON: for a new event, the very text its outcome was stored as
   * (serialised once for both); otherwise serialised now.
   */
  json(result: PipelineResult): string {
    return this.texts.get(result) ?? JSON.stringify(result);
  }

  /** Before the store closes: the events already running finish and store their results. */
  async beforeApplicationShutdown(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight.values()].map((e) => e.running));
  }

  private async processNow(event: IncomingEvent, mode: PipelineMode, batchId?: string): Promise<PipelineResult> {
    const ruleSet = this.rules.current();
    // The statement that appends the event reads the user's attributes too, and the event-log
    // windows the rules for its type read (counting this event), into the session's fact memo.
    const prefetch = this.facts.prefetch(ruleSet.factCalls(event.type), event.user_id);
    const stages = this.stagesFor(ruleSet);
    const reads = stages.flatMap((stage) => this.prepare(stage, event, ruleSet));
    const { inserted, user, windows, event: stored } = await this.eventLog.append(event, undefined, { withUser: true, windows: prefetch.windows, reads, deferFlush: true });
    prefetch.seed(windows);
    if (!inserted) {
      refuseReusedId(stored, event, mode);
      const prior = await this.outcomes.find(event.id);
      if (prior?.status === 'done' && prior.result) {
        this.duplicates.inc({ mode });
        return { ...prior.result, duplicate: true };
      }
      // Stored but never finished (a crash mid-way, a failed job retried, a call answered 503):
      // run it again, as it was stored (its time, and for a follow-up event the payload its
      // first emission gave it); every step below is idempotent, so nothing happens twice.
      // Another user or type than the body's (a follow-up's only): what was read for the body
      // is of no use, so it starts over with the stored event.
      const replay = asStored(stored, event);
      if (replay.user_id !== event.user_id || replay.type !== event.type) return this.processNow(replay, mode, batchId);
      event = replay;
    }
    this.ingested.inc(this.typeLabel(event.type), mode);
    setSessionUser(event.user_id);
    const carried: CarriedRow[] = [];
    try {
      const result = await this.run(ruleSet, stages, event, mode, await this.facts.evaluationInputs(event.user_id, user), carried, inserted);
      // One statement stores the outcome and the rows the stages handed over (the fraud decision, the action log's records).
      let text = JSON.stringify(result);
      const dropped = await this.outcomes.saveDone(event.id, new JsonText(text), batchId, carried);
      if (dropped.length) text = await this.corrected(event.id, result, text, dropped);
      this.texts.set(result, text);
      return result;
    } catch (err) {
      // The event failed, but the records of actions that already ran are kept: a replay reports
      // those actions instead of running them again.
      await this.outcomes.saveRecords(carried).catch((e: Error) => this.logger.error(`event ${event.id}: could not record its actions' outcomes: ${e.message}`));
      throw err;
    }
  }

  /**
   * After rows the outcome statement carried were dropped, their keys taken by another delivery of
   * the event running at once in another process (docs/events.md): each row's owner corrects what
   * it reported (`reward_points` names the entry the ledger holds), and the stored result, if this
   * run's, is replaced. Answers the result's new text.
   */
  private async corrected(eventId: string, result: PipelineResult, stored: string, dropped: readonly CarriedRow[]): Promise<string> {
    // Each correction on its own: one that fails leaves the others made, and the text says what was.
    const settled = await Promise.allSettled(dropped.map((r) => r.dropped!()));
    for (const s of settled) if (s.status === 'rejected') this.logger.warn(`event ${eventId}: could not correct its result after a concurrent delivery: ${(s.reason as Error)?.message}`);
    const text = JSON.stringify(result);
    if (text === stored) return text;
    // The event's effects are stored either way; a stored result left uncorrected is logged.
    await this.outcomes.correct(eventId, stored, text).catch((e: Error) => this.logger.warn(`event ${eventId}: could not store its corrected result: ${e.message}`));
    return text;
  }

  /** A stage's early reads (`StageHandler.prepare`), for the append to run; they must not stop the event. */
  private prepare(stage: Stage, event: IncomingEvent, ruleSet: RuleSet): readonly CarriedRead[] {
    if (!stage.handler.prepare) return [];
    try {
      return stage.handler.prepare(event, ruleSet) ?? [];
    } catch (err) {
      this.logger.warn(`event ${event.id}: the ${stage.domain} stage could not prepare: ${(err as Error).message}`);
      return [];
    }
  }

  private async run(ruleSet: RuleSet, stages: readonly Stage[], event: IncomingEvent, mode: PipelineMode, inputs: EvaluationInputs, carried: CarriedRow[], firstRun: boolean): Promise<PipelineResult> {
    const result: PipelineResult = { event_id: event.id, duplicate: false, fraud: null, matched: [], actions: [], domains: {} };
    const errors: NonNullable<PipelineResult['errors']> = [];
    // One object literal: spread from the event (`{...event, depth}`), V8 promoted these to its old generation (docs/benchmarks.md).
    const { id, type, user_id, source, session_id, occurred_at, payload } = event;
    const actionEvent = { id, type, user_id, source, session_id, occurred_at, payload, depth: event.depth ?? 0 };
    const carry = (row: CarriedRow) => void carried.push(row);
    const ctx: StageContext = {
      event,
      mode,
      inputs,
      result,
      evaluate: async (domain: string): Promise<EvalResult> => {
        const evaluated = await ruleSet.evaluate(event, { domain, resolver: inputs.resolver, user: inputs.user, now: inputs.now });
        for (const e of evaluated.errors) errors.push({ fact: (e as { fact?: string }).fact, rule_id: (e as { ruleId?: string }).ruleId, message: this.publicMessage(event, e.message) });
        for (const m of evaluated.matches) this.matchesCounter.inc(m.ruleId, m.domain);
        return evaluated;
      },
      runActions: (matches: readonly RuleMatch[]) => this.executor.execute(actionEvent, matches, { carry, firstRun }),
      carry,
      report: (matches: readonly RuleMatch[], outcomes: readonly ActionOutcome[]) => {
        for (const m of matches) result.matched.push({ rule_id: m.ruleId, domain: m.domain });
        for (const o of outcomes) {
          result.actions.push({ rule_id: o.ruleId, action: o.action, status: o.status, ...(o.result !== undefined ? { result: o.result } : {}), ...(o.error ? { error: o.error } : {}) });
        }
      },
    };
    for (const stage of stages) {
      const end = this.durations.startTimer({ domain: stage.domain });
      try {
        await stage.handler.run(ctx);
      } finally {
        end();
      }
    }
    result.fraud = (decisionOf<Record<string, unknown>>('fraud') as Record<string, unknown> | undefined) ?? null;
    if (errors.length) result.errors = [...(result.errors ?? []), ...errors];
    return result;
  }

  /**
   * What a client may read of a failed fact: that it failed or timed out, not the error inside it
   * (a database message, a host name) — that goes to the log, under the request id.
   */
  private publicMessage(event: IncomingEvent, message: string): string {
    const failed = /^(fact "[^"]*" failed): /.exec(message);
    if (!failed) return message;
    this.logger.warn(`event ${event.id}: ${message}`);
    return `${failed[1]} (details in the log)`;
  }

  /** Registered stages, plus the default step for every other domain that has rules. */
  private stagesFor(ruleSet: RuleSet): Stage[] {
    let stages = this.orderCache.get(ruleSet);
    if (!stages) {
      const registered = new Set(this.stages.map((s) => s.domain));
      const extra = ruleSet.domains.filter((d) => !registered.has(d)).map((domain) => ({ domain, order: DEFAULT_ORDER, handler: genericStage(domain) }));
      stages = [...this.stages, ...extra].sort((a, b) => a.order - b.order || a.domain.localeCompare(b.domain));
      this.orderCache.set(ruleSet, stages);
    }
    return stages;
  }

  /** `emit_event`: the follow-up runs through the same pipeline, in a session of its own. */
  private async emit(emitted: EmittedEvent): Promise<unknown> {
    const problems = this.catalogue.validatePayload(emitted.type, emitted.payload);
    if (problems.length) throw new ValidationError(problems, `emitted ${emitted.type} event: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    const parent = currentSession();
    const event: IncomingEvent = { id: emitted.id, type: emitted.type, user_id: emitted.user_id, source: emitted.source, occurred_at: emitted.occurred_at, payload: emitted.payload, depth: emitted.depth };
    const result = await runInSession({ requestId: `${parent?.requestId ?? 'emit'}>${emitted.id}`, userId: emitted.user_id, sessionId: parent?.sessionId }, () => this.process(event, 'emitted'));
    return { event_id: result.event_id, duplicate: result.duplicate, matched: result.matched.length, actions: result.actions.length };
  }
}

/**
 * An event from outside (a call, a batch) under the id of another event, stored or running: a
 * 422 (docs/events.md). A follow-up event (`emit_event`) is not checked: its payload comes from
 * its rule, which may have been edited since its first emission, and the stored one is what runs.
 */
function refuseReusedId(first: IncomingEvent | StoredEvent, event: IncomingEvent, mode: PipelineMode): void {
  if (mode === 'emitted') return;
  const fields = differingFields(first, event);
  if (fields.length) throw new EventIdReusedError([{ eventId: event.id, fields }]);
}

function genericStage(domain: string): StageHandler {
  return {
    async run(ctx) {
      const { matches } = await ctx.evaluate(domain);
      if (!matches.length) return;
      ctx.report(matches, await ctx.runActions(matches));
    },
  };
}
