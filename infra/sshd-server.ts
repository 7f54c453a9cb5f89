/**
 * OpenSSH's sshd from Debian's packages, for the SFTP source tests: fetched
 * with `apt-get download` (no root needed, only the package lists) and
 * unpacked with `dpkg -x` into a versioned directory under the cache, once,
 * race-safely (infra/install-dir.ts), with the libraries it needs that a
 * machine may lack (libwrap) and nss_wrapper.
 *
 * Each server runs on a fresh loopback port with its own sshd_config, host
 * key, authorized key and password. Its users come from its own passwd,
 * group and shadow files through nss_wrapper (LD_PRELOAD), so no system
 * account is made or changed: one test user, `lakesync`, with uid and gid
 * those of this process, and sshd's privilege-separation user. When this
 * process is root, sshd also needs /run/sshd (its compiled-in chroot for the
 * pre-auth child), which is made if missing, and the test user is uid 0, so
 * this server alone permits root logins. Only SFTP is served
 * (ForceCommand internal-sftp): no shell, no forwarding.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

const run = promisify(execFile);

/** Debian bookworm's packages, pinned so every machine runs the same sshd. */
const PACKAGES = ['openssh-server=1:9.2p1-2+deb12u10', 'libwrap0=7.6.q-32', 'libnss-wrapper=1.1.12-1'];
const DIR_NAME = `sshd-deb-${PACKAGES.map((p) => p.split('=')[1]!.replace(/[^A-Za-z0-9.+-]/g, '_')).join('-')}`;

export interface SshdTools {
  sshd: string;
  /** The directory holding libwrap.so.0 and libnss_wrapper.so. */
  libDir: string;
}

const toolsIn = (dir: string): SshdTools => ({ sshd: join(dir, 'usr', 'sbin', 'sshd'), libDir: join(dir, 'usr', 'lib', 'x86_64-linux-gnu') });

export async function installSshd(opts: { cacheDir: string; log: (m: string) => void }): Promise<SshdTools> {
  const dir = join(opts.cacheDir, DIR_NAME);
  const ready = async (d: string) =>
    (await isExecutable(toolsIn(d).sshd)) && (await readdir(toolsIn(d).libDir).catch((): string[] => [])).includes('libnss_wrapper.so');
  try {
    await installDirOnce(dir, ready, async (scratch) => {
      const started = performance.now();
      const download = join(scratch, 'deb');
      await mkdir(download, { recursive: true });
      await run('apt-get', ['download', '-q', ...PACKAGES], { cwd: download, maxBuffer: 16 << 20 });
      for (const deb of (await readdir(download)).filter((f) => f.endsWith('.deb'))) await run('dpkg', ['-x', join(download, deb), scratch]);
      await rm(download, { recursive: true, force: true });
      opts.log(`sshd: installed ${PACKAGES.join(' ')} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    });
  } catch (err) {
    throw new Error(`could not install sshd from Debian's packages (${PACKAGES.join(' ')}): ${describe(err)}. Run apt-get update once.`);
  }
  // A race's loser may rename nothing: the winner's directory is the install.
  return toolsIn(dir);
}

export interface SshdServer {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The client's private key (OpenSSH format), authorized for the user. */
  privateKey: string;
  /** The host key's fingerprint, as `ssh-keygen -l` prints it. */
  hostKey: string;
  /** The directory the user's files live in (its home), on this machine. */
  home: string;
  stop(): Promise<void>;
}

async function keygen(path: string): Promise<{ privateKey: string; fingerprint: string }> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lakesync-test', '-f', path]);
  const { stdout } = await run('ssh-keygen', ['-l', '-f', `${path}.pub`]);
  return { privateKey: await readFile(path, 'utf8'), fingerprint: stdout.split(' ')[1]! };
}

export function startSshd(tools: SshdTools, opts: { log: (m: string) => void }): Promise<SshdServer> {
  return withFreshPorts(() => startOnce(tools, opts));
}

async function startOnce(tools: SshdTools, opts: { log: (m: string) => void }): Promise<SshdServer> {
  const dir = await mkdtemp(join(tmpdir(), 'lakesync-sshd-'));
  const home = join(dir, 'home');
  await mkdir(home);
  const port = await freePort();
  const uid = process.getuid!();
  const gid = process.getgid!();
  const password = randomBytes(18).toString('base64url');
  const [host, client] = await Promise.all([keygen(join(dir, 'host_ed25519')), keygen(join(dir, 'client_ed25519'))]);
  await rename(join(dir, 'client_ed25519.pub'), join(dir, 'authorized_keys'));
  const crypted = await cryptPassword(password);
  if (uid === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await writeFile(join(dir, 'passwd'), `lakesync:x:${uid}:${gid}:lakesync test:${home}:/bin/sh\nsshd:x:65534:65534::/run/sshd:/usr/sbin/nologin\n`);
  await writeFile(join(dir, 'group'), `lakesync:x:${gid}:\nnogroup:x:65534:\n`);
  await writeFile(join(dir, 'shadow'), `lakesync:${crypted}:19000:0:99999:7:::\n`, { mode: 0o600 });
  await writeFile(
    join(dir, 'sshd_config'),
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      'PidFile none',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PermitRootLogin ${uid === 0 ? 'yes' : 'no'}`,
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'AllowUsers lakesync',
      'Subsystem sftp internal-sftp',
      'ForceCommand internal-sftp',
      'DisableForwarding yes',
      'MaxStartups 100',
      'MaxSessions 100',
      'LogLevel VERBOSE',
    ].join('\n') + '\n',
  );
  const child = spawn(tools.sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LD_LIBRARY_PATH: tools.libDir,
      LD_PRELOAD: join(tools.libDir, 'libnss_wrapper.so'),
      NSS_WRAPPER_PASSWD: join(dir, 'passwd'),
      NSS_WRAPPER_GROUP: join(dir, 'group'),
      NSS_WRAPPER_SHADOW: join(dir, 'shadow'),
    },
  });
  tetherToThisProcess(child.pid!, 'TERM');
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
  await waitUntil(
    'sshd',
    async () => {
      if (child.exitCode !== null) throw new GaveUp(`exited with ${child.exitCode}: ${stderr}`);
      if (!/Server listening on 127\.0\.0\.1 port/.test(stderr)) throw new Error('not listening yet');
    },
    30_000,
  ).catch(async (err) => {
    await stopProcess(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  opts.log(`sshd: SFTP on 127.0.0.1:${port}`);
  return {
    host: '127.0.0.1',
    port,
    username: 'lakesync',
    password,
    privateKey: client.privateKey,
    hostKey: host.fingerprint,
    home,
    stop: async () => {
      await stopProcess(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A SHA-512 crypt(3) hash, as /etc/shadow holds it (openssl reads the password on stdin, never from argv). */
function cryptPassword(password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['passwd', '-6', '-stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 && out.trim() ? resolve(out.trim()) : reject(new Error(`openssl passwd exited with ${code}`))));
    child.stdin.end(`${password}\n`);
  });
}
