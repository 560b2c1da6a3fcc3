import 'reflect-metadata';
import { Body, Controller, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import { Coalescer } from '../libs/platform/src/store/coalescer';

/**
 * The baselines of the HTTP benchmark: bare Nest 12 on Fastify, parsing and echoing the body
 * (`POST /echo`); and, when DATABASE_URL is set, the same echo after storing the body durably
 * (`POST /stored`): one row per request in a table with only its primary key, inserted by one
 * multi-row statement for every request that arrived in the same turn of the event loop (the
 * service's Coalescer), committed synchronously before the answer. That is the least a service
 * can do that answers only once what it accepted cannot be lost.
 */
const pool = process.env.DATABASE_URL ? new Pool({ connectionString: process.env.DATABASE_URL, max: 4 }) : undefined;
const stored = new Coalescer<{ id: string; body: unknown }, void>(async (rows) => {
  await pool!.query({
    name: 'store',
    text: `INSERT INTO stored_events (id, body) SELECT id, body FROM ROWS FROM (unnest($1::text[]), json_array_elements($2::json)) AS r(id, body)
           ON CONFLICT (id) DO NOTHING`,
    values: [rows.map((r) => r.id), JSON.stringify(rows.map((r) => r.body))],
  });
  return rows.map(() => undefined);
});

@Controller()
class EchoController {
  @Post('echo')
  echo(@Body() body: unknown) {
    return body;
  }

  @Post('stored')
  async store(@Body() body: { id: string }) {
    await stored.submit({ id: body.id, body });
    return body;
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

async function main() {
  await pool?.query('CREATE TABLE IF NOT EXISTS stored_events (id text PRIMARY KEY, body jsonb NOT NULL)');
  const app = await NestFactory.create<NestFastifyApplication>(EchoModule, new FastifyAdapter(), { logger: false });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/readyz', async () => ({ status: 'ok' }));
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  process.once('SIGTERM', () => void app.close().then(() => pool?.end()).then(() => process.exit(0)));
}

void main();
