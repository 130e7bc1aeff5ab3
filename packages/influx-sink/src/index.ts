// Package entry: the public API of @kandle/influx-sink (the sink, its options and stats).
export { type MeasurementNames, type InfluxSinkOptions, type SinkLogger, SINK_DEFAULTS } from './options';
export { SinkWriteError } from './errors';
export { createInfluxSink, type InfluxSink, type SinkStats } from './sink';
