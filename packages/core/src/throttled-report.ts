// Throttled report: a problem repeated thousands of times a second (a broker down) is reported once per period, with a count of the rest.

/** The key a report is throttled by by default: the value's `code`, else its `message`, else its text. */
function defaultKey(value: unknown): string {
  const { code, message } = (value ?? {}) as { code?: unknown; message?: unknown };
  return String(code ?? message ?? value);
}

/**
 * Reports a value at once, then at most once per `periodMs` per key (by default the value's `code`, else its
 * `message`), passing how many of that key were held back since the last report.
 *
 * @example
 * ```ts
 * const report = new ThrottledReport<Error>(10_000, (e, repeated) =>
 *   console.warn(repeated > 0 ? `${e.message} (and ${repeated} more)` : e.message),
 * );
 * source.onError((e) => report.report(e));
 * ```
 */
export class ThrottledReport<T = unknown> {
  private readonly byKey = new Map<string, { lastAt: number; held: number }>();

  /**
   * @param periodMs - Shortest time between two reports of one key.
   * @param emit - Receives each report and how many of its key were held back before it.
   * @param keyOf - The throttling key of a value. Default: its `code`, else its `message`.
   */
  constructor(
    private readonly periodMs: number,
    private readonly emit: (value: T, repeated: number) => void,
    private readonly keyOf: (value: T) => string = defaultKey,
  ) {}

  /** Emits `value` now, or counts it when its key was reported less than `periodMs` ago. */
  report(value: T): void {
    const key = this.keyOf(value);
    const now = Date.now();
    const seen = this.byKey.get(key);
    if (seen && now - seen.lastAt < this.periodMs) {
      seen.held++;
      return;
    }
    this.byKey.set(key, { lastAt: now, held: 0 });
    this.emit(value, seen?.held ?? 0);
  }
}
