// Timeline: what happened to the cluster as the page saw it (brokers, leaders, ISR, rebalances, refused writes, lab actions).

/** Kinds of {@link TimelineEvent}. */
export type TimelineKind =
  | 'broker-down'
  | 'broker-up'
  | 'leader'
  | 'isr-shrink'
  | 'isr-expand'
  | 'group'
  | 'writes-refused'
  | 'writes-resumed'
  | 'fault';

/** One line of the timeline. */
export interface TimelineEvent {
  /** Unix ms: when kandle noticed it (a view refresh) or did it (a lab action). */
  at: number;
  kind: TimelineKind;
  message: string;
}

/** What {@link Timeline.observe} compares between two refreshes; parts that failed to refresh are undefined. */
export interface ClusterObservation {
  /** Up/down per broker id, from the metadata. */
  brokers?: ReadonlyArray<{ id: number; up: boolean | null }>;
  partitions?: ReadonlyArray<{ topic: string; partition: number; leader: number; isr: readonly number[] }>;
  group?: { state: string; members: ReadonlyArray<{ clientId: string; assignment: readonly unknown[] }> };
}

/** Options of {@link createTimeline}. */
export interface TimelineOptions {
  /** Events kept, newest last; older ones are dropped. Default 200. */
  limit?: number;
  /** Default `Date.now`. */
  now?: () => number;
}

/** The timeline; see {@link createTimeline}. */
export interface Timeline {
  add(kind: TimelineKind, message: string): void;
  /** Records what changed since the previous observation (nothing the first time: that is the starting state). */
  observe(observation: ClusterObservation): void;
  /** The kept events, oldest first. */
  events(): TimelineEvent[];
}

/**
 * Creates a timeline that turns successive observations of the cluster into events: broker down/up, leader changes,
 * ISR shrinks and expansions, group state and membership changes (rebalances). Each part is compared only with the
 * last time that part was seen, so a part that failed to refresh neither invents nor hides changes.
 *
 * @example
 * ```ts
 * const timeline = createTimeline();
 * timeline.observe({ brokers: [{ id: 1, up: true }] });
 * timeline.observe({ brokers: [{ id: 1, up: false }] }); // "broker 1 down"
 * ```
 */
export function createTimeline(options: TimelineOptions = {}): Timeline {
  const limit = options.limit ?? 200;
  const now = options.now ?? Date.now;
  const kept: TimelineEvent[] = [];
  let brokers: Map<number, boolean | null> | undefined;
  let partitions: Map<string, { leader: number; isr: readonly number[] }> | undefined;
  let group: { state: string; members: string } | undefined;

  const add = (kind: TimelineKind, message: string): void => {
    kept.push({ at: now(), kind, message });
    if (kept.length > limit) kept.splice(0, kept.length - limit);
  };

  const observeBrokers = (seen: NonNullable<ClusterObservation['brokers']>): void => {
    const next = new Map(seen.map((b) => [b.id, b.up]));
    if (brokers)
      for (const [id, up] of next) {
        const before = brokers.get(id);
        if (up === false && before !== false) add('broker-down', `broker ${id} down (not in the cluster metadata)`);
        if (up === true && before === false) add('broker-up', `broker ${id} up again`);
      }
    brokers = next;
  };

  const observePartitions = (seen: NonNullable<ClusterObservation['partitions']>): void => {
    const next = new Map(seen.map((p) => [`${p.topic}[${p.partition}]`, { leader: p.leader, isr: [...p.isr] }]));
    if (partitions)
      for (const [name, p] of next) {
        const before = partitions.get(name);
        if (!before) continue;
        if (before.leader !== p.leader)
          add('leader', `${name}: leader ${leaderName(before.leader)} → ${leaderName(p.leader)}`);
        const shrunk = before.isr.filter((id) => !p.isr.includes(id));
        const grown = p.isr.filter((id) => !before.isr.includes(id));
        if (shrunk.length > 0)
          add(
            'isr-shrink',
            `${name}: ISR ${before.isr.join(',')} → ${p.isr.join(',') || '(empty)'} (${shrunk} out of sync)`,
          );
        if (grown.length > 0)
          add(
            'isr-expand',
            `${name}: ISR ${before.isr.join(',') || '(empty)'} → ${p.isr.join(',')} (${grown} caught up)`,
          );
      }
    partitions = next;
  };

  const observeGroup = (seen: NonNullable<ClusterObservation['group']>): void => {
    const members = seen.members
      .map((m) => `${m.clientId}:${m.assignment.length}`)
      .sort()
      .join(' ');
    if (group && (group.state !== seen.state || group.members !== members))
      add(
        'group',
        `group ${group.state} → ${seen.state}; ${seen.members.length} member(s)${
          members ? ` (${seen.members.map((m) => `${m.clientId} ${m.assignment.length}p`).join(', ')})` : ''
        }`,
      );
    group = { state: seen.state, members };
  };

  return {
    add,
    observe(observation) {
      if (observation.brokers) observeBrokers(observation.brokers);
      if (observation.partitions) observePartitions(observation.partitions);
      if (observation.group) observeGroup(observation.group);
    },
    events: () => kept.map((e) => ({ ...e })),
  };
}

/** Kafka reports −1 while a partition has no leader (every replica of its ISR down). */
function leaderName(id: number): string {
  return id < 0 ? 'none' : String(id);
}
