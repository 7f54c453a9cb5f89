/**
 * A worker's activity slots: room beyond one run's batches (twice its
 * concurrency in flight) and its scan, so that batches the tenant share holds
 * back (activities/tenant-share.ts) leave slots for another organisation's
 * steps; the share stops holding when all but a few are taken.
 */
export function activitySlots(batchConcurrency: number): number {
  return Math.max(16, batchConcurrency * 4 + 8);
}
