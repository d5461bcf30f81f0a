import { AUTHENTICATED, ok, type Command } from './types.js';

function subscription(subscribed: boolean): Command {
  return {
    states: AUTHENTICATED,
    async run({ session, reader }) {
      reader.sp();
      const name = reader.mailbox();
      reader.end();
      await session.account.setSubscribed(name, subscribed);
      return ok(`${subscribed ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} completed`);
    },
  };
}

export const subscribe = subscription(true);
export const unsubscribe = subscription(false);
