/** Stable codes for every way a rule document can fail to compile. */
export type CompileErrorCode =
  | 'SYNTAX'
  | 'UNKNOWN_FACT'
  | 'UNKNOWN_FIELD'
  | 'UNKNOWN_EVENT_TYPE'
  | 'UNKNOWN_ACTION'
  | 'UNKNOWN_PARAM'
  | 'MISSING_PARAM'
  | 'UNKNOWN_CONDITION'
  | 'CONDITION_CYCLE'
  | 'TYPE_MISMATCH'
  | 'BAD_OPERATOR'
  | 'BAD_REGEX'
  | 'UNSAFE_REGEX'
  | 'FORBIDDEN_PATH'
  | 'TOO_DEEP'
  | 'TOO_LARGE'
  | 'DUPLICATE_ID'
  | 'INVALID_RULE'
  | 'INVALID_CATALOGUE';

/** Plain-data description of one compile error, safe to serialise into an HTTP 422 body. */
export interface CompileErrorInfo {
  code: CompileErrorCode;
  /** The rule the error belongs to; `conditions.<name>` for a named condition, `''` for catalogue errors. */
  ruleId: string;
  /** Where in the rule: `when.all[2].any[0]`, `then[1].params.points`, `score`. */
  path: string;
  /** 1-based line and column inside the expression string, when the error is in an expression. */
  line?: number;
  column?: number;
  message: string;
  /** A suggestion when one helps, e.g. `did you mean "payload.amount"?`. */
  hint?: string;
}

/**
 * One compile error in a rule set. Compilation collects every error rather than stopping at the
 * first, so callers usually receive an array of these inside a {@link RuleSetCompileError} or a
 * failed {@link CompileResult}; `toString()` gives the one-line form shown to rule authors.
 */
export class CompileError extends Error implements CompileErrorInfo {
  readonly code: CompileErrorCode;
  readonly ruleId: string;
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly hint?: string;

  constructor(info: CompileErrorInfo) {
    super(info.message);
    this.name = 'CompileError';
    this.code = info.code;
    this.ruleId = info.ruleId;
    this.path = info.path;
    if (info.line !== undefined) this.line = info.line;
    if (info.column !== undefined) this.column = info.column;
    if (info.hint !== undefined) this.hint = info.hint;
  }

  override toString(): string {
    const where = [this.ruleId && `rule "${this.ruleId}"`, this.path, this.line !== undefined ? `${this.line}:${this.column}` : '']
      .filter(Boolean)
      .join(' ');
    return `${where}: ${this.message}${this.hint ? ` — ${this.hint}` : ''}`;
  }

  toJSON(): CompileErrorInfo {
    const { code, ruleId, path, line, column, message, hint } = this;
    return { code, ruleId, path, line, column, message, hint };
  }
}

/**
 * Thrown by the `*OrThrow` compile helpers when a rule set (or a single condition) does not
 * compile; `errors` holds every problem found, in document order. Its `code` is stable so an
 * HTTP filter can map it to 422.
 */
export class RuleSetCompileError extends Error {
  readonly code = 'RULES_DO_NOT_COMPILE';
  constructor(readonly errors: readonly CompileError[]) {
    super(
      `${errors.length} rule compile error${errors.length === 1 ? '' : 's'}:\n` +
        errors.slice(0, 20).map((e) => `  ${e.toString()}`).join('\n') +
        (errors.length > 20 ? `\n  … and ${errors.length - 20} more` : ''),
    );
    this.name = 'RuleSetCompileError';
  }
}
