/**
 * A watchdog for a byte stream: `progress()` on every movement; when nothing moved for `stallMs`,
 * `onStall` runs once. An upload whose bytes stop flowing is aborted and retried instead of hanging
 * until the function's deadline.
 */
export interface StallWatch {
  progress(): void;
  stop(): void;
  readonly stalled: boolean;
}

export function watchStall(stallMs: number | undefined, onStall: () => void): StallWatch {
  if (stallMs === undefined || stallMs <= 0) {
    return { progress: () => undefined, stop: () => undefined, stalled: false };
  }
  let last = Date.now();
  let stalled = false;
  const timer = setInterval(
    () => {
      if (Date.now() - last < stallMs) return;
      stalled = true;
      clearInterval(timer);
      onStall();
    },
    Math.max(10, Math.min(1000, Math.floor(stallMs / 4))),
  );
  timer.unref();
  return {
    progress() {
      last = Date.now();
    },
    stop() {
      clearInterval(timer);
    },
    get stalled() {
      return stalled;
    },
  };
}
