// Package entry: the public API of @kandle/influx-sink (the sink, its options and stats).
export { type MeasurementNames, type InfluxSinkOptions, SINK_DEFAULTS } from './options';
export type { SinkLogger } from './sink-logger';
export { SinkWriteError } from './errors';
export { createInfluxSink, type InfluxSink, type SinkStats } from './sink';
