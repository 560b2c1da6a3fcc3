import { Injectable, Logger } from '@nestjs/common';

/** A user written through the API: attributes replaced (`put`), merged (`patch`) or erased (`delete`). */
export interface UserChange {
  kind: 'put' | 'patch' | 'delete';
  userId: string;
}

export type UserChangeListener = (change: UserChange) => Promise<void>;

/**
 * Where other domains hear of user writes made through `/v1/users/:id` (growth re-evaluates the
 * segments that read attributes, and erases its data with the user). Listeners run after a
 * successful write and before the response, so a client reading its segments next sees the
 * result; a listener that fails is logged and never turns the write into an error. Attribute
 * changes made by actions inside the pipeline are not announced here: the stages see those.
 */
@Injectable()
export class UserChanges {
  private readonly logger = new Logger('Users');
  private readonly listeners: UserChangeListener[] = [];

  listen(listener: UserChangeListener): void {
    this.listeners.push(listener);
  }

  async announce(change: UserChange): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(change);
      } catch (err) {
        this.logger.error(`a listener of ${change.kind} user ${change.userId} failed: ${(err as Error).message}`);
      }
    }
  }
}
