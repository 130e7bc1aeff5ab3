// Assignors / live: lets a custom Assignor decide which member of a real librdkafka group reads which partition.
import type { KafkaAdmin } from '../admin';
import { AssignmentError, KandleError } from '../errors';
import { errorLogFields, type KandleLogger } from '../logger';
import type { Assignor, GroupMember, TopicPartition } from './types';
import { validateAssignment } from './validate';

/** Commit metadata kandle writes with every offset: who owned the partition and the series' newest event times. */
export interface CommitMetadata {
  /** Client id of the member that committed (the partition's owner). */
  o: string;
  /** Newest event time per `symbol|source` series processed up to this commit. */
  w: Record<string, number>;
}

/**
 * Most bytes of commit metadata kandle writes. Brokers refuse a commit whose metadata exceeds
 * `offset.metadata.max.bytes` (default 4096) with "Offset metadata string too large", every time: with a few
 * hundred symbols the event times alone passed that, and no offset was ever committed.
 */
export const MAX_COMMIT_METADATA_BYTES = 2048;

/**
 * Serializes {@link CommitMetadata}; keys are short. The event times are informational (the changelog holds every
 * clock), so when they would not fit in {@link MAX_COMMIT_METADATA_BYTES}, `w` is written empty; the owner always is.
 */
export function formatCommitMetadata(owner: string, maxEventTime: Map<string, number>): string {
  const full = JSON.stringify({ o: owner, w: Object.fromEntries(maxEventTime) } satisfies CommitMetadata);
  if (Buffer.byteLength(full) <= MAX_COMMIT_METADATA_BYTES) return full;
  return JSON.stringify({ o: owner, w: {} } satisfies CommitMetadata);
}

/** Parses commit metadata written by {@link formatCommitMetadata}; null for anything else. */
export function parseCommitMetadata(metadata: string | null | undefined): CommitMetadata | null {
  if (!metadata) return null;
  try {
    const parsed = JSON.parse(metadata) as Partial<CommitMetadata>;
    if (typeof parsed.o !== 'string' || typeof parsed.w !== 'object' || parsed.w === null) return null;
    return parsed as CommitMetadata;
  } catch {
    return null;
  }
}

/** The per-member driver of a custom assignor (internal to the consumer). */
export interface LiveAssignment {
  /** After the group protocol settled a generation: the partitions this member must read. */
  assignmentFor(proposed: TopicPartition[]): Promise<TopicPartition[]>;
}

export interface LiveAssignmentOptions {
  assignor: Assignor;
  admin: KafkaAdmin;
  groupId: string;
  /** This member's client id: the identity the assignor sees as `memberId`. */
  clientId: string;
  topics: string[];
  /** Receives the retriable coordinator errors met while the group settles (debug). Default: silent. */
  logger?: KandleLogger;
  /** How long to wait for the group to become Stable after a rebalance. Default 30000 ms. */
  settleTimeoutMs?: number;
}

/**
 * Every member runs the same deterministic computation over the same inputs, so they agree without
 * talking to each other: the member list comes from the coordinator (DescribeGroups, once the
 * generation is Stable), partition counts from metadata, and `owned` from the commit metadata
 * (the last member that committed a partition owned it). See docs/assignors.md.
 */
export function createLiveAssignment(options: LiveAssignmentOptions): LiveAssignment {
  const { assignor, admin, groupId, clientId, topics } = options;
  const settleTimeoutMs = options.settleTimeoutMs ?? 30_000;

  async function stableMembers(): Promise<string[]> {
    const deadline = Date.now() + settleTimeoutMs;
    for (;;) {
      // A coordinator that is loading or moving (a fresh cluster, a broker restart) answers with a retriable
      // error for a few seconds: that is part of settling, not a failure of the assignment.
      const group = await admin.describeGroup(groupId).catch((e: unknown) => {
        if (e instanceof KandleError && e.retriable && Date.now() < deadline) {
          options.logger?.debug(errorLogFields(e), `group "${groupId}" not settled yet`);
          return undefined;
        }
        throw e;
      });
      if (!group) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const ids = group.members.map((m) => m.clientId);
      const unique = new Set(ids);
      if (unique.size !== ids.length) {
        throw new AssignmentError(
          `custom assignment needs unique client ids in group "${groupId}"; duplicates in ${ids.join(', ')}`,
        );
      }
      if (/stable/i.test(group.state) && unique.has(clientId)) return [...unique].sort();
      if (Date.now() > deadline)
        throw new AssignmentError(
          `group "${groupId}" did not settle within ${settleTimeoutMs} ms (state ${group.state})`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return {
    async assignmentFor() {
      const memberIds = await stableMembers();
      const partitionsPerTopic: Record<string, number> = {};
      const owned = new Map<string, TopicPartition[]>();
      for (const topic of topics) {
        partitionsPerTopic[topic] = (await admin.describeTopic(topic)).length;
        for (const c of await admin.committedOffsets(groupId, topic)) {
          const owner = parseCommitMetadata(c.metadata)?.o;
          if (owner && memberIds.includes(owner))
            owned.set(owner, [...(owned.get(owner) ?? []), { topic, partition: c.partition }]);
        }
      }
      const members: GroupMember[] = memberIds.map((id) => {
        const mine = owned.get(id);
        return mine ? { memberId: id, topics, owned: mine } : { memberId: id, topics };
      });
      const result = assignor.assign(members, partitionsPerTopic);
      validateAssignment(members, partitionsPerTopic, result, assignor.name);
      // Membership changes trigger a group rebalance (join, leave, session timeout), so this is the only hook needed.
      return result[clientId] ?? [];
    },
  };
}
