import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { RuleDocument } from '@arbiter/rules';

/** One YAML rule file, parsed: its document, where each rule starts, and its syntax errors. */
export interface RuleFile {
  file: string;
  document: RuleDocument;
  /** rule index -> 1-based line of the rule in the file, for error messages. */
  lines: number[];
  errors: { file: string; line?: number; column?: number; message: string }[];
}

/**
 * Reads every `*.yaml` / `*.yml` file directly under `dir`, in name order. Files are read, never
 * written, so their comments stay exactly as their authors left them. A missing directory is an
 * empty rule source; a file that is not valid YAML, or not a `{conditions?, rules?}` mapping,
 * is reported with its line and column and makes the whole load fail.
 */
export async function loadRuleFiles(dir: string): Promise<RuleFile[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: RuleFile[] = [];
  for (const name of names) files.push(parseRuleFile(name, await readFile(join(dir, name), 'utf8')));
  return files;
}

/** Parses one rule file's text (exported for the validate endpoint, which accepts YAML too). */
export function parseRuleFile(file: string, text: string): RuleFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const errors: RuleFile['errors'] = doc.errors.map((e) => {
    const pos = e.linePos?.[0];
    // prettyErrors fills linePos; the message's first line repeats it, so keep only the reason.
    return { file, line: pos?.line, column: pos?.col, message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '') };
  });
  if (errors.length) return { file, document: {}, lines: [], errors };
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (value === null || value === undefined) return { file, document: {}, lines: [], errors };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { file, document: {}, lines: [], errors: [{ file, line: 1, column: 1, message: 'a rule file is a mapping with `rules:` (and optionally `conditions:`)' }] };
  }
  const extra = Object.keys(value).filter((k) => k !== 'rules' && k !== 'conditions');
  if (extra.length) errors.push({ file, message: `unknown top-level key "${extra[0]}" (expected rules, conditions)` });
  const lines: number[] = [];
  const rules = isMap(doc.contents) ? doc.contents.get('rules', true) : undefined;
  if (isSeq(rules)) {
    for (const item of rules.items) {
      const range = (item as { range?: [number, number, number] } | null)?.range;
      lines.push(range ? lineCounter.linePos(range[0]).line : 0);
    }
  }
  return { file, document: value as RuleDocument, lines, errors };
}
