import { Injectable } from '@nestjs/common';

/** A follow-up event produced by `emit_event`: same user, new type and payload, one level deeper. */
export interface EmittedEvent {
  /** Derived from the idempotency key of the emitting action, so a replay cannot emit twice. */
  id: string;
  type: string;
  user_id: string;
  source: string;
  occurred_at: string;
  payload: Record<string, unknown>;
  /** 1 for an event emitted by an outside event's rules, 2 for the next, and so on. */
  depth: number;
  causation: { event_id: string; rule_id: string; idempotency_key: string };
}

/**
 * Where `emit_event` sends follow-up events: the ingestion pipeline implements it and registers
 * itself with {@link EventSinks.use} at init (the actions lib never imports ingestion, so there is
 * no module cycle). The sink runs the event through the same pipeline and returns a summary that
 * becomes the action's result; it must carry `depth` along so that actions of the follow-up see it.
 */
export interface EventSink {
  emit(event: EmittedEvent): Promise<unknown>;
}

/** Holds the one registered {@link EventSink}. */
@Injectable()
export class EventSinks {
  private sink?: EventSink;

  use(sink: EventSink): void {
    this.sink = sink;
  }

  get current(): EventSink | undefined {
    return this.sink;
  }
}
