import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CatalogueService, FactRegistry } from '@arbiter/facts';
import { AppConfig, ConflictError, NotFoundError, ValidationError, type FieldProblem } from '@arbiter/platform';
import { compileCondition, type Catalogue, type Condition, type ConditionTree } from '@arbiter/rules';
import { SegmentDoesNotCompileError } from '../errors/growth.errors';
import { segmentTriggers, type SegmentTriggers } from './segment-dependencies';

/** A segment as the API shows it, with its backfill progress. */
export interface SegmentView {
  id: string;
  description: string | null;
  when: unknown;
  revision: number;
  /** Which event types and user attributes make it re-evaluate, and the windows that expire it. */
  depends_on: { event_types: string[]; user_attributes: string[]; windows: { type: string; within_ms: number }[]; uses_now: boolean };
  backfill: { status: string; revision: number; users_total: number; users_done: number; percent: number; started_at: string | null; finished_at: string | null };
  created_at: string;
  updated_at: string;
}

/** A stored segment compiled against the current catalogue. */
export interface CompiledSegment {
  id: string;
  revision: number;
  condition: Condition;
  triggers: SegmentTriggers;
}

export const SEGMENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

const COLUMNS = `id, description, condition, revision, backfill_status, backfill_revision, backfill_total, backfill_done,
  backfill_started_at, backfill_finished_at, created_at, updated_at`;

/**
 * Segment definitions: validation and compilation (against the live rules catalogue, so a bad
 * condition is a 422 listing every error and nothing is stored), storage, and the compiled set
 * with its index from event type / user attribute to the segments that can change. The compiled
 * set is rebuilt after a local change, when the catalogue changes, and every
 * GROWTH_SEGMENT_REFRESH_MS (to see other processes' changes).
 */
