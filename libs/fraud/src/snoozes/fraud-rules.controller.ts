import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { NotFoundError, RequireScope, ValidationError } from '@arbiter/platform';
import { USER_ID, USER_ID_FORMAT } from '@arbiter/facts';
import { RuleSetService } from '@arbiter/ruleset';
import { FRAUD_DOMAIN } from '../fraud.constants';
import { BodyCheck } from '../fraud.validation';
import { FraudSnoozeRepository } from './fraud-snooze.repository';

/**
 * Snoozes: a fraud rule switched off for one user until a time (a false positive a reviewer has
 * cleared). While snoozed the rule still evaluates, but its match neither scores nor decides nor
 * runs actions for that user, and the decision's reasons say so.
 */
@ApiTags('fraud')
@ApiBearerAuth()
@Controller('v1/fraud/rules')
@RequireScope('admin')
export class FraudRulesController {
  constructor(
    private readonly rules: RuleSetService,
    private readonly snoozes: FraudSnoozeRepository,
  ) {}

  @Post(':id/snooze')
  @HttpCode(200)
  @ApiOperation({ summary: 'Snooze a fraud rule for one user: {user_id, until, note?}' })
  async snooze(@Param('id') id: string, @Body() body: unknown) {
    const c = new BodyCheck(body).only('user_id', 'until', 'note');
    const userId = c.string('user_id', { required: true, max: 128 });
    if (userId !== undefined && !USER_ID.test(userId)) c.problems.push({ path: 'user_id', message: `must be a user id: ${USER_ID_FORMAT}` });
    const until = c.timestamp('until');
    const note = c.string('note', { max: 1000 }) ?? null;
    if (until && until.getTime() <= Date.now()) c.problems.push({ path: 'until', message: 'must be in the future' });
    c.done();
    this.fraudRule(id);
    await this.snoozes.put(id, userId!, until!, note);
    return { rule_id: id, user_id: userId, until: until!.toISOString(), note };
  }

  @Delete(':id/snooze')
  @HttpCode(204)
  @ApiOperation({ summary: 'End a snooze now: {user_id}' })
  async unsnooze(@Param('id') id: string, @Body() body: unknown) {
    const c = new BodyCheck(body ?? {}).only('user_id');
    // Any id a snooze may have been made for, before user ids had one format too.
    const userId = c.string('user_id', { required: true, max: 200 });
    c.done();
    if (!(await this.snoozes.remove(id, userId!))) throw new NotFoundError(`snooze of rule "${id}" for user`, userId);
  }

  private fraudRule(id: string): void {
    const rule = this.rules.current().get(id);
    if (!rule) throw new NotFoundError('rule', id);
    if (rule.domain !== FRAUD_DOMAIN) throw new ValidationError([{ path: 'id', message: `rule "${id}" is a ${rule.domain} rule; only fraud rules can be snoozed` }]);
  }
}
