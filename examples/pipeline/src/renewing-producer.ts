// Renewing producer: replaces the pipeline's idempotent producer when librdkafka declares it fatally failed, so writes resume after an outage.
import { type CryptoProducer, isFatalClientError, type ProducerMetrics } from '@kandle/core';

/** Options of {@link createRenewingProducer}. */
export interface RenewingProducerOptions {
  /** Creates a producer (the first one, and each replacement). */
  create: () => Promise<CryptoProducer>;
  /** Told when a fatally failed producer was replaced (`reason`: its error), or a replacement failed. */
  onRenew?: (event: { replaced: boolean; reason: string }) => void;
}

/**
 * A {@link CryptoProducer} that sends through one idempotent producer and, when that producer reports a fatal error,
 * replaces it with a new one. Why: with two of three brokers stopped, records wait for `min.insync.replicas` until
 * `message.timeout.ms`; an idempotent librdkafka producer whose in-flight records timed out can end in a fatal state
 * (seen in the fault lab: "Local: Fatal error" for every later record), and then writes would never resume after the
 * brokers return. Records that failed stay failed (reported to their senders): nothing is re-sent, so no duplicate
 * comes from the swap. Metrics add up the retired producers' delivered and failed counts.
 *
 * @example
 * ```ts
 * const producer = await createRenewingProducer({ create: () => createCryptoProducer(options) });
 * await producer.send(event);
 * ```
 */
export async function createRenewingProducer(options: RenewingProducerOptions): Promise<CryptoProducer> {
  let current = await options.create();
  const retired = { delivered: 0, failed: 0 };
  let renewing: Promise<void> | undefined;

  const renew = (reason: string): void => {
    renewing ??= (async () => {
      const failed = current;
      try {
        current = await options.create();
        const { delivered, failed: failures } = failed.metrics();
        retired.delivered += delivered;
        retired.failed += failures;
        // Its queue holds only failed records; closing it must not hold up the swap.
        void failed.close().catch(() => undefined);
        options.onRenew?.({ replaced: true, reason });
      } catch (e) {
        options.onRenew?.({ replaced: false, reason: `${reason}; replacement failed: ${(e as Error).message}` });
      }
    })().finally(() => {
      renewing = undefined;
    });
  };

  const watch = <T>(sent: Promise<T>): Promise<T> => {
    sent.catch((e: unknown) => {
      if (isFatalClientError(e)) renew((e as Error).message);
    });
    return sent;
  };

  return {
    get schemaIds() {
      return current.schemaIds;
    },
    get topics() {
      return current.topics;
    },
    send: (event, o) => watch(current.send(event, o)),
    sendTicker: (ticker, o) => watch(current.sendTicker(ticker, o)),
    sendTrade: (trade, o) => watch(current.sendTrade(trade, o)),
    async flush(timeoutMs) {
      await renewing;
      return current.flush(timeoutMs);
    },
    metrics(): ProducerMetrics {
      const m = current.metrics();
      return { ...m, delivered: m.delivered + retired.delivered, failed: m.failed + retired.failed };
    },
    async close() {
      await renewing;
      await current.close();
    },
  };
}
