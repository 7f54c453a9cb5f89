import { getHeapStatistics } from 'node:v8';

/**
 * The smallest V8 heap limit a worker copies at full speed with: 512 MB,
 * which `--max-old-space-size=320` gives (V8 adds 192 MB of young generation).
 * A busy worker holds about 80 MB live, but V8 commits about 230 MB around it;
 * under a tighter limit it collects every ~100 ms and spends most of the CPU
 * there (bench full sync, worker CPU: 61 s at 192, 10 s at 320, the same peak
 * RSS either way).
 */
const MIN_HEAP_LIMIT_MB = 512;

/** A warning to log when the process's heap limit is below MIN_HEAP_LIMIT_MB, else undefined. */
export function heapLimitWarning(limitBytes = getHeapStatistics().heap_size_limit): string | undefined {
  const mb = Math.round(limitBytes / 2 ** 20);
  return mb < MIN_HEAP_LIMIT_MB
    ? `V8 heap limit ${mb} MB is below ${MIN_HEAP_LIMIT_MB} MB (--max-old-space-size below 320): garbage collection will take most of the CPU while copying (README: Scaling workers)`
    : undefined;
}
