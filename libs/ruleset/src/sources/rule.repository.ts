import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { RuleSpec } from '@arbiter/rules';
import { flattenRule, unflattenRule, type NodeRow, type RuleRowFields } from './rule-tree';

/** A database rule version, rebuilt into the document form the compiler reads. */
export interface StoredRule {
  id: string;
  version: number;
  spec: RuleSpec;
  reason: string;
  createdAt: Date;
}

type VersionRow = Record<string, unknown> & { rule_id: string; version: number };

/**
 * The database side of the rule sources: `rule_versions` (one immutable row per version),
 * `rule_nodes` (its condition tree, one row per node) and `rules` (which version is live). A save
 * writes a whole new version and moves the pointer in one transaction, so a reader never sees
 * a half-written rule.
 */
@Injectable()
export class RuleRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Every live database rule at its current version. */
  async live(): Promise<StoredRule[]> {
    const versions: VersionRow[] = await this.db.query(
      `SELECT v.* FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.version ORDER BY r.id`,
    );
    const nodes: (NodeRow & { rule_id: string; version: number })[] = await this.db.query(
      `SELECT n.* FROM rules r JOIN rule_nodes n ON n.rule_id = r.id AND n.version = r.version ORDER BY n.rule_id, n.node_id`,
    );
    return assemble(versions, nodes);
  }

  async current(id: string): Promise<StoredRule | undefined> {
    const rows: { version: number }[] = await this.db.query(`SELECT version FROM rules WHERE id = $1`, [id]);
    return rows.length ? this.version(id, rows[0].version) : undefined;
  }

  async version(id: string, version: number): Promise<StoredRule | undefined> {
    const versions: VersionRow[] = await this.db.query(`SELECT * FROM rule_versions WHERE rule_id = $1 AND version = $2`, [id, version]);
    if (!versions.length) return undefined;
    const nodes: (NodeRow & { rule_id: string; version: number })[] = await this.db.query(`SELECT * FROM rule_nodes WHERE rule_id = $1 AND version = $2 ORDER BY node_id`, [id, version]);
    return assemble(versions, nodes)[0];
  }

  /** Every version of a rule, newest first, and which one is live (undefined when deleted). */
  async history(id: string): Promise<{ versions: StoredRule[]; live?: number }> {
    const versions: VersionRow[] = await this.db.query(`SELECT * FROM rule_versions WHERE rule_id = $1 ORDER BY version DESC`, [id]);
    const nodes: (NodeRow & { rule_id: string; version: number })[] = await this.db.query(`SELECT * FROM rule_nodes WHERE rule_id = $1 ORDER BY version, node_id`, [id]);
    const live: { version: number }[] = await this.db.query(`SELECT version FROM rules WHERE id = $1`, [id]);
    return { versions: assemble(versions, nodes), live: live[0]?.version };
  }

  /** Writes `spec` as the next version of its rule and makes it live. */
  async save(spec: RuleSpec, reason: string): Promise<{ version: number; created: boolean }> {
    return this.db.transaction(async (m: EntityManager) => {
      // Serialises writers of one rule so two PUTs cannot claim the same version number.
      await m.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`rule:${spec.id}`]);
      const [{ next }]: { next: number }[] = await m.query(`SELECT COALESCE(MAX(version), 0) + 1 AS next FROM rule_versions WHERE rule_id = $1`, [spec.id]);
      const version = Number(next);
      const { fields, nodes } = flattenRule(spec);
      await m.query(
        `INSERT INTO rule_versions (rule_id, version, domain, on_types, priority, enabled, description, then_actions, extra, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [spec.id, version, fields.domain, json(fields.on), fields.priority, fields.enabled, fields.description, json(fields.then), JSON.stringify(fields.extra), reason],
      );
      for (const n of nodes) {
        await m.query(
          `INSERT INTO rule_nodes (rule_id, version, node_id, parent_id, position, kind, fact, operator, value, expression, params)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [spec.id, version, n.node_id, n.parent_id, n.position, n.kind, n.fact, n.operator, json(n.value), n.expression, json(n.params)],
        );
      }
      const existed: unknown[] = await m.query(`SELECT 1 FROM rules WHERE id = $1`, [spec.id]);
      await m.query(
        `INSERT INTO rules (id, version, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
        [spec.id, version],
      );
      return { version, created: existed.length === 0 };
    });
  }

  /** Takes a rule out of force (its versions stay, for history and rollback); false when it was not live. */
  async remove(id: string): Promise<boolean> {
    const [, affected]: [unknown, number] = await this.db.query(`DELETE FROM rules WHERE id = $1`, [id]);
    return affected > 0;
  }
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

/** jsonb columns arrive already parsed (pg and the embedded pool both decode them). */
function parsed<T>(v: unknown): T {
  return v as T;
}

function assemble(versions: VersionRow[], nodes: (NodeRow & { rule_id: string; version: number })[]): StoredRule[] {
  const byVersion = new Map<string, NodeRow[]>();
  for (const n of nodes) {
    const key = `${n.rule_id}\u0000${n.version}`;
    const list = byVersion.get(key) ?? [];
    list.push({ ...n, value: parsed(n.value), params: parsed(n.params) });
    byVersion.set(key, list);
  }
  return versions.map((v) => {
    const fields: RuleRowFields = {
      domain: String(v.domain),
      on: parsed(v.on_types),
      priority: v.priority === null ? null : Number(v.priority),
      enabled: v.enabled as boolean | null,
      description: v.description as string | null,
      then: parsed(v.then_actions),
      extra: parsed(v.extra) ?? {},
    };
    const version = Number(v.version);
    return {
      id: v.rule_id,
      version,
      spec: unflattenRule(v.rule_id, fields, byVersion.get(`${v.rule_id}\u0000${version}`) ?? []),
      reason: String(v.reason),
      createdAt: v.created_at instanceof Date ? v.created_at : new Date(String(v.created_at)),
    };
  });
}
