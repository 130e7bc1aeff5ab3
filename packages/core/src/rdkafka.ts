// Native client: the one place that loads librdkafka's bindings, through the named export Node's ESM loader sees.
import { RdKafka } from '@confluentinc/kafka-javascript';

export type { Message } from '@confluentinc/kafka-javascript';
export const { CODES, KafkaConsumer, Producer } = RdKafka;
export type KafkaConsumer = InstanceType<typeof RdKafka.KafkaConsumer>;
export type Producer = InstanceType<typeof RdKafka.Producer>;
