import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A named allow or block list (its values are {@link FraudListItemEntity} rows). */
@Entity({ name: 'fraud_lists' })
export class FraudListEntity {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  kind!: 'allow' | 'block';

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'fraud_list_items' })
export class FraudListItemEntity {
  @PrimaryColumn({ name: 'list_name', type: 'text' })
  listName!: string;

  @PrimaryColumn({ type: 'text' })
  value!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** One stored fraud decision: what was decided for an event, from which rules and facts. */
@Entity({ name: 'fraud_decisions' })
export class FraudDecisionEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'bigint' })
  seq!: string;

  @Column({ name: 'event_id', type: 'text' })
  eventId!: string;

  @Column({ name: 'event_type', type: 'text' })
  eventType!: string;

  @Column({ name: 'user_id', type: 'text' })
  userId!: string;

  @Column({ name: 'is_check', type: 'boolean' })
  isCheck!: boolean;

  @Column({ type: 'double precision' })
  score!: number;

  @Column({ type: 'text' })
  outcome!: string;

  @Column({ type: 'json' })
  matched!: unknown;

  @Column({ type: 'json' })
  reasons!: unknown;

  @Column({ type: 'json' })
  facts!: unknown;

  @Column({ type: 'json' })
  event!: unknown;

  @Column({ name: 'review_outcome', type: 'text', nullable: true })
  reviewOutcome!: string | null;

  @Column({ name: 'review_note', type: 'text', nullable: true })
  reviewNote!: string | null;

  @Column({ name: 'reviewed_at', type: 'timestamptz', nullable: true })
  reviewedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** A rule switched off for one user until a time. */
@Entity({ name: 'fraud_snoozes' })
export class FraudSnoozeEntity {
  @PrimaryColumn({ name: 'user_id', type: 'text' })
  userId!: string;

  @PrimaryColumn({ name: 'rule_id', type: 'text' })
  ruleId!: string;

  @Column({ type: 'timestamptz' })
  until!: Date;

  @Column({ type: 'text', nullable: true })
  note!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

export const FRAUD_ENTITIES = [FraudListEntity, FraudListItemEntity, FraudDecisionEntity, FraudSnoozeEntity];
