import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { NotFoundError, RequireScope } from '@arbiter/platform';
import { BodyCheck, checkName, pageSize } from '../fraud.validation';
import { FraudListRepository } from './fraud-list.repository';

const MAX_BULK = 10_000;

/**
 * Named allow and block lists (user ids, emails, IPs, device ids, card BINs...). Rules read them
 * with `list_contains("name", value)`; an allow list holding a user's id (or email) approves that
 * user's events whatever the fraud rules say.
 */
@ApiTags('fraud')
@ApiBearerAuth()
@Controller('v1/fraud/lists')
export class FraudListsController {
  constructor(private readonly lists: FraudListRepository) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: 'Every list with its kind and size' })
  async all() {
    return { lists: await this.lists.all() };
  }

  @Put(':name')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create or update a list: {kind: allow|block, description?, items?} (items replace the values)' })
  async put(@Param('name') name: string, @Body() body: unknown) {
    checkName(name);
    const c = new BodyCheck(body).only('kind', 'description', 'items');
    const kind = c.string('kind', { required: true, values: ['allow', 'block'] }) as 'allow' | 'block' | undefined;
    const description = c.string('description', { max: 1000 }) ?? null;
    const items = c.values('items', MAX_BULK);
    c.done();
    const { created } = await this.lists.put(name, kind!, description, items ? [...new Set(items)] : undefined);
    return { ...(await this.lists.get(name))!, created };
  }

  @Get(':name')
  @RequireScope('read')
  @ApiOperation({ summary: 'A list and a page of its values (sorted; `after` = last value of the previous page)' })
  async get(@Param('name') name: string, @Query('limit') limit?: string, @Query('after') after?: string) {
    checkName(name);
    const list = await this.lists.get(name);
    if (!list) throw new NotFoundError('fraud list', name);
    const n = pageSize(limit, 100, 1000);
    const items = await this.lists.items(name, n, after || undefined);
    return { ...list, items, next_after: items.length === n ? items[items.length - 1] : null };
  }

  @Delete(':name')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Delete a list and its values' })
  async remove(@Param('name') name: string) {
    checkName(name);
    if (!(await this.lists.remove(name))) throw new NotFoundError('fraud list', name);
  }

  @Post(':name/items')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Add and remove values in bulk: {add?: [...], remove?: [...]}' })
  async change(@Param('name') name: string, @Body() body: unknown) {
    checkName(name);
    const c = new BodyCheck(body).only('add', 'remove');
    const add = c.values('add', MAX_BULK) ?? [];
    const remove = c.values('remove', MAX_BULK) ?? [];
    if (!add.length && !remove.length && !c.problems.length) c.problems.push({ path: 'add', message: 'give values to add or remove' });
    c.done();
    if (!(await this.lists.get(name))) throw new NotFoundError('fraud list', name);
    const changed = await this.lists.change(name, [...new Set(add)], [...new Set(remove)]);
    return { ...changed, size: (await this.lists.get(name))!.size };
  }
}
