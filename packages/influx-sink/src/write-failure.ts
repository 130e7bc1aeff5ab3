// Write failure: whether a failed write is worth retrying, what wait the server asked for, and which lines it refused.
import { parseRetryAfterMs } from '@kandle/core';

/** What the sink does about one failed write request. */
export interface WriteFailure {
  /** 429, 5xx and network failures are worth retrying; other statuses will fail the same way again. */
  retryable: boolean;
  /** HTTP status, when the server answered. */
  status?: number;
  /** Minimum wait the server asked for via `Retry-After`. */
  retryAfterMs?: number;
  /** Response body (first 1000 characters), when the server answered. */
  body?: string;
  /** One-line description for logs and errors. */
  message: string;
}

interface HttpLikeError {
  statusCode: number;
  body?: string;
  message?: string;
  headers?: Record<string, string | string[] | undefined> | null;
}

/** Classifies an error thrown by the InfluxDB client's `write`. */
export function classifyWriteError(error: unknown, now: number = Date.now()): WriteFailure {
  if (isHttpError(error)) {
    const status = error.statusCode;
    const failure: WriteFailure = {
      retryable: status === 429 || status >= 500,
      status,
      message: `HTTP ${status}: ${oneLine(error.message ?? '')}`,
    };
    if (error.body) failure.body = error.body.slice(0, 1000);
    const retryAfterMs = parseRetryAfterMs(error.headers?.['retry-after'], now);
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
    return failure;
  }
  const message = error instanceof Error ? `${error.name}: ${oneLine(error.message)}` : oneLine(String(error));
  return { retryable: isNetworkError(error), message };
}

/**
 * 0-based indexes of the lines a 4xx response blames, in order, or `[]` when it names none. Understands
 * InfluxDB 3 (`data[].original_line` / `line_number`), InfluxDB 2 (`unable to parse '<line>'`) and
 * QuestDB (`line`, `error in line N`), all 1-based on the wire.
 */
export function offendingLineIndexes(body: string | undefined, lines: readonly string[]): number[] {
  if (!body) return [];
  const found = new Set<number>();
  const byLine = new Map<string, number>();
  lines.forEach((line, i) => {
    if (!byLine.has(line)) byLine.set(line, i);
  });
  const addNumber = (n: unknown) => {
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= lines.length) found.add(n - 1);
  };
  const addOriginal = (text: unknown) => {
    const index = typeof text === 'string' ? byLine.get(text) : undefined;
    if (index !== undefined) found.add(index);
    return index !== undefined;
  };

  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  if (json && typeof json === 'object') {
    const record = json as Record<string, unknown>;
    if (Array.isArray(record.data)) {
      for (const item of record.data as Array<Record<string, unknown>>) {
        if (!addOriginal(item?.original_line)) addNumber(item?.line_number);
      }
    }
    addNumber(record.line);
  }
  for (const match of body.matchAll(/unable to parse '((?:[^'\\]|\\.)*)'/g)) addOriginal(match[1]);
  for (const match of body.matchAll(/error in line (\d+)/g)) addNumber(Number(match[1]));
  return [...found].sort((a, b) => a - b);
}

function isHttpError(error: unknown): error is HttpLikeError {
  return (
    typeof error === 'object' && error !== null && typeof (error as { statusCode?: unknown }).statusCode === 'number'
  );
}

// Socket-level failures (refused, reset, timed out, DNS) leave the batch's fate unknown; a retry is safe because points are idempotent.
function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'RequestTimedOutError' || error.name === 'AbortError') return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (/^E[A-Z0-9_]+$/.test(code) || code.startsWith('UND_ERR'));
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
