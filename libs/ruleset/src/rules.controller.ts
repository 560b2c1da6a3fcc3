import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '@arbiter/platform';
import { RuleAdminService } from './rule-admin.service';
import { RuleSetService } from './rule-set.service';
import { SimulateService } from './simulate.service';

/**
 * The rule admin API (scope `admin`): list and read the rules in force, write database rules
 * (compiled first: 422 with every error, nothing stored), versions and rollback, validate a
 * document, reload, status, and a side-effect-free simulation of an event.
 */
@Controller('v1/rules')
@RequireScope('admin')
export class RulesController {
  constructor(
    private readonly admin: RuleAdminService,
    private readonly rules: RuleSetService,
    private readonly simulator: SimulateService,
  ) {}

  @Get()
  list() {
    return this.admin.list();
  }

  /** The loaded version (and when), counts per domain and source, overrides, the last reload error. */
  @Get('status')
  status() {
    return this.rules.status();
  }

  @Post('validate')
  @HttpCode(200)
  validate(@Body() body: unknown) {
    return this.admin.validate(body);
  }

  @Post('reload')
  @HttpCode(200)
  reload() {
    return this.admin.reload();
  }

  @Post('simulate')
  @HttpCode(200)
  simulate(@Body() body: unknown) {
    return this.simulator.simulate(body);
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.admin.get(id);
  }

  /** Creates (201) or replaces (200) a database rule as a new version. */
  @Put(':id')
  async put(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const result = await this.admin.put(id, body);
    void reply.status(result.created ? 201 : 200);
    return result;
  }

  @Delete(':id')
  delete(@Param('id') id: string) {
    return this.admin.delete(id);
  }

  @Get(':id/versions')
  versions(@Param('id') id: string) {
    return this.admin.versions(id);
  }

  @Post(':id/rollback')
  @HttpCode(200)
  rollback(@Param('id') id: string, @Body() body: unknown) {
    return this.admin.rollback(id, body);
  }
}
