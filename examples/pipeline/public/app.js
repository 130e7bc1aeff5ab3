// Page script: draws the selected candle series and the Kafka view, kept live by the server's /events stream.
/* global LightweightCharts */

const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  selection: { symbol: '', interval: '', source: 'trade' },
  /** Bumped on every selection change, so answers for an old selection are ignored. */
  generation: 0,
  loaded: false,
  events: null,
  kafka: null,
  messages: null,
  messageGeneration: 0,
  /** The user typed in the offset field since the last page request. */
  offsetTyped: false,
};

const chart = LightweightCharts.createChart($('chart'), {
  autoSize: true,
  layout: { background: { color: '#0f141b' }, textColor: '#c9d1d9', fontSize: 12 },
  grid: { vertLines: { color: '#1c2430' }, horzLines: { color: '#1c2430' } },
  timeScale: { timeVisible: true, secondsVisible: true, borderColor: '#2a3441', barSpacing: 10, rightOffset: 4 },
  rightPriceScale: { borderColor: '#2a3441' },
});
const candleSeries = chart.addSeries(LightweightCharts.CandlestickSeries, {
  upColor: '#26a69a',
  downColor: '#ef5350',
  wickUpColor: '#26a69a',
  wickDownColor: '#ef5350',
  borderVisible: false,
});
const volumeSeries = chart.addSeries(LightweightCharts.HistogramSeries, {
  priceScaleId: 'volume',
  priceFormat: { type: 'volume' },
  lastValueVisible: false,
  priceLineVisible: false,
});
// Candles in the upper three quarters, volume bars in the bottom fifth.
candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
volumeSeries.priceScale().applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });

/** kandle candles are in ms; the chart wants UTC seconds. */
const toBar = (c) => ({ time: c.start / 1000, open: c.open, high: c.high, low: c.low, close: c.close });
const toVolume = (c) => ({
  time: c.start / 1000,
  value: c.volume,
  color: c.close >= c.open ? 'rgba(38,166,154,0.45)' : 'rgba(239,83,80,0.45)',
});

/** Bitfinex quotes 5 significant digits: show as many decimals as the price needs. */
function applyPrecision(price) {
  const precision = Math.max(2, Math.min(8, 4 - Math.floor(Math.log10(price))));
  candleSeries.applyOptions({ priceFormat: { type: 'price', precision, minMove: 10 ** -precision } });
}

function setSeries(candles) {
  candleSeries.setData(candles.map(toBar));
  volumeSeries.setData(candles.map(toVolume));
  if (candles.length > 0) applyPrecision(candles.at(-1).close);
  renderLegend();
}

/** Applies one changed candle: the newest bar is updated in place, a correction of an older one too. */
function applyCandle(candle) {
  const bar = toBar(candle);
  const data = candleSeries.data();
  const last = data.at(-1);
  if (!last) applyPrecision(candle.close);
  if (!last || bar.time >= last.time) {
    candleSeries.update(bar);
    volumeSeries.update(toVolume(candle));
  } else if (data.some((d) => d.time === bar.time)) {
    candleSeries.update(bar, true);
    volumeSeries.update(toVolume(candle), true);
  } else {
    void load(); // a bar older than the chart's start: redraw from the server's copy
  }
}

function renderLegend() {
  const last = candleSeries.data().at(-1);
  const { symbol, interval, source } = state.selection;
  $('legend').textContent = last
    ? `${symbol} · ${interval} · ${source}s   O ${last.open}  H ${last.high}  L ${last.low}  C ${last.close}   ${new Date(last.time * 1000).toISOString().replace('T', ' ').slice(0, 19)} UTC`
    : `${symbol} · ${interval} · ${source}s   waiting for the first candle…`;
}

function setStatus(name, text) {
  $('status').dataset.state = name;
  $('status').textContent = text;
}

