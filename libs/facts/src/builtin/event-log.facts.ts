import { Injectable } from '@nestjs/common';
import { Fact, type FactContext } from '../decorators/fact.decorator';
import { EventLogService } from '../events/event-log.service';

type Window = { type: string; within?: number };
type FieldWindow = Window & { field: string };

/** Start of a `within` window ending at the call's clock; no window means all time. */
const since = (within: number | undefined, ctx: FactContext) => (within === undefined ? undefined : ctx.now - within);

/**
 * The built-in facts over the event log, each one indexed SQL query on
 * `(user_id, type, occurred_at)`. Windows end at the session's clock, and the event being
 * evaluated is already in the log (ingestion appends before it evaluates), so it counts.
 */
@Injectable()
export class EventLogFacts {
  constructor(private readonly events: EventLogService) {}

  @Fact({
    name: 'events_count',
    type: 'number',
    params: [{ name: 'type', type: 'string' }, { name: 'within', type: 'duration', optional: true }],
    cost: 10,
    description: 'How many events of `type` the user had within the window (all time without `within`).',
  })
  eventsCount({ type, within }: Window, ctx: FactContext): Promise<number> {
    return this.events.count(ctx.userId, type, since(within, ctx));
  }

  @Fact({
    name: 'events_sum',
    type: 'number',
    params: [{ name: 'type', type: 'string' }, { name: 'field', type: 'string' }, { name: 'within', type: 'duration', optional: true }],
    cost: 10,
    description: 'Sum of the numeric payload field `field` (dotted path such as order.amount) over the window.',
  })
  eventsSum({ type, field, within }: FieldWindow, ctx: FactContext): Promise<number> {
    return this.events.sum(ctx.userId, type, field, since(within, ctx));
  }

  @Fact({
    name: 'events_distinct',
    type: 'number',
    params: [{ name: 'type', type: 'string' }, { name: 'field', type: 'string' }, { name: 'within', type: 'duration', optional: true }],
    cost: 10,
    description: 'How many distinct values the payload field `field` took over the window.',
  })
  eventsDistinct({ type, field, within }: FieldWindow, ctx: FactContext): Promise<number> {
    return this.events.distinct(ctx.userId, type, field, since(within, ctx));
  }

  @Fact({
    name: 'last_event_at',
    type: 'timestamp',
    params: [{ name: 'type', type: 'string' }],
    cost: 10,
    description: 'When the latest event of `type` occurred; missing (leaves false) when never.',
  })
  lastEventAt({ type }: { type: string }, ctx: FactContext): Promise<number | undefined> {
    return this.events.lastAt(ctx.userId, type);
  }

  @Fact({
    name: 'first_seen_at',
    type: 'timestamp',
    cost: 10,
    description: "The earlier of the user's first event and the user's creation.",
  })
  firstSeenAt(_args: object, ctx: FactContext): Promise<number | undefined> {
    return this.events.firstSeenAt(ctx.userId);
  }
}
