/**
 * @arbiter/ruleset — where rules come from and which rule set is in force. Sources are the YAML
 * files under CONFIG_DIR/rules and versioned database rules (stored as flattened tree rows; a
 * database rule overrides a file rule with the same id). {@link RuleSetService} holds the compiled
 * {@link RuleSet} and swaps it atomically on reload (file change, API, or a broadcast from another
 * process); the admin API lives at /v1/rules.
 */
export { RulesetModule } from './ruleset.module';
export { RuleSetService } from './rule-set.service';
export type { GatheredSources, LoadedRule, RuleSetSnapshot, RuleSetStatus, RuleSource, SourceChange } from './rule-set.service';
export { RuleReloadBroadcaster } from './broadcast/rule-reload.broadcaster';
export { RulesDoNotCompileError, RuleInFileError } from './errors/ruleset.errors';
export type { RuleProblem } from './errors/ruleset.errors';
export { flattenRule, unflattenRule } from './sources/rule-tree';
export type { NodeRow, RuleRowFields } from './sources/rule-tree';
export { loadRuleFiles, parseRuleFile } from './sources/rule-files.loader';
export type { RuleFile } from './sources/rule-files.loader';
export { RULESET_MIGRATIONS } from './migrations';
