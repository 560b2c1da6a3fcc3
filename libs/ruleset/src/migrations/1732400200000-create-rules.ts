import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateRules1732400200000 implements MigrationInterface {
  name = 'CreateRules1732400200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rule_versions (
        rule_id text NOT NULL,
        version int NOT NULL,
        domain text NOT NULL,
        on_types jsonb,
        priority double precision,
        enabled boolean,
        description text,
        then_actions jsonb,
        extra jsonb NOT NULL DEFAULT '{}'::jsonb,
        reason text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (rule_id, version)
      )`);
    await q.query(`
      CREATE TABLE rule_nodes (
        rule_id text NOT NULL,
        version int NOT NULL,
        node_id int NOT NULL,
        parent_id int,
        position int NOT NULL,
        kind text NOT NULL,
        fact text,
        operator text,
        value jsonb,
        expression text,
        params jsonb,
        PRIMARY KEY (rule_id, version, node_id),
        FOREIGN KEY (rule_id, version) REFERENCES rule_versions (rule_id, version) ON DELETE CASCADE
      )`);
    // Operators ask "which rules read this fact?"; the flattened rows answer with an index scan.
    await q.query(`CREATE INDEX rule_nodes_fact ON rule_nodes (fact) WHERE fact IS NOT NULL`);
    await q.query(`
      CREATE TABLE rules (
        id text PRIMARY KEY,
        version int NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (id, version) REFERENCES rule_versions (rule_id, version)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS rules`);
    await q.query(`DROP TABLE IF EXISTS rule_nodes`);
    await q.query(`DROP TABLE IF EXISTS rule_versions`);
  }
}
