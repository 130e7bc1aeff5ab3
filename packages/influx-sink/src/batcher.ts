// Batcher: buffers points (coalescing same-series updates), bounds memory by holding writers back, and acks writers once their points are durable.
import type { LinePoint } from './points';

/**
 * The promise behind one `write()` call: resolves when every point it attached is durable, rejects at the
 * first point that can never be. A ticket may ride on an entry it shares with later writers (coalescing).
 */
export class WriteTicket {
  readonly promise: Promise<void>;
  private remaining = 0;
  private admitted = false;
  private settled = false;
  private resolvePromise!: () => void;
  private rejectPromise!: (error: unknown) => void;

  constructor(private readonly onSettled: (ticket: WriteTicket) => void) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /** One more entry now carries this ticket. */
  attach(): void {
    this.remaining++;
  }

  /** Every point of the write has been taken into the buffer; from now on the ticket may resolve. */
  markAdmitted(): void {
    this.admitted = true;
    this.resolveIfDone();
  }

  /** `count` entries carrying this ticket were accepted by the server. */
  ack(count: number): void {
    this.remaining -= count;
    this.resolveIfDone();
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled(this);
    this.rejectPromise(error);
  }

  private resolveIfDone(): void {
    if (this.settled || !this.admitted || this.remaining > 0) return;
    this.settled = true;
    this.onSettled(this);
    this.resolvePromise();
  }
}

/** A point waiting to be sent (or in flight), with every write waiting for it. */
export interface PendingEntry extends LinePoint {
  /** The write that buffered the point. */
  ticket: WriteTicket;
  /** Later writes that coalesced into it; a per-point Set cost more than the rest of the sink's bookkeeping. */
  laterTickets: WriteTicket[] | undefined;
}

function carries(entry: PendingEntry, ticket: WriteTicket): boolean {
  return entry.ticket === ticket || entry.laterTickets?.includes(ticket) === true;
}

function forEachTicket(entry: PendingEntry, visit: (ticket: WriteTicket) => void): void {
  visit(entry.ticket);
  if (entry.laterTickets) for (const ticket of entry.laterTickets) visit(ticket);
}

interface QueuedWrite {
  points: readonly LinePoint[];
  next: number;
  ticket: WriteTicket;
}

/**
 * The buffered entries of one series. Points of a series usually come in timestamp order, so they are kept in an
 * array in that order, which is also the order they were buffered and will be taken in: a new point is appended, a
 * taken one shifted off the front, no hashing per point. The first point older than the newest turns the series'
 * slot into a Map by timestamp until it empties. An array slot is never empty.
 */
type SeriesSlot = PendingEntry[] | Map<number, PendingEntry>;

function find(slot: SeriesSlot, timestamp: number): PendingEntry | undefined {
  if (slot instanceof Map) return slot.get(timestamp);
  const newest = slot[slot.length - 1] as PendingEntry;
  if (newest.timestamp <= timestamp) return newest.timestamp === timestamp ? newest : undefined;
  // Older than the newest: binary search for it.
  let low = 0;
  let high = slot.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((slot[middle] as PendingEntry).timestamp < timestamp) low = middle + 1;
    else high = middle;
  }
  const found = slot[low] as PendingEntry;
  return found.timestamp === timestamp ? found : undefined;
}

/**
 * Holds at most `maxPendingPoints` entries (buffered + in flight). Writes are admitted strictly in call order,
 * so a later update of a series always replaces an earlier one, never the reverse.
 */
export class PointBuffer {
  private readonly index = new Map<string, SeriesSlot>();
  /** Buffered entries, oldest first, from `head` on (the ones before it were taken; compacted now and then). */
  private order: PendingEntry[] = [];
  private head = 0;
  private readonly queue: QueuedWrite[] = [];
  private readonly liveTickets = new Set<WriteTicket>();
  private inFlight = 0;
  private waiting = 0;
  /** Points that replaced a not-yet-sent point of the same series instead of taking a new slot. */
  coalesced = 0;

  constructor(private readonly maxPendingPoints: number) {}

  /** Entries in the buffer, not yet taken into a batch. */
  get bufferedCount(): number {
    return this.order.length - this.head;
  }

  /** Entries buffered or in flight: the quantity `maxPendingPoints` bounds. */
  get pendingCount(): number {
    return this.bufferedCount + this.inFlight;
  }

  /** Points of writes held back by the bound, not yet in the buffer. */
  get waitingCount(): number {
    return this.waiting;
  }

  /** Tickets not yet resolved or rejected. */
  openTickets(): WriteTicket[] {
    return [...this.liveTickets];
  }

  /** Queues a write; call {@link admit} to move what fits into the buffer. */
  enqueue(points: readonly LinePoint[]): WriteTicket {
    const ticket = new WriteTicket((t) => this.liveTickets.delete(t));
    this.liveTickets.add(ticket);
    this.queue.push({ points, next: 0, ticket });
    this.waiting += points.length;
    return ticket;
  }

