// Consumer / transaction: the exactly-once producer: candle output, checkpoints, dead letters and consumed offsets commit together or not at all.
import type { TopicPartition } from '../assignors/types';
import type { RdkafkaSettings, ResolvedKafkaConnection } from '../config';
import { KandleError, kandleErrorFrom } from '../errors';
import { disconnectProducer, type KafkaConsumer, type Producer } from '../rdkafka';
import { sleep } from '../retry';
import { connectProducer, produceRecord, type SideProducer } from './side-producer';

/** Offsets to commit with the transaction: the next record to read per partition. */
export type TransactionOffset = TopicPartition & { offset: number };

/**
 * A {@link SideProducer} whose records are held in one open Kafka transaction until {@link commit}: readers with
 * `isolation.level=read_committed` (librdkafka's default) see all of them, with the consumed offsets, or none.
 */
export interface TransactionalProducer extends SideProducer {
  /**
   * Adds the consumed offsets to the open transaction (tagged with the consumer's group generation, so a member
   * that was fenced out of the group cannot commit: KIP-447) and commits it. On any failure the transaction is
   * aborted and this throws a retriable `TRANSACTION_ABORTED`: everything since the last commit must be redone.
   */
  commit(offsets: TransactionOffset[], consumer: KafkaConsumer): Promise<void>;
}

/** How a transaction step failed, as librdkafka flags it. */
interface TransactionFailure {
  isFatal?: boolean;
  isTxnRequiresAbort?: boolean;
}

const TRANSACTION_CALL_TIMEOUT_MS = 30_000;
/** librdkafka's RD_KAFKA_RESP_ERR__QUEUE_FULL. */
const QUEUE_FULL = -184;

/**
 * Connects a transactional producer: `transactional.id` = `transactionalId`. A restarted member with the same id
 * fences its previous incarnation (its open transaction is aborted at once); any other open transaction of a dead
 * member is aborted by the broker after `transactionTimeoutMs`, until when read_committed readers of the
 * partitions it wrote wait.
 */
export async function createTransactionalProducer(options: {
  resolved: ResolvedKafkaConnection;
  userSettings: RdkafkaSettings;
  clientId: string;
  transactionalId: string;
  transactionTimeoutMs: number;
}): Promise<TransactionalProducer> {
  let producer = await connectTransactional(options);
  /** The open transaction (begun lazily by the first send, or by a commit of offsets alone); null when none. */
  let open: Promise<void> | null = null;
  /** The open transaction failed: what is sent into it is dropped, and the next commit aborts it. */
  let doomed: unknown = null;
  /** Counts transactions, so a late delivery report (a record purged by an abort) cannot doom the next one. */
  let generation = 0;
  const begin = (): Promise<void> => {
    open ??= call((cb) => producer.beginTransaction(cb));
    return open;
  };
  const abort = async (cause: unknown): Promise<never> => {
    const fatal = (cause as TransactionFailure)?.isFatal === true;
    open = null;
    doomed = null;
    generation++;
    if (fatal) {
      // Fenced by a newer incarnation, or the broker expired the transaction: this producer is done for.
      await disconnectProducer(producer);
      producer = await connectTransactional(options);
    } else {
      await call((cb) => producer.abortTransaction(TRANSACTION_CALL_TIMEOUT_MS, cb)).catch(async () => {
        await disconnectProducer(producer);
        producer = await connectTransactional(options);
      });
    }
    throw kandleErrorFrom(
      'TRANSACTION_ABORTED',
      'transaction aborted; redoing everything since the last commit',
      cause,
      {
        retriable: true,
        details: { fatal },
      },
    );
  };
  return {
    // Resolves once librdkafka holds the record, not once it is acknowledged: commitTransaction flushes and fails
    // if any record failed (a batch waiting for its acks cost a round trip per batch: half the throughput).
    async send(record) {
      if (doomed) return; // it will be aborted: the records would be discarded anyway
      try {
        await begin();
        for (let attempt = 0; ; attempt++) {
          try {
            // An error inside a transaction dooms all of it; the caller's work is redone after the abort.
            const sentIn = generation;
            produceRecord(producer, record, (e) => {
              if (e && sentIn === generation) doomed ??= e;
            });
            return;
          } catch (e) {
            if ((e as { code?: number }).code !== QUEUE_FULL || attempt >= 500) throw e;
            await sleep(10); // librdkafka's queue is full: wait for it to drain
          }
        }
      } catch (e) {
        doomed ??= e;
      }
    },
    async commit(offsets, consumer) {
      if (!open && offsets.length === 0) return;
      try {
        if (doomed) throw doomed;
        await begin();
        if (offsets.length > 0)
          await call((cb) =>
            producer.sendOffsetsToTransaction(offsets as never, consumer, TRANSACTION_CALL_TIMEOUT_MS, cb),
          );
        await call((cb) => producer.commitTransaction(TRANSACTION_CALL_TIMEOUT_MS, cb));
        open = null;
        generation++;
      } catch (e) {
        await abort(e);
      }
    },
    async close() {
      if (open) await abort(new KandleError('CLIENT_CLOSED', 'closed with a transaction open')).catch(() => undefined);
      await disconnectProducer(producer);
    },
  };
}

async function connectTransactional(options: Parameters<typeof createTransactionalProducer>[0]): Promise<Producer> {
  const producer = await connectProducer(
    options.resolved,
    {
      'client.id': `${options.clientId}-txn`,
      'transactional.id': options.transactionalId,
      'transaction.timeout.ms': options.transactionTimeoutMs,
      // librdkafka requires socket.timeout.ms ≤ transaction.timeout.ms.
      'socket.timeout.ms': Math.min(60_000, options.transactionTimeoutMs),
    },
    options.userSettings,
  );
  try {
    await call((cb) => producer.initTransactions(TRANSACTION_CALL_TIMEOUT_MS, cb));
  } catch (e) {
    await disconnectProducer(producer);
    throw kandleErrorFrom('TRANSACTION_ABORTED', `could not initialise transactions as ${options.transactionalId}`, e, {
      retriable: true,
    });
  }
  return producer;
}

function call(step: (cb: (err: unknown) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => step((err) => (err ? reject(err) : resolve())));
}
