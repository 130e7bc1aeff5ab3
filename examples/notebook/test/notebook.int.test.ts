// Notebook example proof: candles.ipynb runs headlessly on the Deno kernel and computes what @kandle/core computes in Node.
import { fileURLToPath } from 'node:url';
import {
  type Candle,
  type CandleUpdate,
  createCandleAggregator,
  generateSyntheticEvents,
  planRebalance,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssignor,
} from '@kandle/core';
import { describe, expect, it } from 'vitest';
import { type ExecutedNotebook, executeNotebook, joinText, type NotebookCell, prepareNotebookRunner } from './jupyter';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const notebookPath = fileURLToPath(new URL('../candles.ipynb', import.meta.url));

/** The summary line the notebook's last cell prints. */
interface NotebookFacts {
  rebalance: { strategy: string; moved: string; unchanged: number }[];
  events: number;
  candles: number;
  first: string;
  end: string;
  trades: number;
  last: { open: number; high: number; low: number; close: number; volume: number; trades: number };
}

const stdoutOf = (cell: NotebookCell) =>
  (cell.outputs ?? [])
    .filter((o) => o.output_type === 'stream' && o.name === 'stdout')
    .map((o) => joinText(o.text))
    .join('');

/** The notebook's rebalance table, recomputed in Node: same inputs, same "A1 C2→C3" formatting. */
function rebalanceInNode() {
  const topics = ['A', 'B'];
  const members = ['C1', 'C2', 'C3'].map((memberId) => ({ memberId, topics }));
  return [rangeAssignor, roundRobinAssignor, stickyAssignor].map((assignor) => {
    const plan = planRebalance({
      assignor,
      members,
      partitionsPerTopic: { A: 2, B: 2 },
      change: { type: 'leave', memberId: 'C2' },
    });
    const moved = plan.moved.map((m) => `${m.topic}${m.partition} ${m.from}→${m.to}`).join(', ');
    return { strategy: assignor.name, moved, unchanged: plan.unchanged };
  });
}

/** The notebook's synthetic market folded into closed 5-minute trade candles, recomputed in Node. */
function candlesInNode() {
  const events = generateSyntheticEvents({
    count: 4000,
    seed: 42,
    symbols: ['tBTCUSD'],
    ratePerSecond: 0.55,
    startTime: Date.UTC(2026, 0, 1),
  });
  const aggregator = createCandleAggregator({ intervals: ['5m'], gracePeriodMs: 5000, retainClosedBuckets: 1000 });
  const closed = new Map<number, Candle>();
  const keep = (updates: readonly CandleUpdate[]) => {
    for (const u of updates)
      if (u.kind !== 'progress' && u.candle.source === 'trade') closed.set(u.candle.start, u.candle);
  };
  for (const e of events) keep(e.kind === 'trade' ? aggregator.addTrade(e.trade) : aggregator.addTicker(e.ticker));
  keep(aggregator.flush());
  return { events, candles: [...closed.values()].sort((a, b) => a.start - b.start) };
}

describe('notebook example: candles.ipynb on the Deno Jupyter kernel', () => {
  it('executes headlessly and computes the same rebalance plans and candles as @kandle/core in Node', {
    timeout: 240_000,
  }, async () => {
    const runner = await prepareNotebookRunner(repoRoot);
    const nb: ExecutedNotebook = await executeNotebook(runner, notebookPath);
    const code = nb.cells.filter((c) => c.cell_type === 'code');

    // Every code cell ran, in order, and none reported an error.
    expect(code.length).toBeGreaterThanOrEqual(5);
    expect(code.map((c) => c.execution_count)).toEqual(code.map((_, i) => i + 1));
    for (const [i, cell] of code.entries()) {
      const errors = (cell.outputs ?? []).filter((o) => o.output_type === 'error');
      expect(errors, `code cell ${i + 1}: ${joinText(cell.source).slice(0, 80)}`).toEqual([]);
    }

    // The last cell's JSON line is what the notebook computed.
    const factsLine = stdoutOf(code.at(-1) as NotebookCell)
      .split('\n')
      .find((line) => line.startsWith('{'));
    expect(factsLine, 'the last cell prints one JSON line of facts').toBeDefined();
    const facts = JSON.parse(factsLine as string) as NotebookFacts;

    // Rebalance: the original kafka-python project's example (C2 leaves) as documented, and exactly what planRebalance gives in Node.
    const sticky = facts.rebalance.find((r) => r.strategy === 'sticky');
    expect(sticky).toEqual({ strategy: 'sticky', moved: 'A1 C2→C3', unchanged: 3 });
    expect(facts.rebalance).toEqual(rebalanceInNode());

    // Candles: same event count, buckets, trade count and last candle as the aggregator in Node.
    const node = candlesInNode();
    const last = node.candles.at(-1) as Candle;
    expect(facts).toMatchObject({
      events: node.events.length,
      candles: node.candles.length,
      first: new Date((node.candles[0] as Candle).start).toISOString(),
      end: new Date(last.end).toISOString(),
      trades: node.events.filter((e) => e.kind === 'trade').length,
      last: {
        open: last.open,
        high: last.high,
        low: last.low,
        close: last.close,
        volume: last.volume,
        trades: last.count,
      },
    });
    expect(facts.candles).toBeGreaterThan(20);
    const summaryCell = code.find((c) => stdoutOf(c).includes(' events → '));
    expect(stdoutOf(summaryCell as NotebookCell)).toContain(
      `${facts.events} events → ${facts.candles} candles of 5 minutes, ${facts.first} … ${facts.end}`,
    );

    // The chart cell displayed an SVG with one body rectangle per candle.
    const svgs = code.flatMap((c) =>
      (c.outputs ?? []).flatMap((o) => (o.output_type === 'display_data' ? [joinText(o.data?.['image/svg+xml'])] : [])),
    );
    const svg = svgs.find((s) => s.startsWith('<svg'));
    expect(svg, 'an image/svg+xml display output').toBeDefined();
    expect((svg as string).match(/<rect /g)?.length).toBe(facts.candles);
    expect(svg).toContain('tBTCUSD, 5-minute candles');
  });
});
