// Admin wire / client: knows the brokers, routes each request to a live broker, the group coordinator or partition leaders.
//
// No caching of coordinators or leaders: admin calls are rare, and asking each time is what makes a call after a
// broker restart or a coordinator move go to the right broker. A connection that failed is dropped and reopened on
// the next request; retrying a whole call is the caller's (PureAdmin's, through the one retry helper).
import { Connection, type ConnectionOptions } from './connection';
import { BrokerConnectionError, KafkaProtocolError, throwIfError } from './errors';
import { type Api, findCoordinator, type MetadataAnswer, metadata } from './requests';

export class WireClient {
  private readonly connections = new Map<string, Promise<Connection>>();
  private readonly bootstrap: string[];
  /** Addresses of the brokers the last metadata listed, by node id. */
  private nodes = new Map<number, string>();
  private closed = false;

  constructor(
    brokers: string,
    private readonly options: ConnectionOptions,
  ) {
    this.bootstrap = brokers
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
  }

  /** An open, authenticated connection to `address` (`host:port`), opened on first use and after a failure. */
  connection(address: string): Promise<Connection> {
    if (this.closed) return Promise.reject(new BrokerConnectionError('the admin client is closed'));
    const existing = this.connections.get(address);
    if (existing) return existing.then((c) => (c.usable ? c : this.reopen(address, existing)));
    return this.open(address);
  }

  private reopen(address: string, stale: Promise<Connection>): Promise<Connection> {
    if (this.connections.get(address) === stale) this.connections.delete(address);
    return this.connection(address);
  }

  private open(address: string): Promise<Connection> {
    const at = address.lastIndexOf(':');
    const connection = new Connection(address.slice(0, at), Number(address.slice(at + 1)), this.options);
    const opening = connection.open().then(
      () => connection,
      (e: unknown) => {
        connection.close();
        if (this.connections.get(address) === opening) this.connections.delete(address);
        throw e;
      },
    );
    this.connections.set(address, opening);
    return opening;
  }

  /** Sends to the first broker that answers: known live ones first, then the bootstrap list. */
  async any<A, R>(api: Api<A, R>, args: A): Promise<R> {
    const candidates = [...new Set([...this.nodes.values(), ...this.bootstrap])];
    let last: unknown = new BrokerConnectionError(`no broker configured (${this.bootstrap.join(',')})`);
    for (const address of candidates) {
      let connection: Connection;
      try {
        connection = await this.connection(address);
      } catch (e) {
        // A broker that is down: the next one may answer. Authentication and version failures are the same everywhere.
        if (!(e instanceof BrokerConnectionError)) throw e;
        last = e;
        continue;
      }
      return connection.send(api, args);
    }
    throw last;
  }

  /** Sends to the broker with node id `nodeId` (as the last metadata listed it). */
  async toNode<A, R>(nodeId: number, api: Api<A, R>, args: A): Promise<R> {
    const address = this.nodes.get(nodeId);
    if (!address)
      throw new KafkaProtocolError(5, `${api.name} to broker ${nodeId}`, 'the broker is not in the metadata');
    return (await this.connection(address)).send(api, args);
  }

  /** Brokers, controller and the partitions of `topics` (null: every topic); remembers the broker addresses. */
  async metadata(topics: string[] | null): Promise<MetadataAnswer> {
    const answer = await this.any(metadata, { topics });
    if (answer.brokers.length) this.nodes = new Map(answer.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`]));
    return answer;
  }

  /** Sends to the coordinator of `groupId`, found afresh. */
  async toCoordinator<A, R>(groupId: string, api: Api<A, R>, args: A): Promise<R> {
    const found = await this.any(findCoordinator, { groupId });
    throwIfError(found.errorCode, `FindCoordinator for group "${groupId}"`, found.errorMessage);
    return (await this.connection(`${found.host}:${found.port}`)).send(api, args);
  }

  close(): void {
    this.closed = true;
    for (const opening of this.connections.values())
      void opening.then(
        (c) => c.close(),
        () => undefined,
      );
    this.connections.clear();
  }
}
