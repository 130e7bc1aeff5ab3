// Dashboard tests: the InfluxDB columns @kandle/influx-sink writes, read off its own point converters, per measurement.
import type { Candle, Ticker, Trade } from '@kandle/core';
import { SINK_DEFAULTS } from '@kandle/influx-sink';
import { candleToPoint, renderLine, tickerToPoint, tradeToPoint } from '../../packages/influx-sink/src/points';

export interface MeasurementColumns {
  tags: string[];
  fields: string[];
}

/** Splits on `separator` outside backslash escapes (line protocol escapes spaces, commas and equals signs). */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '\\') {
      current += char + (text[i + 1] ?? '');
      i++;
    } else if (char === separator) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/** `measurement,tag=…,tag=… field=…,field=… timestamp` → its measurement, tag keys and field keys. */
export function parseLineProtocol(line: string): { measurement: string; tags: string[]; fields: string[] } {
  const [series = '', fieldSet = ''] = splitUnescaped(line, ' ');
  const [measurement = '', ...tagPairs] = splitUnescaped(series, ',');
  const keyOf = (pair: string) => splitUnescaped(pair, '=')[0] as string;
  return { measurement, tags: tagPairs.map(keyOf), fields: splitUnescaped(fieldSet, ',').map(keyOf) };
}

const candle: Candle = {
  symbol: 'tBTCUSD',
  interval: '1m',
  source: 'trade',
  start: 1_704_067_200_000,
  end: 1_704_067_260_000,
  open: 42_000.5,
  high: 42_010.25,
  low: 41_990.125,
  close: 42_005.75,
  volume: 1.5,
  count: 3,
};
const ticker: Ticker = {
  symbol: 'tBTCUSD',
  bid: 42_000,
  bidSize: 1,
  ask: 42_001,
  askSize: 2,
  dailyChange: 10,
  dailyChangeRelative: 0.001,
  lastPrice: 42_000.5,
  volume: 100,
  high: 42_100,
  low: 41_900,
  eventTime: 1_704_067_200_000,
};
const trade: Trade = { id: 1, symbol: 'tBTCUSD', time: 1_704_067_200_000, amount: -0.25, price: 42_000.5 };

/**
 * Measurement (default name) → the tag and field keys of the points the sink builds. Every point also has the
 * `time` column InfluxDB 3 adds.
 */
export function sinkColumns(): Record<string, MeasurementColumns> {
  const { measurements } = SINK_DEFAULTS;
  const lines = [
    renderLine(candleToPoint(candle, measurements.candles)),
    renderLine(tickerToPoint(ticker, measurements.tickers)),
    renderLine(tradeToPoint(trade, measurements.trades)),
  ];
  return Object.fromEntries(
    lines.map(parseLineProtocol).map(({ measurement, tags, fields }) => [measurement, { tags, fields }]),
  );
}