/** Loads the selected series, then follows it. Events that arrive while loading are applied afterwards. */
async function load() {
  const generation = ++state.generation;
  state.loaded = false;
  const { symbol, interval, source } = state.selection;
  const query = new URLSearchParams({ symbol, interval, source });
  const pending = [];
  state.events?.close();
  const events = new EventSource(`/events?${query}`);
  state.events = events;
  events.addEventListener('open', () => setStatus('live', 'live'));
  events.addEventListener('error', () => setStatus('down', 'reconnecting…'));
  events.addEventListener('candles', (e) => {
    const candles = JSON.parse(e.data);
    if (state.loaded) {
      for (const candle of candles) applyCandle(candle);
      renderLegend();
    } else pending.push(...candles);
  });
  events.addEventListener('kafka', (e) => renderKafka(JSON.parse(e.data)));
  events.addEventListener('kafka-error', (e) => showKafkaError(JSON.parse(e.data).message));
  // Read the series only once the stream is open (the server has registered it): a candle changed between the
  // snapshot and the registration would otherwise be in neither, a gap seen while a backfill streams in.
  await new Promise((resolve) => events.addEventListener('open', resolve, { once: true }));
  if (generation !== state.generation) return;

  const response = await fetch(`/api/candles?${query}`);
  if (generation !== state.generation) return;
  if (!response.ok) {
    setStatus('down', (await response.json()).error);
    return;
  }
  setSeries(await response.json());
  for (const candle of pending) applyCandle(candle);
  state.loaded = true;
  renderLegend();
  // Fill the width with a long history; a short one stays at the default bar width instead of a few giant bars.
  if (candleSeries.data().length >= 40) chart.timeScale().fitContent();
  else chart.timeScale().scrollToRealTime();
}

// ---- Kafka view

/** Builds an element from attributes and children (strings or nodes); text is never parsed as HTML. */
function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children.flat());
  return node;
}

/** Column names of a topic table, with the explanation shown on hover. */
const PARTITION_COLUMNS = [
  ['P', 'partition'],
  ['leader', 'broker id of the leader replica'],
  ['ISR', 'in-sync replicas (broker ids); red when fewer than the replicas'],
  ['symbols', 'symbols whose key hashes to this partition: murmur2(key) % partitions, like the Java client'],
  ['end', 'log end offset'],
  [
    'processed',
    'next offset after the last record whose candles were handled, as the member reading it reports; ahead of committed by at most one commit interval',
  ],
  [
    'committed',
    "the group's committed offset: the open candles it implies are checkpointed to the changelog first, so a restart resumes here without re-reading older records",
  ],
  ['lag', 'end − committed: records not yet processed and committed'],
  ['member', 'group member reading this partition'],
];
const partitionLabel = (tp) => `${tp.topic}[${tp.partition}]`;
const number = (n) => n.toLocaleString('en-US');

function showKafkaError(message) {
  $('kafka-error').hidden = false;
  $('kafka-error').textContent = `Kafka view stale: ${message}`;
}

