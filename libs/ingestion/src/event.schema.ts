/**
 * The JSON Schemas of an incoming event, used by Fastify to validate the body before any handler
 * runs (every error is reported, each with its path) and by the OpenAPI document. Two shapes are
 * accepted: Arbiter's own, and a CloudEvents 1.0 structured-mode envelope (recognised by its
 * `specversion`), whose `subject` is the user and whose `data` is the payload.
 */
import { USER_ID, USER_ID_FORMAT } from '@arbiter/facts';

// The lengths the event log's columns hold (source: 256, a CloudEvent's URI reference).
const ID = { type: 'string', minLength: 1, maxLength: 128 } as const;
/** A user id as every API takes it (facts' USER_ID): the users, points and segment endpoints read it back. */
const USER = { type: 'string', minLength: 1, maxLength: 128, pattern: USER_ID.source } as const;
const TYPE = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' } as const;
const TIME = { type: 'string', format: 'date-time' } as const;

export const nativeEventSchema = {
  type: 'object',
  required: ['type', 'user_id'],
  additionalProperties: false,
  properties: {
    id: { ...ID, description: 'Unique per event; a repeated id is answered from the first result (idempotency). Generated when absent.' },
    type: { ...TYPE, description: 'Event type, e.g. `transaction` (declared types are in configs/events.yaml).' },
    user_id: { ...USER, description: `The user the event is about: ${USER_ID_FORMAT}.` },
    source: { type: 'string', maxLength: 256, description: 'Where the event comes from (default `api`).' },
    session_id: { type: 'string', maxLength: 200, description: 'Groups calls of one user session (also the `x-session-id` header).' },
    occurred_at: { ...TIME, description: 'When it happened (ISO 8601, years 1 to 9999, at most EVENT_MAX_FUTURE_MS ahead of the server); default: when received.' },
    payload: { type: 'object', description: 'Event fields; declared fields are type-checked.', default: {} },
  },
} as const;

export const cloudEventSchema = {
  type: 'object',
  required: ['specversion', 'id', 'type', 'source', 'subject'],
  additionalProperties: false,
  patternProperties: { '^[a-z0-9]{1,20}$': {} },
  properties: {
    specversion: { const: '1.0' },
    id: ID,
    type: TYPE,
    source: { type: 'string', minLength: 1, maxLength: 256, description: 'A URI reference naming where the event comes from.' },
    subject: { ...USER, description: `The user the event is about: ${USER_ID_FORMAT}.` },
    time: TIME,
    datacontenttype: { type: 'string', pattern: '^application/([A-Za-z0-9.+-]+\\+)?json\\s*(;.*)?$' },
    dataschema: { type: 'string' },
    data: { type: 'object', default: {} },
    sessionid: { type: 'string', maxLength: 200 },
  },
} as const;

/** Either shape, chosen by the presence of `specversion` so errors come from one shape only. */
export const eventSchema = {
  type: 'object',
  if: { required: ['specversion'] },
  then: cloudEventSchema,
  else: nativeEventSchema,
} as const;

export const batchSchema = (maxEvents: number) =>
  ({
    type: 'object',
    required: ['events'],
    additionalProperties: false,
    properties: {
      events: { type: 'array', minItems: 1, maxItems: maxEvents, items: eventSchema },
    },
  }) as const;

/** An event as the pipeline sees it, whichever shape it arrived in. */
export interface IncomingEvent {
  id: string;
  type: string;
  user_id: string;
  source: string;
  session_id?: string;
  occurred_at: string;
  payload: Record<string, unknown>;
  /** 0 for an event from outside; n for the n-th follow-up of an `emit_event` chain. */
  depth?: number;
}

export const eventResponseSchema = {
  type: 'object',
  properties: {
    event_id: { type: 'string' },
    duplicate: { type: 'boolean' },
    fraud: { type: ['object', 'null'], additionalProperties: true },
    matched: { type: 'array', items: { type: 'object', properties: { rule_id: { type: 'string' }, domain: { type: 'string' } } } },
    actions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { rule_id: { type: 'string' }, action: { type: 'string' }, status: { type: 'string' }, result: {}, error: { type: 'object', additionalProperties: true } },
      },
    },
    domains: { type: 'object', additionalProperties: true },
  },
} as const;
