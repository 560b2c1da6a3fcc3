import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AppConfig } from '@arbiter/platform';
import { CatalogueService } from '@arbiter/facts';
import { compileRules, RuleSet, type CompileError, type CompileOptions, type ExtensionField, type RuleDocument, type RuleSpec } from '@arbiter/rules';
import { RulesDoNotCompileError, type RuleProblem } from './errors/ruleset.errors';
import { reloadCounter, rulesLoadedGauge } from './ruleset.metrics';
import { loadRuleFiles, type RuleFile } from './sources/rule-files.loader';
import { RuleRepository } from './sources/rule.repository';

/** Where a loaded rule comes from. */
export interface RuleSource {
  kind: 'file' | 'database';
  file?: string;
  line?: number;
  version?: number;
}

/** A rule of the rule set in force, as written, with its source (and the file rule it overrides). */
export interface LoadedRule {
  id: string;
  spec: RuleSpec;
  source: RuleSource;
  overrides?: RuleSource;
}

/** Everything gathered from the sources, ready to compile. */
export interface GatheredSources {
  documents: RuleDocument[];
  rules: Map<string, LoadedRule>;
  files: { file: string; rules: number }[];
  problems: RuleProblem[];
}

/**
 * An immutable snapshot: the compiled rule set plus what it was built from. `version` counts
 * successful loads in this process; `fingerprint` hashes the sources, so two processes holding the
 * same rules show the same fingerprint.
 */
export interface RuleSetSnapshot {
  readonly ruleSet: RuleSet;
  readonly rules: ReadonlyMap<string, LoadedRule>;
  readonly files: readonly { file: string; rules: number }[];
  readonly version: number;
  readonly fingerprint: string;
  readonly loadedAt: Date;
  readonly trigger: string;
}

export interface RuleSetStatus {
  version: number;
  fingerprint: string;
  loaded_at: string;
  trigger: string;
  rule_count: number;
  by_domain: Record<string, number>;
  sources: { directory: string; files: { file: string; rules: number }[]; database: number };
  overrides: { id: string; file: string; database_version: number }[];
  reloads: { succeeded: number; failed: number };
  last_reload: { at: string; trigger: string; ok: boolean } | null;
  last_error: { at: string; trigger: string; message: string; errors: RuleProblem[] } | null;
}

/** A change to compile against the current sources without storing it (PUT, DELETE, rollback). */
export interface SourceChange {
  put?: RuleSpec;
  remove?: string;
}

const EMPTY = new RuleSet([]);

/**
 * Holds the rule set in force and builds new ones. The pipeline reads {@link current} once per
 * evaluation; a reload gathers every source (YAML files under CONFIG_DIR/rules and the live
 * database rules — a database rule overrides a file rule with the same id), compiles a complete new
 * {@link RuleSet} and swaps one reference, so evaluations in flight finish on the old set. A failed
 * reload keeps the old set, logs and counts the error and shows it in {@link status}. Reloads run one
 * at a time, in order.
 */
@Injectable()
export class RuleSetService implements OnApplicationBootstrap {
  private readonly logger = new Logger('RuleSet');
  private readonly reloads = reloadCounter();
  private readonly loadedGauge = rulesLoadedGauge();
  private snap: RuleSetSnapshot = { ruleSet: EMPTY, rules: new Map(), files: [], version: 0, fingerprint: '', loadedAt: new Date(0), trigger: 'none' };
  private chain: Promise<unknown> = Promise.resolve();
  private counts = { succeeded: 0, failed: 0 };
  private lastReload: RuleSetStatus['last_reload'] = null;
  private lastError: RuleSetStatus['last_error'] = null;
  private extensions: Record<string, ExtensionField> = {};
  private readonly listeners: ((snapshot: RuleSetSnapshot) => void)[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly catalogue: CatalogueService,
    private readonly repo: RuleRepository,
  ) {}

  /** The rules directory: CONFIG_DIR/rules. */
  get directory(): string {
    return join(this.config.configDir, 'rules');
  }

  /** Loads the rules at boot; rules that do not compile stop the boot with every error listed. */
  async onApplicationBootstrap(): Promise<void> {
    await this.reload('boot');
  }

  /** The rule set in force. Read it once per evaluation and use that reference throughout. */
  current(): RuleSet {
    return this.snap.ruleSet;
  }

