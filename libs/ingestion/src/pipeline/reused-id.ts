import { canonicalJson, UnprocessableError } from '@arbiter/platform';
import type { IncomingEvent } from '../event.schema';

/** What makes two events with one id the same event: a client's retry may change nothing else (its `occurred_at`, set at send time, may). */
const COMPARED = ['type', 'user_id', 'source', 'payload'] as const;

export type EventField = (typeof COMPARED)[number];

/** The fields in which `event` differs from `first`, the event already known under its id. */
export function differingFields(first: Pick<IncomingEvent, EventField>, event: Pick<IncomingEvent, EventField>): EventField[] {
  return COMPARED.filter((f) => (f === 'payload' ? canonicalJson(first.payload) !== canonicalJson(event.payload) : first[f] !== event[f]));
}

/** One event sent under the id of another: the fields that differ, named as its body names them (`subject`, `data` in a CloudEvent), after `at`. */
export interface ReusedId {
  eventId: string;
  fields: readonly EventField[];
  names?: Partial<Record<EventField, string>>;
  at?: string;
  /** Its place in a batch. */
  index?: number;
}

/**
 * Events sent under ids that name other events (docs/events.md, "One id, one event"): refused,
 * not answered as repeats of the first, which would drop them unseen. `422 EVENT_ID_REUSED`,
 * listing the path of every field that differs.
 */
export class EventIdReusedError extends UnprocessableError {
  constructor(readonly reused: readonly ReusedId[]) {
    const errors = reused.flatMap((r) => r.fields.map((f) => ({ path: `${r.at ?? ''}${r.names?.[f] ?? f}`, message: 'differs from the event already received under this id' })));
    const one = reused.length === 1 ? reused[0] : undefined;
    super(
      'EVENT_ID_REUSED',
      one
        ? `event id "${one.eventId}" was already used for another event (${errors.map((e) => e.path).join(', ')} differ${errors.length === 1 ? 's' : ''}); an id names one event: send a new event under a new id`
        : `${reused.length} event ids were already used for other events (${errors.map((e) => e.path).join(', ')}); an id names one event: send new events under new ids`,
      { errors },
    );
  }

  /** The same refusal naming each event's fields as its body names them. */
  named(names: (reused: ReusedId) => Partial<Record<EventField, string>>): EventIdReusedError {
    return new EventIdReusedError(this.reused.map((r) => ({ ...r, names: names(r) })));
  }
}
