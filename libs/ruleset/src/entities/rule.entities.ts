import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** The live pointer: which version of a database rule is in force. Deleting a rule deletes this row only. */
@Entity({ name: 'rules' })
export class RuleEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'int' })
  version!: number;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** One immutable version of a database rule: the rule row (its tree lives in `rule_nodes`). */
@Entity({ name: 'rule_versions' })
export class RuleVersionEntity {
  @PrimaryColumn({ name: 'rule_id', type: 'text' })
  ruleId!: string;

  @PrimaryColumn({ type: 'int' })
  version!: number;

  @Column({ type: 'text' })
  domain!: string;

  @Column({ name: 'on_types', type: 'jsonb', nullable: true })
  on!: string[] | string | null;

  @Column({ type: 'double precision', nullable: true })
  priority!: number | null;

  @Column({ type: 'boolean', nullable: true })
  enabled!: boolean | null;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ name: 'then_actions', type: 'jsonb', nullable: true })
  then!: unknown;

  @Column({ type: 'jsonb' })
  extra!: Record<string, unknown>;

  /** Why this version exists: `put`, `rollback from N`. */
  @Column({ type: 'text' })
  reason!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** One node of a version's condition tree: parent, position, kind, fact, operator, value or expression. */
@Entity({ name: 'rule_nodes' })
export class RuleNodeEntity {
  @PrimaryColumn({ name: 'rule_id', type: 'text' })
  ruleId!: string;

  @PrimaryColumn({ type: 'int' })
  version!: number;

  @PrimaryColumn({ name: 'node_id', type: 'int' })
  nodeId!: number;

  @Column({ name: 'parent_id', type: 'int', nullable: true })
  parentId!: number | null;

  @Column({ type: 'int' })
  position!: number;

  @Column({ type: 'text' })
  kind!: string;

  @Column({ type: 'text', nullable: true })
  fact!: string | null;

  @Column({ type: 'text', nullable: true })
  operator!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  value!: unknown;

  @Column({ type: 'text', nullable: true })
  expression!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  params!: Record<string, unknown> | null;
}