@Injectable()
export class SegmentService {
  private readonly logger = new Logger('Segments');
  private cache?: { at: number; catalogue: Catalogue; segments: CompiledSegment[]; byType: Map<string, CompiledSegment[]>; byUser: CompiledSegment[] };
  private loading?: Promise<NonNullable<SegmentService['cache']>>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly catalogue: CatalogueService,
    private readonly registry: FactRegistry,
    private readonly config: AppConfig,
  ) {}

  /** Compiles a condition or throws the 422 with every error. */
  compile(id: string, when: unknown): CompiledSegment & { when: unknown } {
    const result = compileCondition(when as ConditionTree, this.catalogue.catalogue(), { id, on: ['*'] });
    if (!result.ok) throw new SegmentDoesNotCompileError(id, result.errors);
    return { id, revision: 0, when, condition: result.value, triggers: segmentTriggers(result.value, (name) => this.registry.lookup(name)?.fixed) };
  }

  async create(body: unknown): Promise<SegmentView> {
    const input = parseBody(body, true);
    const id = input.id!;
    this.compile(id, input.when);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `INSERT INTO growth_segments (id, description, condition) VALUES ($1, $2, $3::jsonb) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [id, input.description ?? null, JSON.stringify({ when: input.when })],
    );
    if (!rows.length) throw new ConflictError('SEGMENT_EXISTS', `segment "${id}" already exists (PATCH /v1/growth/segments/${id} changes it)`, { id });
    this.invalidate();
    return this.view(rows[0]);
  }

  /** Changes the description and/or the condition; a new condition bumps the revision. */
  async update(id: string, body: unknown): Promise<{ view: SegmentView; conditionChanged: boolean }> {
    const input = parseBody(body, false);
    const current = await this.get(id);
    const conditionChanged = input.when !== undefined && JSON.stringify(input.when) !== JSON.stringify(current.when);
    if (conditionChanged) this.compile(id, input.when);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `WITH u AS (UPDATE growth_segments SET description = CASE WHEN $2 THEN $3 ELSE description END,
         condition = CASE WHEN $4 THEN $5::jsonb ELSE condition END,
         revision = revision + CASE WHEN $4 THEN 1 ELSE 0 END, updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}) SELECT * FROM u`,
      [id, input.description !== undefined, input.description ?? null, conditionChanged, JSON.stringify({ when: input.when ?? null })],
    );
    if (!rows.length) throw new NotFoundError('segment', id);
    this.invalidate();
    return { view: this.view(rows[0]), conditionChanged };
  }

  /** Deletes the segment and its membership history. */
  async remove(id: string): Promise<void> {
    const rows: { id: string }[] = await this.dataSource.query('WITH d AS (DELETE FROM growth_segments WHERE id = $1 RETURNING id) SELECT id FROM d', [id]);
    if (!rows.length) throw new NotFoundError('segment', id);
    this.invalidate();
  }

  async get(id: string): Promise<SegmentView> {
    const rows: Record<string, unknown>[] = SEGMENT_ID.test(id) ? await this.dataSource.query(`SELECT ${COLUMNS} FROM growth_segments WHERE id = $1`, [id]) : [];
    if (!rows.length) throw new NotFoundError('segment', id);
    return this.view(rows[0]);
  }

  async list(): Promise<SegmentView[]> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM growth_segments ORDER BY id`);
    return rows.map((r) => this.view(r));
  }

  /** The compiled segment `id` at its current revision, or undefined (deleted, or no longer compiles). */
  async compiled(id: string): Promise<CompiledSegment | undefined> {
    return (await this.current()).segments.find((s) => s.id === id);
  }

  /**
   * The segments an event of `type` can change for its user (their conditions read a fact fed by
   * that type, or an opaque fact), plus those reading user attributes when `userChanged`.
   */
  async affectedBy(type: string | undefined, userChanged: boolean): Promise<CompiledSegment[]> {
    const c = await this.current();
    const out = new Set<CompiledSegment>();
    if (type !== undefined) for (const s of [...(c.byType.get(type) ?? []), ...(c.byType.get('*') ?? [])]) out.add(s);
    if (userChanged) for (const s of c.byUser) out.add(s);
    return [...out].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Forget the compiled set: the next read rebuilds it. */
  invalidate(): void {
    this.cache = undefined;
  }

  private async current(): Promise<NonNullable<SegmentService['cache']>> {
    const catalogue = this.catalogue.catalogue();
    const c = this.cache;
    if (c && c.catalogue === catalogue && Date.now() - c.at < this.config.growthSegmentRefreshMs) return c;
    this.loading ??= this.load(catalogue).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(catalogue: Catalogue): Promise<NonNullable<SegmentService['cache']>> {
    const rows: { id: string; condition: unknown; revision: number }[] = await this.dataSource.query('SELECT id, condition, revision FROM growth_segments ORDER BY id');
    const segments: CompiledSegment[] = [];
    for (const r of rows) {
      const when = storedWhen(r.condition);
      try {
        segments.push({ ...this.compile(r.id, when), revision: Number(r.revision) });
      } catch (err) {
        // A fact or attribute it reads was removed from the catalogue: the segment freezes (no
        // membership changes) until fixed; the API's PATCH reports the errors.
        this.logger.warn(`segment "${r.id}" no longer compiles and is not evaluated: ${(err as Error).message}`);
      }
    }
    const byType = new Map<string, CompiledSegment[]>();
    for (const s of segments) for (const t of s.triggers.eventTypes) byType.set(t, [...(byType.get(t) ?? []), s]);
    const cache = { at: Date.now(), catalogue, segments, byType, byUser: segments.filter((s) => s.triggers.userAttributes.length > 0) };
    this.cache = cache;
    return cache;
  }

  private view(r: Record<string, unknown>): SegmentView {
    const when = storedWhen(r.condition);
    let triggers: SegmentTriggers | undefined;
    try {
      triggers = this.compile(String(r.id), when).triggers;
    } catch {
      triggers = undefined;
    }
    const total = Number(r.backfill_total);
    const done = Number(r.backfill_done);
    const status = String(r.backfill_status);
    return {
      id: String(r.id),
      description: (r.description as string | null) ?? null,
      when,
      revision: Number(r.revision),
      depends_on: {
        event_types: triggers ? [...triggers.eventTypes].sort() : [],
        user_attributes: triggers ? [...triggers.userAttributes] : [],
        windows: triggers ? triggers.windows.map((w) => ({ type: w.type, within_ms: w.withinMs })) : [],
        uses_now: triggers?.usesNow ?? false,
      },
      backfill: {
        status,
        revision: Number(r.backfill_revision),
        users_total: total,
        users_done: done,
        percent: status === 'done' ? 100 : total > 0 ? Math.min(100, Math.floor((done / total) * 1000) / 10) : 0,
        started_at: iso(r.backfill_started_at),
        finished_at: iso(r.backfill_finished_at),
      },
      created_at: iso(r.created_at)!,
      updated_at: iso(r.updated_at)!,
    };
  }
}

/** The stored `{when}` wrapper (a bare jsonb string would be ambiguous with its JSON text). */
function storedWhen(column: unknown): unknown {
  const doc = typeof column === 'string' ? (JSON.parse(column) as { when?: unknown }) : (column as { when?: unknown } | null);
  return doc?.when;
}

function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}

/** `{id, when, description?}` for a create, `{when?, description?}` for an update; every problem is a 400. */
function parseBody(body: unknown, create: boolean): { id?: string; when?: unknown; description?: string | null } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError([{ path: 'body', message: 'must be an object like {"id": "vip", "when": "spend_30d > 5000"}' }]);
  const b = body as Record<string, unknown>;
  const problems: FieldProblem[] = [];
  const allowed = create ? ['id', 'when', 'description'] : ['when', 'description'];
  for (const k of Object.keys(b)) if (!allowed.includes(k)) problems.push({ path: k, message: `unknown field (allowed: ${allowed.join(', ')})` });
  if (create) {
    if (typeof b.id !== 'string' || !SEGMENT_ID.test(b.id)) problems.push({ path: 'id', message: 'is required: 1 to 64 letters, digits, _ . -' });
    if (b.when === undefined) problems.push({ path: 'when', message: 'is required: an expression string or a condition tree' });
  } else if (b.when === undefined && b.description === undefined) problems.push({ path: 'body', message: 'give "when" and/or "description"' });
  if (b.when !== undefined && (b.when === null || (typeof b.when !== 'string' && typeof b.when !== 'object') || Array.isArray(b.when))) problems.push({ path: 'when', message: 'must be an expression string or a condition tree object' });
  if (b.description !== undefined && b.description !== null && (typeof b.description !== 'string' || b.description.length > 2000)) problems.push({ path: 'description', message: 'must be a string of at most 2000 characters' });
  if (problems.length) throw new ValidationError(problems);
  return { id: b.id as string | undefined, when: b.when, description: b.description as string | null | undefined };
}
