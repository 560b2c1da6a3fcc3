import { counter } from '@arbiter/platform';

/** Action executions by action, mode and outcome (succeeded, failed, queued, replayed, retrying). */
export const actionExecutions = () =>
  counter({
    name: 'arbiter_action_executions_total',
    help: 'Action executions by action name, mode and outcome',
    labelNames: ['action', 'mode', 'outcome'] as const,
  });
