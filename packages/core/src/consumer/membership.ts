// Consumer / membership: the group's rebalance events, queued by librdkafka's callback and applied between batches (eager or cooperative, native or custom assignor).
import type { LiveAssignment } from '../assignors/live';
import type { TopicPartition } from '../assignors/types';
import type { KafkaConsumer, NativeCodes } from '../rdkafka';
import type { RebalanceEvent } from './options';

/** A partition to read and, when known, the offset to read it from. */
export type StartPosition = TopicPartition & { offset?: number };

/** What the rest of the consumer does when partitions come and go. */
export interface MembershipHooks {
  /** Before `partitions` are released: settle their work (commit). */
  revoke(partitions: TopicPartition[]): Promise<void>;
  /** Before reading `partitions`: take them over (restore), and say where to read each from. */
  assign(partitions: TopicPartition[]): Promise<StartPosition[]>;
  /**
   * Right after librdkafka assigned `partitions` (only then can they be paused: pausing a partition it has not
   * assigned yet throws "Local: Unknown partition", which failed the assignment and left it pending for good).
   */
  assigned(partitions: TopicPartition[]): void;
  owned(): TopicPartition[];
}

export interface Membership {
  /** librdkafka's `rebalance_cb`: runs inside consume(); only queues (the work needs awaits). */
  readonly rebalanceCallback: (err: { code: number }, assignment: TopicPartition[]) => void;
  attach(consumer: KafkaConsumer): void;
  hasPending(): boolean;
  /** A revoke waits to be applied (the group waits for this member to release partitions). */
  hasPendingRevoke(): boolean;
  /** Applies the queued events in order. */
  apply(): Promise<void>;
  /** Closing: from now on the callback releases revoked partitions at once (disconnect waits for that). */
  stop(): void;
}

interface Incremental {
  incrementalAssign(p: unknown): void;
  incrementalUnassign(p: unknown): void;
}

export function createMembership(options: {
  codes: NativeCodes;
  /** `cooperative-sticky` uses incremental (un)assign; everything else is eager. */
  cooperative: boolean;
  /** Set for a custom assignor: it, not the group protocol, decides what this member reads. */
  live: LiveAssignment | undefined;
  hooks: MembershipHooks;
  onRebalance: (event: RebalanceEvent) => void;
}): Membership {
  const { codes, cooperative, live, hooks } = options;
  const queue: Array<{ type: 'assign' | 'revoke'; partitions: TopicPartition[] }> = [];
  let consumer: KafkaConsumer | undefined;
  let stopped = false;

  const release = (partitions: TopicPartition[]) => {
    if (cooperative) (consumer as unknown as Incremental).incrementalUnassign(partitions);
    else consumer?.unassign();
  };

  async function revoke(partitions: TopicPartition[]): Promise<void> {
    // A custom assignor may have given this member other partitions than the protocol did: release all it owns.
    const revoked = live ? hooks.owned() : partitions;
    await hooks.revoke(revoked);
    release(partitions);
    options.onRebalance({ type: 'revoked', partitions: revoked, owned: hooks.owned() });
  }

  async function assign(proposed: TopicPartition[]): Promise<void> {
    // The group protocol proposed `proposed`; a custom assignor decides what this member really reads.
    const mine = live ? await live.assignmentFor(proposed) : proposed;
    const positions = await hooks.assign(mine);
    if (cooperative) (consumer as unknown as Incremental).incrementalAssign(positions);
    else consumer?.assign(positions as never);
    hooks.assigned(mine);
    options.onRebalance({ type: 'assigned', partitions: mine, owned: hooks.owned() });
  }

  return {
    rebalanceCallback(err, assignment) {
      const partitions = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
      if (stopped) {
        // Closing: everything was committed after the last batch, so release at once or disconnect never returns.
        if (err.code === codes.ERRORS.ERR__REVOKE_PARTITIONS) release(assignment);
        return;
      }
      if (err.code === codes.ERRORS.ERR__ASSIGN_PARTITIONS) queue.push({ type: 'assign', partitions });
      else if (err.code === codes.ERRORS.ERR__REVOKE_PARTITIONS) queue.push({ type: 'revoke', partitions });
    },
    attach(c) {
      consumer = c;
    },
    hasPending: () => queue.length > 0,
    hasPendingRevoke: () => queue.some((e) => e.type === 'revoke'),
    async apply() {
      while (queue.length > 0) {
        const event = queue[0] as (typeof queue)[number];
        // Removed only once applied: a failing custom assignor leaves the generation's assignment pending,
        // and the runner reports the error and tries again shortly.
        if (event.type === 'revoke') await revoke(event.partitions);
        else await assign(event.partitions);
        queue.shift();
      }
    },
    stop() {
      stopped = true;
    },
  };
}
