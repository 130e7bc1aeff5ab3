// Lazy dependencies: avsc and ws load on first use, so `import '@kandle/core'` does not pay for them.
import { createRequire } from 'node:module';
import type * as Avsc from 'avsc';
import type WebSocketClass from 'ws';

// Both are CommonJS packages: a synchronous require keeps createAvroEncoder() and friends synchronous, which a dynamic
// import() (as for the native client) could not. Together they were ~40% of `import '@kandle/core'`.
const requireFromHere = createRequire(import.meta.url);

let avsc: typeof Avsc | undefined;
let webSocket: typeof WebSocketClass | undefined;

/** The `avsc` module, loaded the first time an Avro encoder or decoder is built. */
export function loadAvsc(): typeof Avsc {
  if (avsc === undefined) avsc = requireFromHere('avsc') as typeof Avsc;
  return avsc;
}

/** The `ws` WebSocket class, loaded the first time a Bitfinex WebSocket source connects. */
export function loadWebSocket(): typeof WebSocketClass {
  if (webSocket === undefined) webSocket = requireFromHere('ws') as typeof WebSocketClass;
  return webSocket;
}
