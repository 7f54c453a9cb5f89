import type { Server } from 'node:http';

/**
 * Stops accepting connections and lets requests in flight finish, for at most
 * `graceMs`; then cuts what is left. True when nothing had to be cut.
 */
export async function closeGracefully(server: Server, graceMs: number): Promise<boolean> {
  let clean = true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A keep-alive connection between requests would hold close() open forever: drop each as it goes idle.
  server.closeIdleConnections();
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const cut = setTimeout(() => {
    clean = false;
    server.closeAllConnections();
  }, graceMs);
  try {
    await closed;
  } finally {
    clearInterval(idle);
    clearTimeout(cut);
  }
  return clean;
}