function renderKafka(view) {
  state.kafka = view;
  $('kafka-error').hidden = true;
  const p = view.producer;
  $('rates').replaceChildren(
    ...[
      ['produced', `${view.rates.producedPerSecond} msg/s`],
      ['consumed', `${view.rates.consumedPerSecond} msg/s`],
      ['acks=all latency', `p50 ${p.deliveryLatencyMs.p50} ms · p99 ${p.deliveryLatencyMs.p99} ms`],
      ['delivered', `${number(p.delivered)}${p.failed ? ` (${number(p.failed)} failed)` : ''}`],
      ['producer queue', number(p.queueDepth)],
    ].flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );

  $('topics').replaceChildren(
    ...view.topics.map((topic) =>
      h(
        'table',
        { class: 'topic', 'data-topic-table': topic.name },
        h(
          'caption',
          {},
          `${topic.name} · ${topic.partitions.length} partitions · RF ${topic.partitions[0]?.replicas.length ?? 0}`,
        ),
        h('thead', {}, h('tr', {}, ...PARTITION_COLUMNS.map(([name, title]) => h('th', { title }, name)))),
        h(
          'tbody',
          {},
          ...topic.partitions.map((part) =>
            h(
              'tr',
              {
                class: part.underReplicated ? 'under-replicated' : '',
                'data-under-replicated': String(part.underReplicated),
                'data-topic': topic.name,
                'data-partition': part.partition,
                'data-leader': part.leader,
                'data-isr': part.isr.join(','),
                'data-symbols': part.symbols.join(','),
                'data-member': part.member ?? '',
                'data-processed': part.processed ?? '',
                'data-committed': part.committed ?? '',
              },
              h('td', {}, String(part.partition)),
              h('td', { class: part.leader < 0 ? 'warn' : '' }, part.leader < 0 ? 'none' : String(part.leader)),
              h(
                'td',
                {
                  class: part.underReplicated ? 'warn' : '',
                  title: `replicas ${part.replicas.join(',')}`,
                },
                part.isr.join(','),
              ),
              h('td', { class: 'symbols' }, part.symbols.join(' ')),
              h('td', { class: 'num' }, number(part.endOffset)),
              h(
                'td',
                { class: 'num', 'data-processed': part.processed ?? '' },
                part.processed === null ? '—' : number(part.processed),
              ),
              h('td', { class: 'num' }, part.committed === null ? '—' : number(part.committed)),
              h('td', { class: 'num' }, number(part.lag)),
              h('td', {}, part.member ?? '—'),
            ),
          ),
        ),
      ),
    ),
  );

  renderParts(view.parts);
  renderBrokers(view.brokers, view.lab);
  renderWrites(view.writes, view.ledger);
  renderTimeline(view.timeline);
  $('group-name').textContent = `${view.group.groupId} · ${view.group.state} · ${view.group.protocol || 'no protocol'}`;
  $('members')
    .querySelector('tbody')
    .replaceChildren(
      ...view.group.members.map((m) =>
        h(
          'tr',
          { 'data-client-id': m.clientId, 'data-partitions': m.assignment.map(partitionLabel).join(',') },
          h('td', { title: m.memberId }, m.clientId),
          h('td', {}, m.assignment.map(partitionLabel).join(' ') || '—'),
          h('td', { class: 'num' }, number(m.lag)),
        ),
      ),
    );
}

const clock = (ms) => new Date(ms).toISOString().slice(11, 19);

/** Each part of the view says whether it is live, or since when it is stale and why: the rest stays live. */
function renderParts(parts) {
  for (const node of document.querySelectorAll('.part-status')) {
    const part = parts[node.dataset.part];
    node.dataset.ok = String(part.ok);
    node.textContent = part.ok
      ? 'live'
      : `unavailable: ${part.error}; ${part.at ? `last known ${clock(part.at)}` : 'never fetched'}`;
  }
}

function renderBrokers(brokers, lab) {
  const labBusy = lab.enabled && lab.busy !== null;
  $('brokers').replaceChildren(
    ...brokers.map((b) => {
      const state = b.up === null ? 'unknown' : b.up ? 'up' : 'down';
      const buttons = lab.enabled
        ? [
            labButton('kill -9', 'kill', b.id, labBusy || b.jvm !== 'running'),
            labButton('stop', 'stop', b.id, labBusy || b.jvm !== 'running'),
            labButton('start', 'start', b.id, labBusy || b.jvm !== 'stopped'),
          ]
        : [];
      return h(
        'li',
        { 'data-broker': b.id, 'data-state': state, 'data-jvm': b.jvm ?? '' },
        h('span', { class: 'broker-name' }, `broker ${b.id}`),
        h('span', { class: 'badge', 'data-state': state }, state),
        h('span', { class: 'hint' }, `leads ${b.leaderOf}${b.jvm ? ` · JVM ${b.jvm}` : ''}`),
        ...buttons,
      );
    }),
  );
  $('lab-status').textContent = !lab.enabled
    ? lab.reason
    : lab.busy
      ? `fault lab: ${lab.busy.action} broker ${lab.busy.brokerId} in progress since ${clock(lab.busy.startedAt)}…`
      : lab.last
        ? `fault lab: last ${lab.last.action} broker ${lab.last.brokerId} ${lab.last.error ? `failed: ${lab.last.error}` : `done ${clock(lab.last.endedAt)}`}`
        : 'fault lab: the brokers are JVMs this job started; stop or kill one and watch the view';
}

/** One request at a time from this page too: every lab button is disabled from the click until the answer. */
let labRequestPending = false;

