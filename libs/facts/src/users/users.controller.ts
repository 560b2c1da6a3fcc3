import { Body, Controller, Delete, Get, Param, Patch, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { NotFoundError, RequireScope, ValidationError } from '@arbiter/platform';
import { setSessionUser } from '@arbiter/session';
import { FactsService, type FactValues } from '../facts.service';
import { UserChanges } from './user-changes';
import { checkUserId, UserService, type UserView } from './user.service';

/** `{ attributes: {...} }`: the only body the write endpoints accept. */
function attributesOf(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError([{ path: 'body', message: 'must be an object like {"attributes": {...}}' }]);
  const extra = Object.keys(body).filter((k) => k !== 'attributes');
  if (extra.length) throw new ValidationError(extra.map((k) => ({ path: k, message: 'unknown field (the body is {"attributes": {...}})' })));
  if (!Object.hasOwn(body, 'attributes')) throw new ValidationError([{ path: 'attributes', message: 'is required' }]);
  return (body as { attributes: unknown }).attributes;
}

function userId(id: string): string {
  checkUserId(id);
  setSessionUser(id);
  return id;
}

/** Users and their typed attributes; `facts` evaluates named facts now (for debugging rules). */
@ApiTags('users')
@Controller('v1/users')
export class UsersController {
  constructor(
    private readonly users: UserService,
    private readonly facts: FactsService,
    private readonly changes: UserChanges,
  ) {}

  @Put(':id')
  @RequireScope('ingest')
  @ApiOperation({ summary: 'Create the user or replace all of their attributes (201 when created)' })
  async put(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) reply: { status(code: number): unknown }): Promise<UserView> {
    const { user, created } = await this.users.put(userId(id), attributesOf(body));
    await this.changes.announce({ kind: 'put', userId: id });
    reply.status(created ? 201 : 200);
    return user;
  }

  @Patch(':id')
  @RequireScope('ingest')
  @ApiOperation({ summary: 'Merge attributes into an existing user (null removes one)' })
  async patch(@Param('id') id: string, @Body() body: unknown): Promise<UserView> {
    const user = await this.users.patch(userId(id), attributesOf(body));
    await this.changes.announce({ kind: 'patch', userId: id });
    return user;
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({ summary: 'A user and their attributes' })
  async get(@Param('id') id: string): Promise<UserView> {
    const user = await this.users.get(userId(id));
    if (!user) throw new NotFoundError('user', id);
    return user;
  }

  @Delete(':id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Erase the user and all of their events (the right to be forgotten)' })
  async delete(@Param('id') id: string): Promise<{ id: string; deleted: { user: boolean; events: number } }> {
    const deleted = await this.users.delete(userId(id));
    await this.changes.announce({ kind: 'delete', userId: id });
    return { id, deleted };
  }

  @Get(':id/facts')
  @RequireScope('read')
  @ApiOperation({ summary: 'Evaluate named facts for the user now: ?names=first_seen_at,topup_count_30d,events_count(type:"topup",within:7d),user.country' })
  values(@Param('id') id: string, @Query('names') names: unknown): Promise<FactValues> {
    if (typeof names !== 'string') throw new ValidationError([{ path: 'names', message: 'give the facts as ?names=a,b (once)' }]);
    return this.facts.evaluateNamed(userId(id), names);
  }
}
