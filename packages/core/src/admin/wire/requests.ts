// Admin wire / requests: the body layouts of the Kafka requests kandle speaks and of their answers, per version.
//
// Only non-flexible versions (see codec.ts), and none of the v0s Kafka 4.x rejects (KIP-896) except ApiVersions.
// Field order follows the message definitions in apache/kafka clients/src/main/resources/common/message/*.json.
import { Reader, WireFormatError, type Writer } from './codec';

/** One Kafka API: its key, the versions kandle can speak, and how to write a request and read the answer. */
export interface Api<Args, Answer> {
  name: string;
  key: number;
  min: number;
  max: number;
  encode(w: Writer, version: number, args: Args): void;
  decode(r: Reader, version: number): Answer;
}

// --- ApiVersions (18) v0..2: which versions the broker speaks -------------------------------------------------

export interface ApiVersionsAnswer {
  errorCode: number;
  apis: Array<{ key: number; min: number; max: number }>;
}

export const apiVersions: Api<void, ApiVersionsAnswer> = {
  name: 'ApiVersions',
  key: 18,
  min: 0,
  max: 2,
  encode: () => undefined,
  decode(r) {
    const errorCode = r.int16();
    const apis = r.array((a) => ({ key: a.int16(), min: a.int16(), max: a.int16() }));
    return { errorCode, apis };
  },
};

// --- Metadata (3) v4..8: brokers, controller, partition leaders -----------------------------------------------

export interface MetadataAnswer {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
  controllerId: number;
  topics: Array<{
    errorCode: number;
    name: string;
    partitions: Array<{ errorCode: number; partition: number; leader: number; replicas: number[]; isr: number[] }>;
  }>;
}

export const metadata: Api<{ topics: string[] | null }, MetadataAnswer> = {
  name: 'Metadata',
  key: 3,
  min: 4,
  max: 8,
  encode(w, v, { topics }) {
    w.array(topics, (t, name) => t.string(name));
    // Never create a topic by asking about it: a typo would make one with the broker defaults.
    w.bool(false);
    if (v >= 8) w.bool(false).bool(false);
  },
  decode(r, v) {
    r.int32(); // throttle_time_ms
    const brokers = r.array((b) => {
      const broker = { nodeId: b.int32(), host: b.string(), port: b.int32() };
      b.nullableString(); // rack
      return broker;
    });
    r.nullableString(); // cluster_id
    const controllerId = r.int32();
    const topics = r.array((t) => {
      const errorCode = t.int16();
      const name = t.string();
      t.bool(); // is_internal
      const partitions = t.array((p) => {
        const partition = { errorCode: p.int16(), partition: p.int32(), leader: p.int32() };
        if (v >= 7) p.int32(); // leader_epoch
        const replicas = p.array((n) => n.int32());
        const isr = p.array((n) => n.int32());
        if (v >= 5) p.array((n) => n.int32()); // offline_replicas
        return { ...partition, replicas, isr };
      });
      if (v >= 8) t.int32(); // topic_authorized_operations
      return { errorCode, name, partitions };
    });
    if (v >= 8) r.int32(); // cluster_authorized_operations
    return { brokers, controllerId, topics };
  },
};

// --- FindCoordinator (10) v1..2: the broker that coordinates a group -----------------------------------------

export interface CoordinatorAnswer {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export const findCoordinator: Api<{ groupId: string }, CoordinatorAnswer> = {
  name: 'FindCoordinator',
  key: 10,
  min: 1,
  max: 2,
  encode(w, _v, { groupId }) {
    w.string(groupId).int8(0); // key type 0: a consumer group
  },
  decode(r) {
    r.int32(); // throttle_time_ms
    return {
      errorCode: r.int16(),
      errorMessage: r.nullableString(),
      nodeId: r.int32(),
      host: r.string(),
      port: r.int32(),
    };
  },
};

// --- DescribeGroups (15) v1..4: state, protocol and members of groups ----------------------------------------

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: Array<{ memberId: string; clientId: string; clientHost: string; assignment: Buffer }>;
}

