// Fault lab: stops and restarts brokers of a stack this process started, one request at a time, for the live page.
/**
 * The broker JVMs of a cluster this process started (`@kandle/local-stack`'s `KafkaCluster` fits). Never built for
 * brokers found elsewhere (`KAFKA_BROKERS`, `npm run stack:up`, compose): the lab must not stop what it did not start.
 */
export interface BrokerControl {
  readonly brokers: ReadonlyArray<{ id: number }>;
  /** SIGTERM is a controlled shutdown (leaders move first), SIGKILL a crash (`kill -9`). */
  stopBroker(id: number, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  startBroker(id: number): Promise<void>;
  isRunning(id: number): boolean;
}

/** What the page can ask the lab to do. */
export type FaultAction = 'stop' | 'kill' | 'start';

/** One operation of the lab, running or finished. */
export interface FaultOperation {
  action: FaultAction;
  brokerId: number;
  startedAt: number;
  /** Unix ms, or null while it runs. */
  endedAt: number | null;
  /** Null while it runs or after it succeeded. */
  error: string | null;
}

/** What the page shows of the lab. */
export type FaultLabView =
  | { enabled: false; reason: string }
  | {
      enabled: true;
      /** Broker ids with whether their JVM runs (the process, not what the metadata says). */
      brokers: Array<{ id: number; running: boolean }>;
      /** The operation in progress, or null. */
      busy: FaultOperation | null;
      last: FaultOperation | null;
    };

/** A request the lab refuses: `status` is the HTTP answer (404 no lab, 400 bad request, 409 busy or pointless). */
export class FaultRequestError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'FaultRequestError';
  }
}

/** Options of {@link createFaultLab}. */
export interface FaultLabOptions {
  /** The brokers this process started; undefined turns the lab off (the page says `disabledReason`). */
  control: BrokerControl | undefined;
  /** Shown on the page when `control` is undefined. Default: a sentence about stacks kandle did not start. */
  disabledReason?: string;
  /** Told of each operation as it starts and ends (the timeline). Default: nobody. */
  onEvent?: (kind: 'fault-requested' | 'fault-done' | 'fault-failed', message: string) => void;
}

/** The lab; see {@link createFaultLab}. */
export interface FaultLab {
  view(): FaultLabView;
  /**
   * Starts `action` on broker `brokerId` and returns at once; the operation runs in the background (a controlled
   * shutdown or a restart takes seconds to a minute) and `view().busy` shows it.
   * @throws {FaultRequestError} when the lab is off, the broker is unknown, another operation runs, or the broker is
   * already in the asked state.
   */
  request(action: FaultAction, brokerId: number): FaultOperation;
  /** Resolves when the operation in progress (if any) has ended. */
  idle(): Promise<void>;
}

/**
 * Creates the fault lab. One operation at a time: a second request (a double click, a second tab) while one runs is
 * refused with a 409-style {@link FaultRequestError}, so the cluster is never stopped and started concurrently.
 *
 * @example
 * ```ts
 * const lab = createFaultLab({ control: cluster });
 * lab.request('kill', 2); // kill -9 of broker 2's JVM
 * await lab.idle();
 * ```
 */
export function createFaultLab(options: FaultLabOptions): FaultLab {
  const control = options.control;
  const emit = options.onEvent ?? (() => undefined);
  let busy: FaultOperation | null = null;
  let running: Promise<void> = Promise.resolve();
  let last: FaultOperation | null = null;

  const describe = (action: FaultAction, id: number) =>
    action === 'kill'
      ? `kill -9 broker ${id}`
      : action === 'stop'
        ? `stop broker ${id} (SIGTERM)`
        : `start broker ${id}`;

  const run = async (operation: FaultOperation, lab: BrokerControl): Promise<void> => {
    const { action, brokerId } = operation;
    try {
      if (action === 'start') await lab.startBroker(brokerId);
      else await lab.stopBroker(brokerId, action === 'kill' ? 'SIGKILL' : 'SIGTERM');
      emit('fault-done', `${describe(action, brokerId)}: done`);
    } catch (e) {
      operation.error = (e as Error).message;
      emit('fault-failed', `${describe(action, brokerId)} failed: ${operation.error}`);
    } finally {
      operation.endedAt = Date.now();
      last = operation;
      busy = null;
    }
  };

  return {
    view() {
      if (!control)
        return {
          enabled: false,
          reason:
            options.disabledReason ??
            'fault controls are off: this job did not start the brokers, and the lab only stops what it started',
        };
      return {
        enabled: true,
        brokers: control.brokers.map((b) => ({ id: b.id, running: control.isRunning(b.id) })),
        busy: busy && { ...busy },
        last: last && { ...last },
      };
    },
    request(action, brokerId) {
      if (!control) throw new FaultRequestError(404, 'fault controls are off for this stack');
      if (!control.brokers.some((b) => b.id === brokerId))
        throw new FaultRequestError(400, `no broker ${brokerId}; brokers are ${control.brokers.map((b) => b.id)}`);
      if (busy) throw new FaultRequestError(409, `busy: ${describe(busy.action, busy.brokerId)} is still in progress`);
      const isRunning = control.isRunning(brokerId);
      if (action === 'start' && isRunning) throw new FaultRequestError(409, `broker ${brokerId} is already running`);
      if (action !== 'start' && !isRunning) throw new FaultRequestError(409, `broker ${brokerId} is already stopped`);
      const operation: FaultOperation = { action, brokerId, startedAt: Date.now(), endedAt: null, error: null };
      busy = operation;
      emit('fault-requested', `${describe(action, brokerId)} (from the page)`);
      running = run(operation, control);
      return { ...operation };
    },
    idle: () => running,
  };
}
