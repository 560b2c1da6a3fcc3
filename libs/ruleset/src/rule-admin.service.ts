import { Injectable } from '@nestjs/common';
import { NotFoundError, ValidationError, type FieldProblem } from '@arbiter/platform';
import type { RuleDocument, RuleSpec } from '@arbiter/rules';
import { RuleReloadBroadcaster } from './broadcast/rule-reload.broadcaster';
import { RuleInFileError } from './errors/ruleset.errors';
import { RuleSetService, type LoadedRule, type RuleSetStatus } from './rule-set.service';
import { parseRuleFile } from './sources/rule-files.loader';
import { RuleRepository, type StoredRule } from './sources/rule.repository';

export const RULE_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** The JSON form of a loaded rule. */
export function ruleView(r: LoadedRule) {
  return { id: r.id, rule: r.spec, source: r.source, overrides: r.overrides ?? null };
}

function versionView(v: StoredRule, live: number | undefined) {
  return { version: v.version, reason: v.reason, created_at: v.createdAt.toISOString(), live: v.version === live, rule: v.spec };
}

/**
 * The rule admin operations behind `/v1/rules`. Every write compiles the complete rule set with the
 * change applied first (422 listing every error, nothing stored), then stores a new version,
 * reloads this process and tells the others.
 */
@Injectable()
export class RuleAdminService {
  constructor(
    private readonly rules: RuleSetService,
    private readonly repo: RuleRepository,
    private readonly broadcaster: RuleReloadBroadcaster,
  ) {}

  list() {
    return { items: [...this.rules.snapshot().rules.values()].sort((a, b) => a.id.localeCompare(b.id)).map(ruleView), fingerprint: this.rules.snapshot().fingerprint };
  }

  get(id: string) {
    const r = this.rules.snapshot().rules.get(id);
    if (!r) throw new NotFoundError('rule', id);
    return ruleView(r);
  }

  async put(id: string, body: unknown) {
    const spec = checkRuleBody(id, body);
    await this.rules.check({ put: spec });
    const saved = await this.repo.save(spec, 'put');
    return { ...(await this.afterWrite(`put ${id}`)), id, version: saved.version, created: saved.created };
  }

  async delete(id: string) {
    checkId(id);
    const live = await this.repo.current(id);
    if (!live) {
      const loaded = this.rules.snapshot().rules.get(id);
      if (loaded?.source.kind === 'file') throw new RuleInFileError(id, loaded.source.file!);
      throw new NotFoundError('rule', id);
    }
    await this.rules.check({ remove: id });
    await this.repo.remove(id);
    const status = await this.afterWrite(`delete ${id}`);
    const revealed = this.rules.snapshot().rules.get(id);
    return { ...status, id, deleted: true, now_from_file: revealed?.source.kind === 'file' ? revealed.source.file : null };
  }

  async versions(id: string) {
    checkId(id);
    const { versions, live } = await this.repo.history(id);
    if (!versions.length) {
      const loaded = this.rules.snapshot().rules.get(id);
      if (loaded?.source.kind === 'file') throw new RuleInFileError(id, loaded.source.file!);
      throw new NotFoundError('rule', id);
    }
    return { id, live_version: live ?? null, versions: versions.map((v) => versionView(v, live)) };
  }

  /** Makes an old version live again by writing it as a new version (history only grows). */
  async rollback(id: string, body: unknown) {
    checkId(id);
    const fields = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const problems = Object.keys(fields).filter((k) => k !== 'version').map((k) => ({ path: k, message: 'is not a known field (expected version)' }));
    const version = fields.version;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > 2_147_483_647) problems.push({ path: 'version', message: 'must be a whole number from 1 to 2147483647' });
    if (problems.length) throw new ValidationError(problems);
    const old = await this.repo.version(id, version as number);
    if (!old) throw new NotFoundError(`version ${version} of rule`, id);
    await this.rules.check({ put: old.spec });
    const saved = await this.repo.save(old.spec, `rollback to ${version as number}`);
    return { ...(await this.afterWrite(`rollback ${id}`)), id, version: saved.version, rolled_back_to: version };
  }

  /** Compiles a document (JSON `{conditions?, rules}`, or `{yaml: "..."}`) with the loaded rules; stores nothing. */
  async validate(body: unknown) {
    const doc = readDocument(body, 'body');
    const ids = (doc.rules ?? []).map((r) => r?.id).filter((x): x is string => typeof x === 'string');
    // Check it the way it would load: the loaded sources, with this document's rules in place of any with the same id.
    const gathered = await this.rules.gather();
    const others = gathered.documents.map((d) => ({ ...d, rules: (d.rules ?? []).filter((r) => !ids.includes(r?.id)) }));
    const conditionNames = new Set(Object.keys(doc.conditions ?? {}));
    // A document that redefines a named condition replaces it too, instead of clashing with itself.
    for (const d of others) if (d.conditions) d.conditions = Object.fromEntries(Object.entries(d.conditions).filter(([k]) => !conditionNames.has(k)));
    this.rules.compileDocuments([...others, doc], 'document');
    return { valid: true, rules: ids };
  }

  async reload() {
    const status = await this.rules.reload('api');
    await this.broadcaster.publish('api reload');
    return status;
  }

  private async afterWrite(reason: string): Promise<{ status: RuleSetStatus }> {
    // The change is stored; if the reload now fails (a concurrent change elsewhere), the status says so.
    const status = await this.rules.reload(reason).catch(() => this.rules.status());
    await this.broadcaster.publish(reason);
    return { status };
  }
}

function checkId(id: string): void {
  if (!RULE_ID.test(id)) throw new ValidationError([{ path: 'id', message: 'rule ids are 1 to 128 letters, digits, _ . and -' }]);
}

function checkRuleBody(id: string, body: unknown): RuleSpec {
  checkId(id);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError([{ path: 'body', message: 'must be a rule object ({domain, on?, when, then, ...})' }]);
  const b = body as Record<string, unknown>;
  if (b.id !== undefined && b.id !== id) throw new ValidationError([{ path: 'id', message: `must match the id in the URL ("${id}") or be left out` }]);
  return { ...b, id } as RuleSpec;
}

/** A rule document from a request body: JSON `{conditions?, rules}` or `{yaml: "<file text>"}`; an array means `{rules}`. */
export function readDocument(body: unknown, path: string): RuleDocument {
  if (Array.isArray(body)) return { rules: body as RuleSpec[] };
  if (typeof body !== 'object' || body === null) throw new ValidationError([{ path, message: 'must be a rule document {conditions?, rules}, a list of rules, or {yaml}' }]);
  const b = body as Record<string, unknown>;
  if (typeof b.yaml === 'string') {
    const parsed = parseRuleFile('document', b.yaml);
    if (parsed.errors.length) {
      const problems: FieldProblem[] = parsed.errors.map((e) => ({ path: `${path}.yaml`, message: `${e.line ? `line ${e.line}, column ${e.column}: ` : ''}${e.message}` }));
      throw new ValidationError(problems);
    }
    return parsed.document;
  }
  const extra = Object.keys(b).filter((k) => k !== 'rules' && k !== 'conditions');
  if (extra.length) throw new ValidationError([{ path: `${path}.${extra[0]}`, message: 'unknown key (expected rules, conditions or yaml)' }]);
  return b as RuleDocument;
}
