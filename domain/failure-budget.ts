/**
 * How a failed run counts toward a source's `suspendAfterFailures`. Shared by
 * the catalog (which writes the count when it finishes the job) and the source
 * controller (which suspends on it); no imports, so workflow code may use it.
 *
 * A failed run without progress (it copied nothing) adds one. A failed run
 * that made progress halves the count (rounding down) instead: the source
 * works at least in part and the next run resumes past what this one copied,
 * so it never moves toward suspension; but unlike a success it does not prove
 * that the cause of the earlier failures is gone, so it erodes the count rather
 * than clearing it. A source whose failures mostly copy nothing (two of every
 * three, say) still reaches the limit; one whose every run gets somewhere never does.
 */
export const failuresAfterFailedRun = (previous: number, progressed: boolean): number => (progressed ? Math.floor(previous / 2) : previous + 1);

/** Whether a run moved objects forward: it copied bytes, or finished objects (copied, or found already in the lake). */
export const madeProgress = (job: { objectsProcessed: number; bytesTransferred: number }): boolean => job.objectsProcessed > 0 || job.bytesTransferred > 0;