export const describeGroups: Api<{ groupIds: string[] }, DescribedGroup[]> = {
  name: 'DescribeGroups',
  key: 15,
  min: 1,
  max: 4,
  encode(w, v, { groupIds }) {
    w.array(groupIds, (g, id) => g.string(id));
    if (v >= 3) w.bool(false); // include_authorized_operations
  },
  decode(r, v) {
    r.int32(); // throttle_time_ms
    return r.array((g) => {
      const group = {
        errorCode: g.int16(),
        groupId: g.string(),
        state: g.string(),
        protocolType: g.string(),
        protocol: g.string(),
      };
      const members = g.array((m) => {
        const memberId = m.string();
        if (v >= 4) m.nullableString(); // group_instance_id
        const member = { memberId, clientId: m.string(), clientHost: m.string() };
        m.bytes(); // member_metadata
        return { ...member, assignment: m.bytes() };
      });
      if (v >= 3) g.int32(); // authorized_operations
      return { ...group, members };
    });
  },
};

// --- OffsetFetch (9) v1..5: a group's committed offsets ------------------------------------------------------

export interface OffsetFetchAnswer {
  /** Group-level error (v2+; 0 before). */
  errorCode: number;
  topics: Array<{
    name: string;
    partitions: Array<{ partition: number; offset: number; metadata: string | null; errorCode: number }>;
  }>;
}

export const offsetFetch: Api<
  { groupId: string; topics: Array<{ name: string; partitions: number[] }> },
  OffsetFetchAnswer
> = {
  name: 'OffsetFetch',
  key: 9,
  min: 1,
  max: 5,
  encode(w, _v, { groupId, topics }) {
    w.string(groupId);
    w.array(topics, (t, topic) => t.string(topic.name).array(topic.partitions, (p, n) => p.int32(n)));
  },
  decode(r, v) {
    if (v >= 3) r.int32(); // throttle_time_ms
    const topics = r.array((t) => ({
      name: t.string(),
      partitions: t.array((p) => {
        const partition = p.int32();
        const offset = p.int64();
        if (v >= 5) p.int32(); // committed_leader_epoch
        return { partition, offset, metadata: p.nullableString(), errorCode: p.int16() };
      }),
    }));
    return { errorCode: v >= 2 ? r.int16() : 0, topics };
  },
};

// --- ListOffsets (2) v1..5: earliest and latest offsets of partitions, asked of their leader --------------------

/** ListOffsets' special timestamps. */
export const LATEST = -1;
export const EARLIEST = -2;

export interface ListedOffset {
  topic: string;
  partition: number;
  errorCode: number;
  offset: number;
}

export const listOffsets: Api<{ topic: string; partitions: number[]; timestamp: number }, ListedOffset[]> = {
  name: 'ListOffsets',
  key: 2,
  min: 1,
  max: 5,
  encode(w, v, { topic, partitions, timestamp }) {
    w.int32(-1); // replica_id: a client, not a follower
    // READ_COMMITTED, as KafkaJS asked before: the end offset is the last stable offset, what a group can commit.
    if (v >= 2) w.int8(1);
    w.array([topic], (t, name) => {
      t.string(name).array(partitions, (p, n) => {
        p.int32(n);
        if (v >= 4) p.int32(-1); // current_leader_epoch unknown
        p.int64(timestamp);
      });
    });
  },
  decode(r, v) {
    if (v >= 2) r.int32(); // throttle_time_ms
    return r
      .array((t) => {
        const topic = t.string();
        return t.array((p) => {
          const listed = { topic, partition: p.int32(), errorCode: p.int16() };
          p.int64(); // timestamp
          const offset = p.int64();
          if (v >= 4) p.int32(); // leader_epoch
          return { ...listed, offset };
        });
      })
      .flat();
  },
};

// --- DescribeConfigs (32) v1..3: a topic's configs ----------------------------------------------------------

export interface DescribedConfigs {
  errorCode: number;
  errorMessage: string | null;
  name: string;
  configs: Array<{ name: string; value: string | null }>;
}

/** Resource type 2: a topic. */
export const TOPIC_RESOURCE = 2;

