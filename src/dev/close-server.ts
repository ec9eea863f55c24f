import type { Server } from 'node:http';

/**
 * Stops a stand-in: clears its pending timers, stops listening and ends every connection —
 * hanging streams and held-back answers included, which would otherwise keep close() waiting.
 */
export async function closeServer(server: Server, timers: Set<NodeJS.Timeout>): Promise<void> {
  for (const t of timers) clearTimeout(t);
  timers.clear();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
