import { loadEnv } from '../../config/env.js';
import { installEmbeddingsServer, startEmbeddingsServer, type EmbeddingsServer } from '../../infra/embeddings-server.js';

/** The real OpenAI-compatible embeddings server (infra/embeddings-server.ts) for one test file, installed into the cache the first time. */
export async function startTestEmbeddingsServer(): Promise<EmbeddingsServer> {
  const log = (m: string) => process.stderr.write(`[embeddings-server] ${m}\n`);
  const python = await installEmbeddingsServer({ cacheDir: loadEnv().LAKESYNC_CACHE_DIR, log });
  return startEmbeddingsServer({ python, log });
}
