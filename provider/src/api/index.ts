/**
 * The provider's HTTPS API.
 */
import { createServer, type Server } from 'node:https';
import type { ProviderContext } from '../context.js';
import { addAccountRoutes } from './accounts.js';
import { addBootstrapRoutes } from './bootstrap.js';
import { Router } from './http.js';
import { addKeyRoutes } from './keys.js';
import { addSyncRoutes } from './sync.js';

export { normaliseAddress } from './keys.js';
export { checkLogin } from './accounts.js';
export { MAX_DOC_BYTES, MAX_PUSH_ROWS } from './sync.js';

export function createApiRouter(ctx: ProviderContext): Router {
  // Only method, path and the error: never query strings, headers or bodies (tokens, keys).
  const router = new Router((err, method, path) =>
    ctx.log.error('api_internal_error', {
      method,
      path,
      error: err instanceof Error ? err.message : String(err),
    }),
  );
  addBootstrapRoutes(router, ctx);
  addAccountRoutes(router, ctx);
  addKeyRoutes(router, ctx);
  addSyncRoutes(router, ctx);
  return router;
}

export async function startApiServer(
  ctx: ProviderContext,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer(
    { cert: ctx.ca.serverCertPem, key: ctx.ca.serverKeyPem, minVersion: 'TLSv1.2' },
    createApiRouter(ctx).listener(),
  );
  server.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
}
