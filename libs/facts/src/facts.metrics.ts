import { counter, histogram, tallyCounter } from '@arbiter/platform';

/** Fact metrics, labelled by fact (the fact computed; an alias is labelled with its target). */
export const factMetrics = () => ({
  duration: histogram({
    name: 'arbiter_fact_duration_seconds',
    help: 'Time to compute a fact (memo hits excluded), by fact and outcome',
    labelNames: ['fact', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
  errors: counter({
    name: 'arbiter_fact_errors_total',
    help: 'Facts that failed or timed out, by fact and reason (error, timeout)',
    labelNames: ['fact', 'reason'] as const,
  }),
  memoHits: tallyCounter({
    name: 'arbiter_fact_memo_hits_total',
    help: 'Fact reads answered from the session memo (including a shared in-flight computation), by fact',
    labelNames: ['fact'] as const,
  }),
  prefetched: tallyCounter({
    name: 'arbiter_fact_prefetched_total',
    help: "Facts read ahead by the statement that appends the event (their reads are then memo hits), by fact",
    labelNames: ['fact'] as const,
  }),
  fallbacks: counter({
    name: 'arbiter_fact_fallbacks_total',
    help: 'Failed or timed-out facts answered with their declared fallback value, by fact',
    labelNames: ['fact'] as const,
  }),
});