export const describeConfigs: Api<{ topic: string; names: string[] | null }, DescribedConfigs[]> = {
  name: 'DescribeConfigs',
  key: 32,
  min: 1,
  max: 3,
  encode(w, v, { topic, names }) {
    w.array([topic], (res, name) =>
      res
        .int8(TOPIC_RESOURCE)
        .string(name)
        .array(names, (n, key) => n.string(key)),
    );
    w.bool(false); // include_synonyms
    if (v >= 3) w.bool(false); // include_documentation
  },
  decode(r, v) {
    r.int32(); // throttle_time_ms
    return r.array((res) => {
      const head = { errorCode: res.int16(), errorMessage: res.nullableString() };
      res.int8(); // resource_type
      const name = res.string();
      const configs = res.array((c) => {
        const config = { name: c.string(), value: c.nullableString() };
        c.bool(); // read_only
        c.int8(); // config_source
        c.bool(); // is_sensitive
        c.array((s) => [s.string(), s.nullableString(), s.int8()]); // synonyms
        if (v >= 3) {
          c.int8(); // config_type
          c.nullableString(); // documentation
        }
        return config;
      });
      return { ...head, name, configs };
    });
  },
};

// --- CreateTopics (19) v2..4: new topics, created by the controller (any broker forwards) ---------------------

export interface NewTopic {
  name: string;
  /** −1: the broker default (v4+). */
  partitions: number;
  replicationFactor: number;
  configs: Array<{ name: string; value: string }>;
}

export interface CreatedTopic {
  name: string;
  errorCode: number;
  errorMessage: string | null;
}

export const createTopics: Api<{ topics: NewTopic[]; timeoutMs: number }, CreatedTopic[]> = {
  name: 'CreateTopics',
  key: 19,
  min: 2,
  max: 4,
  encode(w, v, { topics, timeoutMs }) {
    if (v < 4 && topics.some((t) => t.partitions < 0 || t.replicationFactor < 0))
      throw new WireFormatError(`CreateTopics v${v} cannot use the broker's default partitions or replication`);
    w.array(topics, (t, topic) => {
      t.string(topic.name).int32(topic.partitions).int16(topic.replicationFactor);
      t.array([], () => undefined); // assignments: the controller places replicas
      t.array(topic.configs, (c, config) => c.string(config.name).string(config.value));
    });
    w.int32(timeoutMs).bool(false); // validate_only
  },
  decode(r) {
    r.int32(); // throttle_time_ms
    return r.array((t) => ({ name: t.string(), errorCode: t.int16(), errorMessage: t.nullableString() }));
  },
};

// --- SaslHandshake (17) v1 and SaslAuthenticate (36) v0..1 --------------------------------------------------

export const saslHandshake: Api<{ mechanism: string }, { errorCode: number; mechanisms: string[] }> = {
  name: 'SaslHandshake',
  key: 17,
  min: 1,
  max: 1,
  encode(w, _v, { mechanism }) {
    w.string(mechanism);
  },
  decode(r) {
    return { errorCode: r.int16(), mechanisms: r.array((m) => m.string()) };
  },
};

export const saslAuthenticate: Api<
  { authBytes: Buffer },
  { errorCode: number; errorMessage: string | null; authBytes: Buffer }
> = {
  name: 'SaslAuthenticate',
  key: 36,
  min: 0,
  max: 1,
  encode(w, _v, { authBytes }) {
    w.bytes(authBytes);
  },
  decode(r, v) {
    const answer = { errorCode: r.int16(), errorMessage: r.nullableString(), authBytes: r.bytes() };
    if (v >= 1) r.int64(); // session_lifetime_ms
    return answer;
  },
};

// --- The consumer protocol's MemberAssignment (inside DescribeGroups' member_assignment) ---------------------

/** Topic partitions of a consumer-protocol assignment (versions 0..3 share this layout; user data is skipped). */
export function decodeMemberAssignment(buffer: Buffer): Array<{ topic: string; partition: number }> {
  const r = new Reader(buffer);
  r.int16(); // version
  return r
    .array((t) => {
      const topic = t.string();
      return t.array((p) => ({ topic, partition: p.int32() }));
    })
    .flat();
}
