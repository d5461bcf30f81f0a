/** Every command the server knows, by name (the UID prefix is handled by the session). */
import { append } from './append.js';
import { authenticate } from './authenticate.js';
import { capability } from './capability.js';
import { check } from './check.js';
import { close, unselect } from './close.js';
import { copy, move } from './copy.js';
import { create } from './create.js';
import { deleteCommand } from './delete.js';
import { enable } from './enable.js';
import { expunge } from './expunge.js';
import { fetch } from './fetch.js';
import { id } from './id.js';
import { idle } from './idle.js';
import { list, lsub } from './list.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { namespace } from './namespace.js';
import { noop } from './noop.js';
import { rename } from './rename.js';
import { search } from './search.js';
import { sort } from './sort.js';
import { examine, select } from './select.js';
import { status } from './status.js';
import { store } from './store.js';
import { subscribe, unsubscribe } from './subscribe.js';
import { thread } from './thread.js';
import type { Command } from './types.js';

export const COMMANDS: Record<string, Command> = {
  APPEND: append,
  AUTHENTICATE: authenticate,
  CAPABILITY: capability,
  CHECK: check,
  CLOSE: close,
  COPY: copy,
  CREATE: create,
  DELETE: deleteCommand,
  ENABLE: enable,
  EXAMINE: examine,
  EXPUNGE: expunge,
  FETCH: fetch,
  ID: id,
  IDLE: idle,
  LIST: list,
  LOGIN: login,
  LOGOUT: logout,
  LSUB: lsub,
  MOVE: move,
  NAMESPACE: namespace,
  NOOP: noop,
  RENAME: rename,
  SEARCH: search,
  SELECT: select,
  SORT: sort,
  STATUS: status,
  STORE: store,
  SUBSCRIBE: subscribe,
  THREAD: thread,
  UNSELECT: unselect,
  UNSUBSCRIBE: unsubscribe,
};
