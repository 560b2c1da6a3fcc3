import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { checkUserId } from '@arbiter/facts';
import { RequireScope, ValidationError } from '@arbiter/platform';
import { paging } from '../paging';
import { GrowthJobsProcessor } from './growth-jobs.processor';
import { MembershipService } from './membership.service';
import { SegmentService, type SegmentView } from './segment.service';

/** Segments: rule-defined sets of users, kept current as events and user updates arrive. */
@ApiTags('growth')
@Controller('v1/growth/segments')
export class SegmentsController {
  constructor(
    private readonly segments: SegmentService,
    private readonly membership: MembershipService,
    private readonly jobs: GrowthJobsProcessor,
  ) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create a segment {id, when, description?}; every known user is evaluated in the background (422 when the condition does not compile)' })
  async create(@Body() body: unknown): Promise<SegmentView> {
    const view = await this.segments.create(body);
    await this.jobs.startBackfill(view.id, view.revision);
    return this.segments.get(view.id);
  }

  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: 'Every segment with its backfill progress' })
  async list(): Promise<{ items: SegmentView[] }> {
    return { items: await this.segments.list() };
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({ summary: 'A segment, what it depends on, and its backfill progress (percent, users done)' })
  get(@Param('id') id: string): Promise<SegmentView> {
    return this.segments.get(id);
  }

  @Patch(':id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Change {when?, description?}; a new condition is a new revision, backfilled in the background' })
  async update(@Param('id') id: string, @Body() body: unknown): Promise<SegmentView> {
    const { view, conditionChanged } = await this.segments.update(id, body);
    if (!conditionChanged) return view;
    await this.jobs.startBackfill(view.id, view.revision);
    return this.segments.get(view.id);
  }

  @Delete(':id')
  @RequireScope('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete a segment and its membership history' })
  async remove(@Param('id') id: string): Promise<{ id: string; deleted: true }> {
    await this.segments.remove(id);
    return { id, deleted: true };
  }

  @Get(':id/members')
  @RequireScope('read')
  @ApiOperation({ summary: 'Current members, by user id (?limit=50&offset=0)' })
  async members(@Param('id') id: string, @Query() query: Record<string, unknown>) {
    const page = paging(query);
    await this.segments.get(id);
    return { segment: id, ...page, ...(await this.membership.members(id, page.limit, page.offset)) };
  }
}

/** `GET /v1/users/:id/segments`: the user's segments (with `?history=true`, past stays too). */
@ApiTags('growth')
@Controller('v1/users')
export class UserSegmentsController {
  constructor(private readonly membership: MembershipService) {}

  @Get(':id/segments')
  @RequireScope('read')
  @ApiOperation({ summary: "The user's segments now (?history=true adds past stays with exited_at)" })
  async segments(@Param('id') id: string, @Query('history') history: unknown) {
    checkUserId(id);
    if (history !== undefined && history !== 'true' && history !== 'false') throw new ValidationError([{ path: 'history', message: 'must be true or false' }]);
    return { user_id: id, segments: await this.membership.forUser(id, history === 'true') };
  }
}
