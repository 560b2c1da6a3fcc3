import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A segment: a rule-defined set of users. `condition` is the `when` as written (tree or
 * expression); `revision` grows on each condition change; the `backfill_*` columns report the
 * background evaluation of every known user for `backfill_revision`. Owned by @arbiter/growth.
 */
@Entity({ name: 'growth_segments' })
export class SegmentEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'jsonb' })
  condition!: unknown;

  @Column({ type: 'int', default: 1 })
  revision!: number;

  @Column({ name: 'backfill_status', type: 'varchar', length: 16, default: 'pending' })
  backfillStatus!: 'pending' | 'running' | 'done' | 'failed';

  @Column({ name: 'backfill_revision', type: 'int', default: 0 })
  backfillRevision!: number;

  @Column({ name: 'backfill_total', type: 'int', default: 0 })
  backfillTotal!: number;

  @Column({ name: 'backfill_done', type: 'int', default: 0 })
  backfillDone!: number;

  @Column({ name: 'backfill_started_at', type: 'timestamptz', nullable: true })
  backfillStartedAt!: Date | null;

  @Column({ name: 'backfill_finished_at', type: 'timestamptz', nullable: true })
  backfillFinishedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/**
 * One stay of a user in a segment: open while `exited_at` is null (at most one open row per
 * segment and user, enforced by a partial unique index); closed rows are the history.
 */
@Entity({ name: 'growth_segment_memberships' })
@Index('growth_membership_user', ['userId', 'enteredAt'])
export class SegmentMembershipEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'segment_id', type: 'varchar', length: 64 })
  segmentId!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ name: 'entered_at', type: 'timestamptz' })
  enteredAt!: Date;

  @Column({ name: 'exited_at', type: 'timestamptz', nullable: true })
  exitedAt!: Date | null;

  /** What caused the entry: `event:<id>`, `recheck`, `backfill`, `user-update`. */
  @Column({ name: 'entered_by', type: 'text', nullable: true })
  enteredBy!: string | null;

  @Column({ name: 'exited_by', type: 'text', nullable: true })
  exitedBy!: string | null;
}

/**
 * One entry of a user's points ledger: `amount` > 0 awards, < 0 reverses (`reverses_entry_id`).
 * `idempotency_key` is unique, so a replayed award or refund never writes twice. The balance is
 * the sum of live entries (no `expires_at`, or one still in the future).
 */
@Entity({ name: 'growth_points_entries' })
export class PointsEntryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ type: 'numeric', precision: 20, scale: 2 })
  amount!: string;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'source_event_id', type: 'varchar', length: 200, nullable: true })
  sourceEventId!: string | null;

  @Column({ name: 'rule_id', type: 'text', nullable: true })
  ruleId!: string | null;

  @Column({ name: 'idempotency_key', type: 'text', unique: true })
  idempotencyKey!: string;

  @Column({ name: 'reverses_entry_id', type: 'bigint', nullable: true })
  reversesEntryId!: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
