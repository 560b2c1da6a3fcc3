/**
 * @arbiter/rules — rule documents to typed IR to compiled evaluators. Pure TypeScript: no Nest,
 * no I/O. See docs/rule-language.md for the language and its semantics.
 */
export { compileRules, RuleSet } from './rule-set';
export type { ActionInvocation, EvalResult, FactCall, RuleMatch, RuleSetEvaluateOptions, RuleTrace } from './rule-set';
export { compileCondition, Condition } from './condition';
export type { ConditionCompileOptions, ConditionResult } from './condition';
export { BUILTIN_EXTENSIONS } from './rule-compiler';
export type { ActionSpec, CompiledAction, CompiledParam, CompiledRule, CompileOptions, CompileResult, ConditionTree, ExtensionField, RuleDocument, RuleSpec } from './rule-compiler';
export { CompileError, RuleSetCompileError } from './errors/compile.error';
export type { CompileErrorCode, CompileErrorInfo } from './errors/compile.error';
export type { ActionDefinition, Catalogue, FactDefinition, FactParam, PayloadSchema } from './catalogue';
export { indexCatalogue } from './catalogue';
export type { Dependencies } from './dependencies';
export type { EvalError, EvaluateOptions, FactResolver, RuleEvent } from './runtime';
export type { TraceNode } from './evaluator';
export type { IrNode } from './ir';
export { children as irChildren, render as renderExpression } from './ir';
export { parseExpression } from './parser';
export type { Ast } from './parser';
export { SyntaxProblem } from './tokenizer';
export { vetRegex } from './regex-guard';
export { formatDuration, parseDuration, parseTimestamp, parseType } from './types';
export type { RuleType, TypeSpec } from './types';
export type { CompileLimits } from './type-checker';
