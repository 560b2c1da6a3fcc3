import { Injectable } from '@nestjs/common';
import { Fact, type FactContext } from '../decorators/fact.decorator';
import { EventLogService, windowSince, type WindowQuery, type WindowValue } from '../events/event-log.service';

type Window = { type: string; within?: number };
type FieldWindow = Window & { field: string };

/** Start of a `within` window ending at the call's clock; no window means all time. */
const since = (within: number | undefined, now: number) => windowSince(within === undefined ? undefined : now - within);

/**
 * The window each event-log fact reads, from its arguments: the facts below ask for it when the
 * rules call them, and `FactsService.prefetch` has the event's append compute it in advance.
 */
export const EVENT_LOG_WINDOWS: Readonly<Record<string, (args: Record<string, unknown>, userId: string, now: number) => WindowQuery>> = {
  events_count: (a, userId, now) => ({ kind: 'count', userId, type: String(a.type), field: '', since: since(a.within as number | undefined, now) }),
  events_sum: (a, userId, now) => ({ kind: 'sum', userId, type: String(a.type), field: String(a.field), since: since(a.within as number | undefined, now) }),
  events_distinct: (a, userId, now) => ({ kind: 'distinct', userId, type: String(a.type), field: String(a.field), since: since(a.within as number | undefined, now) }),
  last_event_at: (a, userId) => ({ kind: 'last', userId, type: String(a.type), field: '', since: '-infinity' }),
};

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
  eventsCount(args: Window, ctx: FactContext): Promise<WindowValue> {
    return this.read('events_count', args, ctx);
  }

  @Fact({
    name: 'events_sum',
    type: 'number',
    params: [{ name: 'type', type: 'string' }, { name: 'field', type: 'string' }, { name: 'within', type: 'duration', optional: true }],
    cost: 10,
    description: 'Sum of the numeric payload field `field` (dotted path such as order.amount) over the window.',
  })
  eventsSum(args: FieldWindow, ctx: FactContext): Promise<WindowValue> {
    return this.read('events_sum', args, ctx);
  }

  @Fact({
    name: 'events_distinct',
    type: 'number',
    params: [{ name: 'type', type: 'string' }, { name: 'field', type: 'string' }, { name: 'within', type: 'duration', optional: true }],
    cost: 10,
    description: 'How many distinct values the payload field `field` took over the window.',
  })
  eventsDistinct(args: FieldWindow, ctx: FactContext): Promise<WindowValue> {
    return this.read('events_distinct', args, ctx);
  }

  @Fact({
    name: 'last_event_at',
    type: 'timestamp',
    params: [{ name: 'type', type: 'string' }],
    cost: 10,
    description: 'When the latest event of `type` occurred; missing (leaves false) when never.',
  })
  lastEventAt(args: { type: string }, ctx: FactContext): Promise<WindowValue> {
    return this.read('last_event_at', args, ctx);
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

  private read(fact: string, args: object, ctx: FactContext): Promise<WindowValue> {
    return this.events.window(EVENT_LOG_WINDOWS[fact](args as Record<string, unknown>, ctx.userId, ctx.now));
  }
}
