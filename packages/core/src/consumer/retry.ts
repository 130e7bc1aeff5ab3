// Consumer / retry: the one backoff schedule of the consumer (handler retries, dead letters, changelog set-up).

/** 200 ms doubling to 5 s. */
export function backoffMs(attempt: number): number {
  return Math.min(5000, 200 * 2 ** attempt);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
