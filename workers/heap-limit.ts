/**
 * The smallest old-space cap (`--max-old-space-size`, MB) a worker copies at
 * full speed with. A busy worker holds about 80 MB live, but V8 commits much
 * more around it; under a tighter cap it collects every ~100 ms and spends
 * most of the CPU there (bench full sync, worker CPU: 61 s at 192, 10 s at
 * 320, the same peak RSS either way).
 */
const MIN_OLD_SPACE_MB = 320;

/** The `--max-old-space-size` the process was started with, if any: NODE_OPTIONS first, then the command line, which wins. */
export function oldSpaceCap(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | undefined {
  const args = [...nodeOptions.split(/\s+/), ...execArgv];
  const given = args.flatMap((a, i) => {
    const flag = /^--max[-_]old[-_]space[-_]size(?:=(\d+))?$/.exec(a);
    if (!flag) return [];
    const value = flag[1] ?? args[i + 1];
    return value !== undefined && /^\d+$/.test(value) ? [Number(value)] : [];
  });
  return given.at(-1);
}

/** A warning to log when the old space is capped below MIN_OLD_SPACE_MB, else undefined. */
export function heapLimitWarning(capMb = oldSpaceCap()): string | undefined {
  return capMb !== undefined && capMb < MIN_OLD_SPACE_MB
    ? `--max-old-space-size=${capMb} is below ${MIN_OLD_SPACE_MB}: garbage collection will take most of the CPU while copying (README: Scaling workers)`
    : undefined;
}
