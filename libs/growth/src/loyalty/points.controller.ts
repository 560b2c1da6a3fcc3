import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { checkUserId } from '@arbiter/facts';
import { RequireScope } from '@arbiter/platform';
import { paging } from '../paging';
import { PointsLedgerService } from './points-ledger.service';

/** A user's loyalty points: the balance (live entries) and the ledger. */
@ApiTags('growth')
@Controller('v1/growth/users')
export class PointsController {
  constructor(private readonly ledger: PointsLedgerService) {}

  @Get(':id/points')
  @RequireScope('read')
  @ApiOperation({ summary: "The user's points balance: the sum of entries not expired" })
  async balance(@Param('id') id: string): Promise<{ user_id: string; balance: number }> {
    return { user_id: id, balance: await this.ledger.balance(checkUserId(id)) };
  }

  @Get(':id/points/entries')
  @RequireScope('read')
  @ApiOperation({ summary: "The user's ledger entries, newest first (?limit=50&offset=0)" })
  async entries(@Param('id') id: string, @Query() query: Record<string, unknown>) {
    const page = paging(query);
    return { user_id: id, ...page, ...(await this.ledger.entries(checkUserId(id), page.limit, page.offset)) };
  }
}
