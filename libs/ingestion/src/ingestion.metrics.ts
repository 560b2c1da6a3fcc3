import { counter, histogram, tallyCounter } from '@arbiter/platform';

export const eventsIngested = () =>
  tallyCounter({ name: 'arbiter_events_ingested_total', help: 'Events accepted, by event type and mode (sync, batch, emitted)', labelNames: ['type', 'mode'] as const });

export const eventsDuplicate = () =>
  counter({ name: 'arbiter_events_duplicate_total', help: 'Events answered from a previous result (repeated id), by mode', labelNames: ['mode'] as const });

export const stageDuration = () =>
  histogram({
    name: 'arbiter_pipeline_stage_duration_seconds',
    help: 'Time one pipeline stage took for one event, by domain',
    labelNames: ['domain'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });

export const ruleMatches = () =>
  tallyCounter({ name: 'arbiter_rule_matches_total', help: 'Rule matches, by rule and domain', labelNames: ['rule', 'domain'] as const });

export const eventJobs = () =>
  counter({ name: 'arbiter_event_jobs_total', help: 'Queued event jobs by outcome: completed, retrying (a failed attempt with tries left), failed (last attempt)', labelNames: ['outcome'] as const });
