import { Injectable } from '@nestjs/common';
import { AppConfig } from '@arbiter/platform';
import type { ActionContext, ActionHandler } from '../action.interfaces';
import { Action } from '../decorators/action.decorator';
import { PermanentActionError } from '../errors/action.error';
import { EventSinks } from '../event-sink';

export interface EmitEventParams {
  type: string;
  payload?: Record<string, unknown>;
}

/**
 * Inline: sends a follow-up event for the same user through the same pipeline (via the
 * registered {@link EventSink}). The follow-up is one level deeper than the event that triggered
 * the rule; past EMIT_EVENT_MAX_DEPTH the action fails with `EMIT_DEPTH_EXCEEDED`, which is what
 * stops two rules that emit each other's events from looping forever.
 */
@Injectable()
@Action({
  name: 'emit_event',
  mode: 'inline',
  description: 'Send a follow-up event for the same user through the pipeline (depth-limited)',
  params: { type: { type: 'string', required: true }, payload: { type: 'any' } },
})
export class EmitEventAction implements ActionHandler<EmitEventParams> {
  constructor(
    private readonly config: AppConfig,
    private readonly sinks: EventSinks,
  ) {}

  async execute(params: EmitEventParams, context: ActionContext): Promise<unknown> {
    const depth = (context.event.depth ?? 0) + 1;
    if (depth > this.config.emitEventMaxDepth) {
      throw new PermanentActionError('EMIT_DEPTH_EXCEEDED', `emit_event chain is ${depth} deep, the limit is EMIT_EVENT_MAX_DEPTH=${this.config.emitEventMaxDepth}; event "${params.type}" not emitted`);
    }
    const payload = params.payload ?? {};
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new PermanentActionError('EMIT_BAD_PAYLOAD', 'emit_event payload must be an object');
    const sink = this.sinks.current;
    if (!sink) throw new PermanentActionError('NO_EVENT_SINK', 'no event pipeline is registered to receive emitted events');
    const event = {
      id: `${context.event.id}.${context.ruleId}.${context.actionIndex}`,
      type: params.type,
      user_id: context.event.user_id,
      source: 'emit_event',
      occurred_at: new Date().toISOString(),
      payload,
      depth,
      causation: { event_id: context.event.id, rule_id: context.ruleId, idempotency_key: context.idempotencyKey },
    };
    const result = await sink.emit(event);
    return { event_id: event.id, type: event.type, depth, result: result ?? null };
  }
}
