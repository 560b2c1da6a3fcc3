import { counter, gauge } from '@arbiter/platform';

export const reloadCounter = () =>
  counter({ name: 'arbiter_rule_reloads_total', help: 'Rule set reloads by outcome (ok, failed) and trigger', labelNames: ['outcome', 'trigger'] as const });

export const rulesLoadedGauge = () => gauge({ name: 'arbiter_rules_loaded', help: 'Rules in the rule set currently in force, by domain', labelNames: ['domain'] as const });
