import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig, NotFoundError, RequireScope, ValidationError, type FieldProblem } from '@arbiter/platform';
import { CatalogueService, USER_ID, USER_ID_FORMAT } from '@arbiter/facts';
import { normalizeEvent, payloadShapeProblems } from '@arbiter/ingestion';
import { parseTimestamp } from '@arbiter/rules';
import { OUTCOMES } from '../fraud.constants';
import { FraudService } from '../fraud.service';
import { BodyCheck, pageSize } from '../fraud.validation';
import { FraudDecisionRepository } from './fraud-decision.repository';

/**
 * Stored fraud decisions (search, read, record a reviewer's verdict) and the fraud stage alone:
 * `POST /v1/fraud/check` assesses an event without running the pipeline, stores the decision
 * flagged as a check and returns it. A check appends nothing to the event log and runs no action.
 */
@ApiTags('fraud')
@ApiBearerAuth()
@Controller('v1/fraud')
export class FraudDecisionsController {
  constructor(
    private readonly fraud: FraudService,
    private readonly decisions: FraudDecisionRepository,
    private readonly catalogue: CatalogueService,
    private readonly config: AppConfig,
  ) {}

  @Post('check')
  @HttpCode(200)
  @RequireScope('ingest')
  @ApiOperation({ summary: 'Assess one event with the fraud rules only: {event: {type, user_id, payload, id?}}' })
  async check(@Body() body: unknown) {
    const c = new BodyCheck(body).only('event');
    const raw = c.obj.event;
    const problems: FieldProblem[] = [...c.problems];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) problems.push({ path: 'event', message: 'is required (an object with type, user_id and payload)' });
    else {
      const e = raw as Record<string, unknown>;
      const allowed = ['id', 'type', 'user_id', 'source', 'session_id', 'occurred_at', 'payload'];
      for (const k of Object.keys(e)) if (!allowed.includes(k)) problems.push({ path: `event.${k}`, message: `unknown field (expected ${allowed.join(', ')})` });
      if (typeof e.type !== 'string' || e.type === '' || e.type.length > 200) problems.push({ path: 'event.type', message: 'is required (a string of 1-200 characters)' });
      if (typeof e.user_id !== 'string' || !USER_ID.test(e.user_id)) problems.push({ path: 'event.user_id', message: `is required: a user id, ${USER_ID_FORMAT}` });
      for (const k of ['id', 'source', 'session_id']) if (e[k] !== undefined && (typeof e[k] !== 'string' || (e[k] as string).length > 200)) problems.push({ path: `event.${k}`, message: 'must be a string of at most 200 characters' });
      if (e.occurred_at !== undefined && (typeof e.occurred_at !== 'string' || parseTimestamp(e.occurred_at) === undefined)) problems.push({ path: 'event.occurred_at', message: 'must be an ISO-8601 timestamp' });
      if (e.payload !== undefined && (typeof e.payload !== 'object' || e.payload === null || Array.isArray(e.payload))) problems.push({ path: 'event.payload', message: 'must be an object' });
    }
    if (problems.length) throw new ValidationError(problems);
    const event = normalizeEvent(raw as Record<string, unknown>);
    const payloadProblems = payloadShapeProblems(event.payload, this.config.payloadMaxDepth, 'event.payload');
    if (!payloadProblems.length) payloadProblems.push(...this.catalogue.validatePayload(event.type, event.payload, 'event.payload'));
    if (payloadProblems.length) throw new ValidationError(payloadProblems);
    const decision = await this.fraud.assess(event, { store: true, check: true });
    return { ...decision, event_id: event.id };
  }

  @Get('decisions')
  @RequireScope('read')
  @ApiOperation({ summary: 'Decisions, newest first: ?user_id=&outcome=&since=&limit=&cursor=' })
  async search(@Query('user_id') userId?: string, @Query('outcome') outcome?: string, @Query('since') since?: string, @Query('limit') limit?: string, @Query('cursor') cursor?: string) {
    const problems: FieldProblem[] = [];
    if (outcome !== undefined && !(OUTCOMES as readonly string[]).includes(outcome)) problems.push({ path: 'outcome', message: `must be one of ${OUTCOMES.join(', ')}` });
    let sinceDate: Date | undefined;
    if (since !== undefined) {
      const ms = parseTimestamp(since);
      if (ms === undefined) problems.push({ path: 'since', message: 'must be an ISO-8601 timestamp' });
      else sinceDate = new Date(ms);
    }
    if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) problems.push({ path: 'cursor', message: 'must be the next_cursor of a previous page' });
    if (problems.length) throw new ValidationError(problems);
    const page = await this.decisions.search({ userId: userId || undefined, outcome, since: sinceDate, before: cursor, limit: pageSize(limit, 50, 500) });
    return { items: page.items, next_cursor: page.next ?? null };
  }

  @Get('decisions/:id')
  @RequireScope('read')
  @ApiOperation({ summary: 'One decision: event, user, score, outcome, matched rules with their scores, facts read, review' })
  async get(@Param('id') id: string) {
    const d = await this.decisions.find(id);
    if (!d) throw new NotFoundError('fraud decision', id);
    return d;
  }

  @Post('decisions/:id/review')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({ summary: "Record a reviewer's verdict: {outcome, note?} (a later review replaces it)" })
  async review(@Param('id') id: string, @Body() body: unknown) {
    const c = new BodyCheck(body).only('outcome', 'note');
    const outcome = c.string('outcome', { required: true, values: OUTCOMES });
    const note = c.string('note', { max: 4000 }) ?? null;
    c.done();
    if (!(await this.decisions.find(id))) throw new NotFoundError('fraud decision', id);
    await this.decisions.review(id, outcome!, note);
    return this.decisions.find(id);
  }
}
