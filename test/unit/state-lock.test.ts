/** The state directory's lock, on a real directory with real processes as owners. */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockStateDir, StateDirLocked, type LockOwner } from '../../infra/state-lock.js';

/** The pid of a process that has exited: the owner a `kill -9` leaves in the lock. */
async function deadPid(): Promise<number> {
  const child = spawn('/bin/true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('the state directory lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'lakesync-lock-')), '.lakesync');
  });
  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  const noWait = { waitForStoppingMs: 0, onWait: () => undefined };

  it('names the pid holding it and refuses a second owner at once; free again once released', async () => {
    const lock = await lockStateDir(dir, noWait);
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, state: 'running' });
    const second = lockStateDir(dir, { waitForStoppingMs: 60_000, onWait: () => expect.fail('a running owner is not waited for') });
    await expect(second).rejects.toBeInstanceOf(StateDirLocked);
    await expect(second).rejects.toThrow(`in use by process ${process.pid}`);
    lock.release();
    (await lockStateDir(dir, noWait)).release();
  });

  it('takes over a lock whose owner died, and one whose pid now belongs to another program', async () => {
    await lockStateDir(dir, noWait);
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: await deadPid(), state: 'running' }));
    (await lockStateDir(dir, noWait)).release();
    // Our own pid with another start time: a pid the kernel gave to a new process.
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: process.pid, started: '1', state: 'running' }));
    const lock = await lockStateDir(dir, noWait);
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).started).not.toBe('1');
    lock.release();
  });

  it('waits for an owner that is stopping, saying so once, and takes the lock when it goes', async () => {
    const first = await lockStateDir(dir, noWait);
    first.markStopping();
    const waitedFor: LockOwner[] = [];
    const second = lockStateDir(dir, { waitForStoppingMs: 60_000, onWait: (owner) => waitedFor.push(owner) });
    let taken = false;
    void second.then(() => (taken = true));
    await expect.poll(() => waitedFor.length).toBe(1);
    expect(waitedFor[0]).toMatchObject({ pid: process.pid, state: 'stopping' });
    expect(taken).toBe(false);
    first.release();
    (await second).release();
    expect(waitedFor).toHaveLength(1);
  });

  it('gives up on an owner that keeps stopping past the wait', async () => {
    const first = await lockStateDir(dir, noWait);
    first.markStopping();
    await expect(lockStateDir(dir, { waitForStoppingMs: 300, onWait: () => undefined })).rejects.toThrow(/held by process \d+, which has been stopping/);
    first.release();
  });

  it("records the servers its owner starts, and a start taking a dead owner's lock over waits for those still running, saying so once", async () => {
    // A server the dead owner started, which its tether has not stopped yet.
    const server = spawn('sleep', ['60']);
    const serverExited = new Promise((resolve) => server.once('exit', resolve));
    try {
      const first = await lockStateDir(dir, noWait);
      first.addServer(server.pid!);
      const recorded = JSON.parse(await readFile(join(dir, 'lock'), 'utf8')) as LockOwner;
      expect(recorded.servers).toEqual([{ pid: server.pid, started: expect.stringMatching(/^\d+$/) }]);
      // The owner dies (kill -9) with its server still running.
      await writeFile(join(dir, 'lock'), JSON.stringify({ ...recorded, pid: await deadPid(), started: undefined }));
      const waitedFor: (readonly number[] | undefined)[] = [];
      const second = lockStateDir(dir, { waitForStoppingMs: 0, onWait: (_, servers) => waitedFor.push(servers) });
      let taken = false;
      void second.then(() => (taken = true));
      await expect.poll(() => waitedFor).toEqual([[server.pid]]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(taken).toBe(false);
      server.kill('SIGTERM');
      await serverExited;
      const lock = await second;
      const taker = JSON.parse(await readFile(join(dir, 'lock'), 'utf8')) as LockOwner;
      expect(taker.pid).toBe(process.pid);
      expect(taker.servers ?? []).toEqual([]);
      expect(waitedFor).toHaveLength(1);
      lock.release();
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('is written whole: the directory holds the lock and nothing else while taken', async () => {
    const lock = await lockStateDir(dir, noWait);
    expect(await readdir(dir)).toEqual(['lock']);
    lock.markStopping();
    expect(await readdir(dir)).toEqual(['lock']);
    lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('an empty lock file (a crash between create and write) is removed as broken and the start proceeds', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'lock'), '');
    const lock = await lockStateDir(dir, noWait);
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, state: 'running' });
    lock.release();
  }, 30_000);

  it('a garbage lock file left long ago is removed at once, one written just now after its grace', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'lock'), '{"pid": 12');
    const past = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'lock'), past, past);
    (await lockStateDir(dir, noWait)).release();
    await writeFile(join(dir, 'lock'), 'not json at all');
    (await lockStateDir(dir, { waitForStoppingMs: 60_000, onWait: () => expect.fail('a broken lock has no owner to wait for') })).release();
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 'twelve' }));
    (await lockStateDir(dir, noWait)).release();
  }, 30_000);

  it('a lock it can neither read nor remove ends the wait with a message naming it', async () => {
    await mkdir(join(dir, 'lock'), { recursive: true });
    await expect(lockStateDir(dir, noWait)).rejects.toThrow(`${join(dir, 'lock')} cannot be read (EISDIR`);
  }, 30_000);
});
