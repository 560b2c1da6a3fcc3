const { startBenchApi, transaction } = require('/work/main/dist/bench/http.bench.js');
const { load } = require('/work/main/dist/bench/support.js');
const { Client } = require('pg');
(async () => {
  const api = await startBenchApi('/work/main/dist/apps/api/src/main.js');
  try {
    await load(api.url, { body: transaction, seconds: 5, headers: api.headers });
    const c = new Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${api.database}` });
    await c.connect();
    const dec = (await c.query(`SELECT json_agg(json_build_object('id', gen_random_uuid(), 'event_id', event_id || 'x', 'event_type', event_type, 'user_id', user_id, 'score', score::text, 'outcome', outcome, 'matched', matched, 'reasons', reasons, 'facts', facts, 'event', event))::text AS j FROM (SELECT * FROM fraud_decisions ORDER BY seq DESC LIMIT 25) d`)).rows[0].j;
    const out = (await c.query(`SELECT json_agg(json_build_object('event_id', event_id || 'x', 'batch_id', null, 'result', result))::text AS j FROM (SELECT * FROM event_outcomes ORDER BY updated_at DESC LIMIT 25) d`)).rows[0].j;
    console.log('sizes', dec.length, out.length);
    const dsql = `INSERT INTO fraud_decisions (id, event_id, event_type, user_id, is_check, score, outcome, matched, reasons, facts, event)
     SELECT id::uuid, event_id, event_type, user_id, false, score::float8, outcome, matched, reasons, facts, event
     FROM json_to_recordset($1::json)
       AS d(id text, event_id text, event_type text, user_id text, score text, outcome text, matched json, reasons json, facts json, event json)
     ON CONFLICT (event_id) WHERE NOT is_check DO NOTHING`;
    const osql = `INSERT INTO event_outcomes (event_id, status, batch_id, result)
       SELECT event_id, 'done', batch_id::uuid, result FROM json_to_recordset($1::json) AS o(event_id text, batch_id text, result json)
       ON CONFLICT (event_id) DO UPDATE SET status = 'done', result = EXCLUDED.result, error = NULL, updated_at = now()
       WHERE event_outcomes.status <> 'done'`;
    for (const [name, sql, p] of [['decisions', dsql, dec], ['outcomes', osql, out]]) {
      await c.query('BEGIN');
      const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS, WAL) ${sql}`, [p]);
      console.log(name + '\n' + r.rows.map((x) => x['QUERY PLAN']).join('\n'));
      await c.query('ROLLBACK');
    }
    // timing loop without explain
    for (const [name, sql, p] of [['decisions', dsql, dec], ['outcomes', osql, out]]) {
      let t = 0;
      for (let i = 0; i < 50; i++) { await c.query('BEGIN'); const s = process.hrtime.bigint(); await c.query(sql, [p]); t += Number(process.hrtime.bigint() - s); await c.query('ROLLBACK'); }
      console.log(name, (t / 50 / 1e6).toFixed(2), 'ms per statement of 25');
    }
    console.log((await c.query(`select relname, pg_size_pretty(pg_relation_size(oid)) from pg_class where relname like 'fraud_decisions%' or relname like 'event_outcomes%' or relname like 'events%'`)).rows);
    await c.end();
  } finally { await api.stop(); }
})();