function labButton(label, action, brokerId, disabled) {
  const button = h('button', { type: 'button', class: 'lab', 'data-action': action, 'data-broker': brokerId }, label);
  button.disabled = disabled || labRequestPending;
  button.addEventListener('click', () => void requestFault(action, brokerId));
  return button;
}

async function requestFault(action, brokerId) {
  if (labRequestPending) return;
  labRequestPending = true;
  for (const button of document.querySelectorAll('button.lab')) button.disabled = true;
  try {
    const response = await fetch(`/api/fault?${new URLSearchParams({ action, broker: String(brokerId) })}`, {
      method: 'POST',
      headers: { 'x-kandle-fault': '1' },
    });
    const body = await response.json();
    if (!response.ok) $('lab-status').textContent = `fault lab refused (${response.status}): ${body.error}`;
    else if (state.kafka) renderBrokers(state.kafka.brokers, body.lab);
  } catch (e) {
    $('lab-status').textContent = `fault lab request failed: ${e.message}`;
  } finally {
    labRequestPending = false;
  }
}

function renderWrites(writes, ledger) {
  $('writes').replaceChildren(
    ...writes.map((w) =>
      h('li', { 'data-topic': w.topic, 'data-accepted': String(w.accepted) }, h('b', {}, w.topic), ` ${w.summary}`),
    ),
  );
  if (!ledger) return $('ledger').replaceChildren();
  $('ledger').replaceChildren(
    ...[
      ['produced', ledger.produced],
      ['acknowledged', ledger.acknowledged],
      ['refused', ledger.refused],
      ['failed', ledger.failed],
      ['pending', ledger.pending],
      ['lost', ledger.lost],
    ].flatMap(([term, value]) => [
      h('dt', {}, term),
      h('dd', { 'data-count': term }, value === null ? 'unknown (offsets unavailable)' : number(value)),
    ]),
  );
}

function renderTimeline(events) {
  $('timeline').replaceChildren(
    ...events
      .slice()
      .reverse()
      .map((e) =>
        h(
          'li',
          { 'data-kind': e.kind },
          h('time', { datetime: new Date(e.at).toISOString() }, clock(e.at)),
          ` ${e.message}`,
        ),
      ),
  );
}

// ---- pickers

function fillPicker(select, values, selected) {
  select.replaceChildren(...values.map((v) => h('option', { value: v }, v)));
  select.value = selected;
}

async function start() {
  state.config = await (await fetch('/api/config')).json();
  const params = new URLSearchParams(location.search);
  const pick = (name, allowed) => (allowed.includes(params.get(name)) ? params.get(name) : allowed[0]);
  state.selection = {
    symbol: pick('symbol', state.config.symbols),
    interval: pick('interval', state.config.intervals),
    source: pick('source', state.config.sources),
  };
  fillPicker($('symbol'), state.config.symbols, state.selection.symbol);
  fillPicker($('interval'), state.config.intervals, state.selection.interval);
  $('source').value = state.selection.source;
  $('pickers').addEventListener('change', () => {
    state.selection = { symbol: $('symbol').value, interval: $('interval').value, source: $('source').value };
    history.replaceState(null, '', `?${new URLSearchParams(state.selection)}`);
    void load();
  });
  startMessageBrowser();
  await load();
}

// ---- Message browser

/**
 * Loads one page of records and shows it: from `offset` (undefined: the newest page), or with `{ time }` (Unix ms)
 * from the first record at or after that time.
 */
async function loadMessages(offset) {
  const topic = $('msg-topic').value;
  const partition = $('msg-partition').value || '0';
  const query = new URLSearchParams({ topic, partition, limit: '20' });
  if (typeof offset === 'object') query.set('time', String(offset.time));
  else if (offset !== undefined && offset !== '') query.set('offset', String(offset));
  state.messages = null;
  // Only the latest request's answer is shown: an earlier one (e.g. the first "newest" page) may arrive after it.
  const generation = ++state.messageGeneration;
  state.offsetTyped = false;
  const response = await fetch(`/api/messages?${query}`);
  const body = await response.json();
  if (generation !== state.messageGeneration) return;
  if (!response.ok) {
    $('msg-error').hidden = false;
    $('msg-error').textContent = body.error;
    state.messages = { error: body.error };
    return;
  }
  $('msg-error').hidden = true;
  // Show where the page starts, unless the user typed an offset meanwhile (it is about to be asked for; comparing
  // values would miss a typed offset equal to the one shown before).
  if (!state.offsetTyped) $('msg-offset').value = String(body.offset);
  $('msg-range').textContent =
    `offsets ${number(body.low)} – ${number(Math.max(body.low, body.high - 1))} in ${topic}[${partition}]`;
  $('msg-table').tBodies[0].replaceChildren(...body.records.map(messageRow));
  state.messages = body;
}

