import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '@arbiter/platform';
import { RuleAdminService } from './rule-admin.service';
import { RuleSetService } from './rule-set.service';
import { SimulateService } from './simulate.service';

/**
 * The rule admin API (scope `admin`): list and read the rules in force, write database rules
 * (compiled first: 422 with every error, nothing stored), versions and rollback, validate a
 * document, reload, status, and a side-effect-free simulation of an event.
 */
@ApiTags('rules')
@ApiBearerAuth()
@Controller('v1/rules')
@RequireScope('admin')
export class RulesController {
  constructor(
    private readonly admin: RuleAdminService,
    private readonly rules: RuleSetService,
    private readonly simulator: SimulateService,
  ) {}

  @ApiOperation({ summary: 'Every rule in force (files and database), with its source and version' })
  @Get()
  list() {
    return this.admin.list();
  }

  /** The loaded version (and when), counts per domain and source, overrides, the last reload error. */
  @ApiOperation({ summary: 'The loaded rule-set version and when, counts per domain and source, overrides, the last reload error' })
  @Get('status')
  status() {
    return this.rules.status();
  }

  @ApiOperation({ summary: 'Compile a rule document (JSON or YAML text) against the catalogue; stores nothing; 422 with every error' })
  @Post('validate')
  @HttpCode(200)
  validate(@Body() body: unknown) {
    return this.admin.validate(body);
  }

  @ApiOperation({ summary: 'Re-read the rule files and database rules and swap the compiled set atomically; a failure keeps the old set' })
  @Post('reload')
  @HttpCode(200)
  reload() {
    return this.admin.reload();
  }

  @ApiOperation({ summary: 'Run {event, rules?} through the loaded (or the given draft) rules of every domain with a full trace; no side effect' })
  @Post('simulate')
  @HttpCode(200)
  simulate(@Body() body: unknown) {
    return this.simulator.simulate(body);
  }

  @ApiOperation({ summary: 'One rule as written, with its source and version' })
  @Get(':id')
  get(@Param('id') id: string) {
    return this.admin.get(id);
  }

  /** Creates (201) or replaces (200) a database rule as a new version. */
  @ApiOperation({ summary: 'Create (201) or replace (200) a database rule as a new version; compiled first (422 with every error, nothing stored)' })
  @Put(':id')
  async put(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const result = await this.admin.put(id, body);
    void reply.status(result.created ? 201 : 200);
    return result;
  }

  @ApiOperation({ summary: 'Delete a database rule (a file rule of the same id comes back)' })
  @Delete(':id')
  delete(@Param('id') id: string) {
    return this.admin.delete(id);
  }

  @ApiOperation({ summary: 'Every stored version of a database rule' })
  @Get(':id/versions')
  versions(@Param('id') id: string) {
    return this.admin.versions(id);
  }

  @ApiOperation({ summary: 'Make {version} current again, as a new version' })
  @Post(':id/rollback')
  @HttpCode(200)
  rollback(@Param('id') id: string, @Body() body: unknown) {
    return this.admin.rollback(id, body);
  }
}
