import { ArbiterError } from '@arbiter/platform';
import type { CompileError } from '@arbiter/rules';

/** One compile problem of a segment condition, as the API reports it. */
export interface SegmentProblem {
  code: string;
  segment_id: string;
  path: string;
  line?: number;
  column?: number;
  message: string;
  hint?: string;
}

/**
 * 422: a segment's condition does not compile against the fact catalogue. `details.errors` lists
 * every problem (path inside the condition, line and column for expressions, a hint when one
 * helps); nothing was stored.
 */
export class SegmentDoesNotCompileError extends ArbiterError {
  constructor(id: string, errors: readonly CompileError[]) {
    const problems: SegmentProblem[] = errors.map((e) => {
      const p: SegmentProblem = { code: e.code, segment_id: id, path: e.path, message: e.message };
      if (e.line !== undefined) p.line = e.line;
      if (e.column !== undefined) p.column = e.column;
      if (e.hint) p.hint = e.hint;
      return p;
    });
    const first = problems[0];
    super(422, 'SEGMENT_DOES_NOT_COMPILE', `segment "${id}" does not compile: ${problems.length} error${problems.length === 1 ? '' : 's'}${first ? ` (first: ${first.path ? `${first.path}: ` : ''}${first.message})` : ''}`, { errors: problems });
  }
}