function messageRow(record) {
  const headers = h(
    'td',
    { class: 'headers' },
    ...Object.entries(record.headers).map(([k, v]) => h('div', { 'data-header': k }, `${k}=${v}`)),
  );
  const value = record.poison ? poisonCell(record.poison) : h('td', {}, JSON.stringify(record.value));
  return h(
    'tr',
    { 'data-offset': record.offset, 'data-partition': record.partition, 'data-poison': String(!!record.poison) },
    h('td', { class: 'num' }, String(record.offset)),
    h('td', { class: 'num' }, String(record.partition)),
    h(
      'td',
      {},
      record.timestamp === null ? '' : new Date(record.timestamp).toISOString().replace('T', ' ').slice(0, 23),
    ),
    h('td', {}, record.key ?? ''),
    headers,
    h('td', { class: 'num' }, record.schemaId === null ? '—' : String(record.schemaId)),
    value,
  );
}

/** A value that did not decode (or sits on the dead-letter topic): marked as poison, shown as hex and text, never run. */
function poisonCell(poison) {
  const from = poison.source
    ? ` · from ${poison.source.topic}[${poison.source.partition}]@${poison.source.offset}`
    : '';
  return h(
    'td',
    { class: 'poison' },
    h('strong', { class: 'poison-label' }, `☠ poison (${poison.reason})`),
    ` ${poison.message}${from}`,
    h('div', { class: 'poison-bytes' }, `${poison.bytes} bytes · hex ${poison.hex}`),
    h('div', { class: 'poison-bytes' }, `text "${poison.preview}"`),
  );
}

function startMessageBrowser() {
  const { trades, tickers, deadLetter } = state.config.topics;
  $('msg-topic').replaceChildren(
    ...[trades, tickers].map((t) => h('option', { value: t }, t)),
    ...(deadLetter ? [h('option', { value: deadLetter }, `${deadLetter} (dead letters)`)] : []),
  );
  const page = () => state.messages ?? { offset: 0, high: 0 };
  $('message-picker').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadMessages($('msg-offset').value);
  });
  $('msg-offset').addEventListener('input', () => {
    state.offsetTyped = true;
  });
  $('msg-older').addEventListener('click', () => void loadMessages(Math.max(0, page().offset - 20)));
  $('msg-newer').addEventListener('click', () => void loadMessages(page().offset + 20));
  $('msg-newest').addEventListener('click', () => void loadMessages(undefined));
  // datetime-local has no zone: the page reads it as UTC, like every time it shows.
  $('msg-time-go').addEventListener('click', () => {
    const time = Date.parse(`${$('msg-time').value}Z`);
    if (Number.isFinite(time)) void loadMessages({ time });
  });
  $('msg-topic').addEventListener('change', () => void loadMessages(undefined));
  $('msg-partition').addEventListener('change', () => void loadMessages(undefined));
  void loadMessages(undefined);
}

/** For tests and the curious: what the chart draws right now. */
window.kandle = {
  /** The chart's newest bar: `{ time (UTC seconds), open, high, low, close }`, or undefined. */
  lastCandle: () => {
    const bar = candleSeries.data().at(-1);
    return bar && { time: bar.time, open: bar.open, high: bar.high, low: bar.low, close: bar.close };
  },
  bars: () => candleSeries.data().map((b) => ({ ...b })),
  selection: () => ({ ...state.selection }),
  /** True once the selected series is loaded and followed. */
  ready: () => state.loaded,
  kafkaView: () => state.kafka,
  /** The message page shown (`{ topic, partition, low, high, offset, records }`), or null while loading. */
  messages: () => state.messages ?? null,
};

void start();
