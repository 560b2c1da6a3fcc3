import { ArbiterError } from '@arbiter/platform';

/** One compile problem as the API reports it: the compiler's fields plus where the rule lives. */
export interface RuleProblem {
  code: string;
  rule_id: string;
  path: string;
  line?: number;
  column?: number;
  message: string;
  hint?: string;
  /** `file:<name>` (with the rule's line in that file) or `database`, when known. */
  source?: string;
  source_line?: number;
}

/**
 * 422: the rules do not compile. `details.errors` lists every problem (rule id, path inside the
 * rule, line and column for expressions, a hint when one helps); nothing was stored or swapped.
 */
export class RulesDoNotCompileError extends ArbiterError {
  constructor(
    readonly errors: readonly RuleProblem[],
    what = 'the rules do not compile',
  ) {
    super(422, 'RULES_DO_NOT_COMPILE', `${what}: ${errors.length} error${errors.length === 1 ? '' : 's'} (first: ${errors[0] ? `${errors[0].rule_id ? `rule "${errors[0].rule_id}" ` : ''}${errors[0].path ? `${errors[0].path}: ` : ''}${errors[0].message}` : 'none'})`, { errors });
  }
}

/** 409: a rule defined only in a YAML file cannot be deleted or rolled back through the API. */
export class RuleInFileError extends ArbiterError {
  constructor(id: string, file: string) {
    super(409, 'RULE_DEFINED_IN_FILE', `rule "${id}" is defined in ${file}; edit the file (a database rule with the same id would override it)`, { id, file });
  }
}