  /** Moves queued points into the buffer while the bound allows; returns how many it moved. */
  admit(): number {
    let moved = 0;
    while (this.queue.length > 0) {
      const head = this.queue[0] as QueuedWrite;
      while (head.next < head.points.length) {
        const point = head.points[head.next] as LinePoint;
        const slot = this.index.get(point.series);
        const existing = slot === undefined ? undefined : find(slot, point.timestamp);
        if (existing) {
          // Same series and timestamp: the server would overwrite it anyway, so only the newest values are kept.
          existing.values = point.values;
          existing.layout = point.layout;
          if (!carries(existing, head.ticket)) {
            if (existing.laterTickets) existing.laterTickets.push(head.ticket);
            else existing.laterTickets = [head.ticket];
            head.ticket.attach();
          }
          this.coalesced++;
        } else if (this.pendingCount < this.maxPendingPoints) {
          this.add(slot, {
            series: point.series,
            timestamp: point.timestamp,
            values: point.values,
            layout: point.layout,
            ticket: head.ticket,
            laterTickets: undefined,
          });
          head.ticket.attach();
        } else {
          return moved;
        }
        head.next++;
        this.waiting--;
        moved++;
      }
      this.queue.shift();
      head.ticket.markAdmitted();
    }
    return moved;
  }

  /** Removes up to `max` of the oldest buffered entries and counts them as in flight. */
  take(max: number): PendingEntry[] {
    const end = Math.min(this.order.length, this.head + max);
    const batch = this.order.slice(this.head, end);
    this.head = end;
    if (this.head === this.order.length) {
      this.order = [];
      this.head = 0;
    } else if (this.head * 2 > this.order.length) {
      // Drop the taken prefix once it is the larger part: it keeps entries alive after their ack, while shifting it
      // off at every take would copy the whole backlog each time. Each entry is copied at most once this way.
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    for (const entry of batch) this.remove(entry);
    this.inFlight += batch.length;
    return batch;
  }

  /** The server accepted `entries`. */
  ack(entries: readonly PendingEntry[]): void {
    this.inFlight -= entries.length;
    // Consecutive entries of one write are acked at once, in the same order as one by one (writers settle in order).
    let run: WriteTicket | undefined;
    let count = 0;
    for (const entry of entries) {
      if (entry.ticket !== run || entry.laterTickets) {
        if (count > 0) run?.ack(count);
        run = entry.ticket;
        count = 0;
      }
      count++;
      if (entry.laterTickets) {
        run.ack(count);
        count = 0;
        for (const ticket of entry.laterTickets) ticket.ack(1);
      }
    }
    if (count > 0) run?.ack(count);
  }

  /** `entries` can never be made durable. */
  fail(entries: readonly PendingEntry[], error: unknown): void {
    this.inFlight -= entries.length;
    for (const entry of entries) forEachTicket(entry, (ticket) => ticket.fail(error));
  }

  /** Fails everything buffered or queued (used when closing gives up); in-flight entries are left to their batch. */
  failUnsent(error: unknown): number {
    const entries = this.order.slice(this.head);
    this.order = [];
    this.head = 0;
    this.index.clear();
    for (const entry of entries) forEachTicket(entry, (ticket) => ticket.fail(error));
    let points = entries.length;
    for (const queued of this.queue.splice(0)) {
      points += queued.points.length - queued.next;
      queued.ticket.fail(error);
    }
    this.waiting = 0;
    return points;
  }

  /** Buffers `entry`, whose series had `slot` in the index (looked up once by the caller). */
  private add(slot: SeriesSlot | undefined, entry: PendingEntry): void {
    this.order.push(entry);
    if (slot === undefined) {
      this.index.set(entry.series, [entry]);
    } else if (slot instanceof Map) {
      slot.set(entry.timestamp, entry);
    } else if ((slot[slot.length - 1] as PendingEntry).timestamp < entry.timestamp) {
      slot.push(entry);
    } else {
      // Out of timestamp order: inserting into the array could cost a copy of it per point, a Map never does.
      const byTimestamp = new Map<number, PendingEntry>();
      for (const buffered of slot) byTimestamp.set(buffered.timestamp, buffered);
      this.index.set(entry.series, byTimestamp.set(entry.timestamp, entry));
    }
  }

  private remove(entry: PendingEntry): void {
    const slot = this.index.get(entry.series);
    if (slot === undefined) return;
    if (slot instanceof Map) {
      slot.delete(entry.timestamp);
      if (slot.size === 0) this.index.delete(entry.series);
      return;
    }
    // Entries are taken in the order they were buffered, which is the array's order: this one is at the front.
    if (slot[0] === entry) slot.shift();
    else {
      const at = slot.indexOf(entry);
      if (at >= 0) slot.splice(at, 1);
    }
    if (slot.length === 0) this.index.delete(entry.series);
  }
}
