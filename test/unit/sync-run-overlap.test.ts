/**
 * Workflow logic of a sync run, on the real Temporal dev server with stand-in
 * activities: copying starts while the scan is still listing, and dispatch
 * takes only what the scan has committed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { unique } from '../support/lakesync.js';

describe('sync run: copies overlap the scan', () => {
  let connection: Connection;
  let native: NativeConnection;
  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // installed already by another test in this process
    }
    connection = await Connection.connect({ address: inject('infra').temporalAddress });
    native = await NativeConnection.connect({ address: inject('infra').temporalAddress });
  });
  afterAll(async () => {
    await connection?.close();
    await native?.close();
  });

  it('dispatches committed batches before the scan ends, then the remainder', async () => {
    const calls: string[] = [];
    let releaseScan!: () => void;
    const scanMayEnd = new Promise<void>((resolve) => (releaseScan = resolve));
    let scanDone = false;
    const activities = {
      // Job started, owed processing adopted, and one shard: the single-scan path this test is about.
      beginDiscovery: async () => {
        calls.push('beginDiscovery');
        return { shards: 1 };
      },
      // The scan lists until a batch has been copied: a run that waited for the scan would never get there.
      scanSource: async () => {
        calls.push('scan:start');
        await scanMayEnd;
        scanDone = true;
        calls.push('scan:end');
        return { listed: 3, discovered: 3, deleted: 0, resumedFrom: null };
      },
      planBatches: async (i: { afterKey: string | null; scanning?: boolean }) => {
        calls.push(`plan:${i.afterKey ?? '-'}:${i.scanning ? 'scanning' : 'done'}`);
        if (i.afterKey === null) return ['b'];
        if (i.afterKey === 'b' && !i.scanning) return ['c'];
        return [];
      },
      ingestBatch: async (i: { afterKey: string | null; lastKey: string }) => {
        calls.push(`copy:${i.afterKey ?? '-'}..${i.lastKey}${scanDone ? '' : ':during-scan'}`);
        releaseScan();
        return { ingested: 1, skipped: 0, deadLettered: 0, bytes: 1, toProcess: 0 };
      },
      finishJob: async () => {
        calls.push('finishJob');
        return { status: 'JOB_STATUS_SUCCEEDED', consecutiveFailures: 0 };
      },
    };
    const taskQueue = unique('overlap');
    const worker = await Worker.create({ connection: native, taskQueue, workflowBundle: { codePath: inject('infra').workflowBundlePath }, activities });
    const client = new Client({ connection });
    const result = await worker.runUntil(
      client.workflow.execute('syncRun', {
        taskQueue,
        workflowId: unique('overlap-run'),
        args: [{ jobId: 'job_overlap', sourceId: 'src_overlap', kind: 'discovery', fullSync: false, retryFailed: false, batchSize: 1, batchConcurrency: 2 }],
      }),
    );
    expect(result).toEqual({ status: 'JOB_STATUS_SUCCEEDED', consecutiveFailures: 0 });
    expect(calls.indexOf('copy:-..b:during-scan')).toBeGreaterThan(calls.indexOf('scan:start'));
    expect(calls.indexOf('copy:-..b:during-scan')).toBeLessThan(calls.indexOf('scan:end'));
    expect(calls).toContain('plan:-:scanning');
    // The rest goes out once the scan is over, planned without the cursor bound.
    expect(calls.indexOf('plan:b:done')).toBeGreaterThan(calls.indexOf('scan:end'));
    expect(calls.indexOf('copy:b..c')).toBeGreaterThan(calls.indexOf('scan:end'));
    expect(calls.at(-1)).toBe('finishJob');
  });
});
