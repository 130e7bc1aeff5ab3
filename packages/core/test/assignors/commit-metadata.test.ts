// Commit metadata: the owner always fits; the event times only while the broker's metadata limit allows.
import { describe, expect, it } from 'vitest';
import { formatCommitMetadata, MAX_COMMIT_METADATA_BYTES, parseCommitMetadata } from '../../src/assignors/live';

describe('formatCommitMetadata', () => {
  it('round-trips the owner and the event times of a few series', () => {
    const text = formatCommitMetadata('candles-1', new Map([['tBTCUSD|trade', 1_767_225_600_000]]));
    expect(parseCommitMetadata(text)).toEqual({ o: 'candles-1', w: { 'tBTCUSD|trade': 1_767_225_600_000 } });
  });

  it('stays under the broker limit with 500 series: the owner is kept, the event times are dropped', () => {
    // 500 symbols once made every commit fail with "Offset metadata string too large" (limit 4096 bytes).
    const clocks = new Map(Array.from({ length: 500 }, (_, i) => [`tS${i}USD|trade`, 1_767_225_600_000 + i]));
    const text = formatCommitMetadata('candles-1', clocks);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_COMMIT_METADATA_BYTES);
    expect(MAX_COMMIT_METADATA_BYTES).toBeLessThan(4096);
    expect(parseCommitMetadata(text)).toEqual({ o: 'candles-1', w: {} });
  });
});
