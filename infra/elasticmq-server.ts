/**
 * ElasticMQ, the SQS-compatible server the `sqs` change notifications are
 * tested against: the pinned release and its dependencies resolved from
 * Maven Central with `mvn dependency:copy-dependencies` into a versioned
 * directory under the cache, once, race-safely (infra/install-dir.ts); run
 * with the machine's Java (17+) and started on loopback by the tests like
 * MinIO, one server per test file.
 */
import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe } from './binaries.js';
import { installDirOnce } from './install-dir.js';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

const run = promisify(execFile);

/** Bumping it is a reviewed change. */
const ELASTICMQ_VERSION = '1.7.1';
const SERVER_JAR = `elasticmq-server_2.13-${ELASTICMQ_VERSION}.jar`;

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lakesync</groupId><artifactId>elasticmq-install</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.elasticmq</groupId><artifactId>elasticmq-server_2.13</artifactId><version>${ELASTICMQ_VERSION}</version></dependency>
  </dependencies>
</project>
`;

/** The directory whose `lib/` holds ElasticMQ's jars. */
export async function installElasticMq(opts: { cacheDir: string; log: (message: string) => void }): Promise<string> {
  const dir = join(opts.cacheDir, `elasticmq-${ELASTICMQ_VERSION}`);
  const ready = (d: string) =>
    access(join(d, 'lib', SERVER_JAR)).then(
      () => true,
      () => false,
    );
  await installDirOnce(dir, ready, async (scratch) => {
    opts.log(`elasticmq: resolving ${ELASTICMQ_VERSION} and its dependencies with Maven (a minute, once)`);
    const started = performance.now();
    const build = await mkdtemp(join(tmpdir(), 'lakesync-elasticmq-pom-'));
    try {
      await writeFile(join(build, 'pom.xml'), POM);
      await run(
        'mvn',
        [
          '-B',
          '-q',
          // Maven's own downloads (plugins, the jars) cached with the other tools, kept out of $HOME's.
          `-Dmaven.repo.local=${join(opts.cacheDir, 'maven')}`,
          'dependency:copy-dependencies',
          `-DoutputDirectory=${join(scratch, 'lib')}`,
          '-DincludeScope=runtime',
        ],
        { cwd: build, maxBuffer: 64 << 20 },
      );
    } catch (err) {
      throw new Error(`could not resolve ElasticMQ with Maven (it needs mvn and Java 17+ on PATH): ${describe(err)}`);
    } finally {
      await rm(build, { recursive: true, force: true });
    }
    opts.log(`elasticmq: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  return dir;
}

export interface ElasticMqServer {
  /** The SQS API's base URL, `http://127.0.0.1:<port>`; queue URLs are `<endpoint>/000000000000/<name>`. */
  endpoint: string;
  stop(): Promise<void>;
}

/** A server on loopback over plain HTTP, keeping its queues in memory (a test creates them through the API). */
export function startElasticMq(opts: { dir: string; log: (m: string) => void }): Promise<ElasticMqServer> {
  return withFreshPorts(async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const confDir = await mkdtemp(join(tmpdir(), 'lakesync-elasticmq-'));
    const conf = join(confDir, 'elasticmq.conf');
    await writeFile(
      conf,
      [
        'include classpath("application.conf")',
        `node-address { protocol = "http", host = "127.0.0.1", port = ${port}, context-path = "" }`,
        `rest-sqs { enabled = true, bind-port = ${port}, bind-hostname = "127.0.0.1", sqs-limits = strict }`,
        'rest-stats { enabled = false }',
        'aws { region = "us-east-1", accountId = "000000000000" }',
        '',
      ].join('\n'),
    );
    const child = spawn(
      'java',
      // A small heap and the client compiler: it serves a few test queues on a shared 2-core machine.
      ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dconfig.file=${conf}`, '-cp', join(opts.dir, 'lib', '*'), 'org.elasticmq.server.Main'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    tetherToThisProcess(child.pid!, 'TERM');
    let output = '';
    const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const cleanUp = () => rm(confDir, { recursive: true, force: true });
    await waitUntil(
      'elasticmq',
      async () => {
        if (child.exitCode !== null) throw new GaveUp(`exited with ${child.exitCode}: ${output}`);
        const res = await fetch(`${endpoint}/?Action=ListQueues`);
        if (!res.ok) throw new Error(`ListQueues answered ${res.status}`);
      },
      90_000,
    ).catch(async (err) => {
      await stopProcess(child, 'SIGKILL');
      await cleanUp();
      throw err;
    });
    opts.log(`elasticmq: SQS server on ${endpoint}`);
    return {
      endpoint,
      stop: async () => {
        await stopProcess(child, 'SIGTERM');
        await cleanUp();
      },
    };
  });
}
