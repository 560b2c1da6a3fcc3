import { Injectable } from '@nestjs/common';
import { ArbiterError } from '@arbiter/platform';
import { UserService } from '@arbiter/facts';
import type { ActionContext, ActionHandler } from '../action.interfaces';
import { Action } from '../decorators/action.decorator';
import { PermanentActionError } from '../errors/action.error';

export interface SetUserAttributeParams {
  attribute: string;
  value: unknown;
}

/**
 * Inline: sets one attribute of the event's user (creating the user when unknown), checked
 * against the attribute schema of `facts.yaml` like any API write. `null` removes the attribute.
 * An undeclared attribute or a value of the wrong type fails with `INVALID_ATTRIBUTE`. On an
 * event's first run the write lands with the event's outcome (`ActionContext.carry`).
 */
@Injectable()
@Action({
  name: 'set_user_attribute',
  mode: 'inline',
  description: "Set one of the user's attributes (declared in facts.yaml)",
  params: { attribute: { type: 'string', required: true }, value: { type: 'any', required: true } },
})
export class SetUserAttributeAction implements ActionHandler<SetUserAttributeParams> {
  constructor(private readonly users: UserService) {}

  async execute(params: SetUserAttributeParams, context: ActionContext) {
    const userId = context.event.user_id;
    const change = { [params.attribute]: params.value ?? null };
    try {
      // One merging statement: concurrent writers of other attributes never undo each other. On an
      // event's first run, the statement that stores the outcome makes it, with this action's entry.
      if (context.carry) context.carry(this.users.carriedPatch(userId, change));
      else await this.users.patch(userId, change, { createIfMissing: true });
    } catch (err) {
      if (err instanceof ArbiterError && err.status === 400) throw new PermanentActionError('INVALID_ATTRIBUTE', err.message);
      throw err;
    }
    return { user_id: userId, attribute: params.attribute, value: params.value ?? null };
  }
}