  snapshot(): RuleSetSnapshot {
    return this.snap;
  }

  /** Called after each successful swap (the broadcaster and metrics listen). */
  onSwap(listener: (snapshot: RuleSetSnapshot) => void): void {
    this.listeners.push(listener);
  }

  /** Domain rule fields (beyond score/outcome/mode/metadata) a plugin declares before the first load. */
  addExtensions(fields: Record<string, ExtensionField>): void {
    this.extensions = { ...this.extensions, ...fields };
  }

  compileOptions(): CompileOptions {
    return { extensions: this.extensions };
  }

  /**
   * Builds and swaps in a new rule set from the sources. Throws {@link RulesDoNotCompileError}
   * (after recording it in the status) when the sources do not compile; the old set stays.
   */
  reload(trigger: string): Promise<RuleSetStatus> {
    const run = this.chain.then(() => this.doReload(trigger));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async doReload(trigger: string): Promise<RuleSetStatus> {
    const at = new Date();
    try {
      const sources = await this.gather();
      const ruleSet = this.compileOrThrow(sources);
      const fingerprint = fingerprintOf(sources.documents);
      this.snap = Object.freeze({ ruleSet, rules: sources.rules, files: sources.files, version: this.snap.version + 1, fingerprint, loadedAt: at, trigger });
      this.counts.succeeded++;
      this.lastReload = { at: at.toISOString(), trigger, ok: true };
      this.reloads.inc({ outcome: 'ok', trigger: triggerLabel(trigger) });
      this.loadedGauge.reset();
      for (const [domain, n] of Object.entries(byDomain(ruleSet))) this.loadedGauge.set({ domain }, n);
      this.logger.log(`rule set v${this.snap.version} loaded (${trigger}): ${ruleSet.size} rules, fingerprint ${fingerprint.slice(0, 12)}`);
      for (const l of this.listeners) l(this.snap);
      return this.status();
    } catch (err) {
      const problems = err instanceof RulesDoNotCompileError ? [...err.errors] : [{ code: 'RELOAD_FAILED', rule_id: '', path: '', message: (err as Error).message }];
      const message = err instanceof RulesDoNotCompileError ? err.message : `reload failed: ${(err as Error).message}`;
      this.counts.failed++;
      this.lastReload = { at: at.toISOString(), trigger, ok: false };
      this.lastError = { at: at.toISOString(), trigger, message, errors: problems };
      this.reloads.inc({ outcome: 'failed', trigger: triggerLabel(trigger) });
      this.logger.error(`rule reload (${trigger}) failed, keeping rule set v${this.snap.version}: ${message}`);
      if (trigger === 'boot') throw new Error(`rules do not compile, refusing to start:\n  ${problems.map(formatProblem).join('\n  ')}`);
      throw err instanceof RulesDoNotCompileError ? err : new RulesDoNotCompileError(problems, 'the rules could not be reloaded');
    }
  }

  /** Compiles the current sources with `change` applied; nothing is stored or swapped. */
  async check(change: SourceChange): Promise<RuleSet> {
    const sources = await this.gather(change);
    return this.compileOrThrow(sources);
  }

  /** Compiles documents alone (draft rules for simulate and validate); throws 422 on errors. */
  compileDocuments(documents: RuleDocument[], source = 'draft'): RuleSet {
    const result = compileRules(documents, this.catalogue.catalogue(), this.compileOptions());
    if (result.ok) return result.value;
    throw new RulesDoNotCompileError(result.errors.map((e) => toProblem(e, new Map(), source)));
  }

  /** Reads every source; `change` overlays a database rule (put) or removes one (remove). */
  async gather(change: SourceChange = {}): Promise<GatheredSources> {
    const files = await loadRuleFiles(this.directory);
    const stored = await this.repo.live();
    const problems: RuleProblem[] = [];
    const rules = new Map<string, LoadedRule>();
    const fileRules = new Map<string, RuleSource>();
    for (const f of files) {
      for (const e of f.errors) problems.push({ code: 'SYNTAX', rule_id: '', path: '', line: e.line, column: e.column, message: e.message, source: `file:${f.file}` });
      (Array.isArray(f.document.rules) ? f.document.rules : []).forEach((r, i) => {
        if (typeof r?.id === 'string' && !fileRules.has(r.id)) fileRules.set(r.id, { kind: 'file', file: f.file, line: f.lines[i] || undefined });
      });
    }
    const dbSpecs = new Map<string, { spec: RuleSpec; version?: number }>();
    for (const s of stored) dbSpecs.set(s.id, { spec: s.spec, version: s.version });
    if (change.remove !== undefined) dbSpecs.delete(change.remove);
    if (change.put) dbSpecs.set(change.put.id, { spec: change.put, version: undefined });

    const documents: RuleDocument[] = files.map((f) => filterDocument(f, dbSpecs));
    documents.push({ rules: [...dbSpecs.values()].map((d) => d.spec) });
    for (const f of files) {
      (Array.isArray(f.document.rules) ? f.document.rules : []).forEach((r) => {
        if (typeof r?.id === 'string' && !dbSpecs.has(r.id) && !rules.has(r.id)) rules.set(r.id, { id: r.id, spec: r, source: fileRules.get(r.id)! });
      });
    }
    for (const [id, d] of dbSpecs) {
      const loaded: LoadedRule = { id, spec: d.spec, source: { kind: 'database', version: d.version } };
      if (fileRules.has(id)) loaded.overrides = fileRules.get(id);
      rules.set(id, loaded);
    }
    return { documents, rules, files: files.map((f) => ({ file: f.file, rules: Array.isArray(f.document.rules) ? f.document.rules.length : 0 })), problems };
  }

  private compileOrThrow(sources: GatheredSources): RuleSet {
    if (sources.problems.length) throw new RulesDoNotCompileError(sources.problems);
    const result = compileRules(sources.documents, this.catalogue.catalogue(), this.compileOptions());
    if (result.ok) return result.value;
    throw new RulesDoNotCompileError(result.errors.map((e) => toProblem(e, sources.rules)));
  }

  status(): RuleSetStatus {
    const s = this.snap;
    const rules = [...s.rules.values()];
    return {
      version: s.version,
      fingerprint: s.fingerprint,
      loaded_at: s.loadedAt.toISOString(),
      trigger: s.trigger,
      rule_count: s.ruleSet.size,
      by_domain: byDomain(s.ruleSet),
      sources: { directory: this.directory, files: [...s.files], database: rules.filter((r) => r.source.kind === 'database').length },
      overrides: rules.filter((r) => r.overrides).map((r) => ({ id: r.id, file: r.overrides!.file!, database_version: r.source.version! })),
      reloads: { ...this.counts },
      last_reload: this.lastReload,
      last_error: this.lastError,
    };
  }
}

/** A file's document without the rules a database rule overrides. */
function filterDocument(f: RuleFile, db: ReadonlyMap<string, unknown>): RuleDocument {
  const doc: RuleDocument = { ...f.document };
  if (Array.isArray(doc.rules)) doc.rules = doc.rules.filter((r) => !(typeof r?.id === 'string' && db.has(r.id)));
  return doc;
}

export function toProblem(e: CompileError, rules: ReadonlyMap<string, LoadedRule>, fallbackSource?: string): RuleProblem {
  const p: RuleProblem = { code: e.code, rule_id: e.ruleId, path: e.path, message: e.message };
  if (e.line !== undefined) p.line = e.line;
  if (e.column !== undefined) p.column = e.column;
  if (e.hint) p.hint = e.hint;
  const src = rules.get(e.ruleId)?.source;
  if (src?.kind === 'file') {
    p.source = `file:${src.file}`;
    if (src.line) p.source_line = src.line;
  } else if (src?.kind === 'database') p.source = 'database';
  else if (fallbackSource) p.source = fallbackSource;
  return p;
}

function formatProblem(p: RuleProblem): string {
  const where = [p.source, p.source_line ? `line ${p.source_line}` : '', p.rule_id && `rule "${p.rule_id}"`, p.path, p.line !== undefined ? `${p.line}:${p.column}` : ''].filter(Boolean).join(' ');
  return `${where}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`;
}

function byDomain(ruleSet: RuleSet): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of ruleSet.rules) out[r.domain] = (out[r.domain] ?? 0) + 1;
  return out;
}

function fingerprintOf(documents: RuleDocument[]): string {
  return createHash('sha256').update(stableJson(documents)).digest('hex');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Keeps the metric's label set small: `broadcast from <host>` and friends collapse to their first word. */
function triggerLabel(trigger: string): string {
  return trigger.split(/[\s:]/)[0];
}
