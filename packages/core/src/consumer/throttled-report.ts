// Consumer / throttled report: repeated warnings of one kind reach onWarning once per period, with a count of the rest.

/** Reports an error at once, then at most once per `periodMs` per error code, with how many were held back. */
export class ThrottledReport {
  private readonly byCode = new Map<string, { lastAt: number; held: number }>();

  constructor(
    private readonly periodMs: number,
    private readonly emit: (error: unknown, repeated: number) => void,
  ) {}

  report(error: unknown): void {
    const code = String((error as { code?: unknown })?.code ?? (error as Error)?.message);
    const now = Date.now();
    const seen = this.byCode.get(code);
    if (seen && now - seen.lastAt < this.periodMs) {
      seen.held++;
      return;
    }
    this.byCode.set(code, { lastAt: now, held: 0 });
    this.emit(error, seen?.held ?? 0);
  }
}
