"use strict";

// ---- Settings -----------------------------------------------------------------------------
const POLL_MS = 1000;          // one poll of /health and /spikes per second
const HISTORY_MS = 5 * 60e3;   // the charts show at most the last five minutes ...
const MIN_SPAN_MS = 60e3;      // ... and at least one minute, from the first point on
const SPIKE_PAGE = 200;        // events per /spikes request (the endpoint's default limit)
const SPIKE_KEEP = 2000;       // spikes kept in memory for the timeline and the list
// Distinguishable on a dark background; a version keeps its colour for the page's lifetime.
const PALETTE = ["#4ea1ff", "#ff9f43", "#3ddc84", "#c77dff", "#ff6b81", "#2ed3d3", "#ffd166", "#a0a8b8"];
const SPIKE_KINDS = ["handshake", "connect", "srtt", "reset_sent", "reset_received", "retransmit"];

// ---- State --------------------------------------------------------------------------------
const state = {
  polls: 0,
  breakerChanges: [],      // circuit breaker level changes from /protection, oldest first
  healthOk: 0,
  lastHealth: null,        // the previous /health body, for counter deltas
  versions: new Map(),     // versionKey -> {key, slot, version, pid, colour, active, series: {name: [[t, v]]}}
  spikes: [],              // every spike and cutover event kept, oldest first
  spikeNext: 0,            // `since` for the next /spikes request
  dropped: 0,
  nowMs: Date.now(),       // the gateway's clock at the last poll (x axis right edge)
  error: "",
};

// ---- Chart definitions: what each chart shows, and how a /health version entry becomes a point.
// `value(entry, prev, dtS)` returns the point for one version, or null when there is none yet.
function counterRate(field) {
  return (entry, prev, dtS) => {
    if (!prev || dtS <= 0) return null;
    const delta = entry[field] - prev[field];
    return delta < 0 ? null : delta / dtS;   // a smaller counter means the slot restarted
  };
}
function sumRate(fields) {
  const rates = fields.map(counterRate);
  return (entry, prev, dtS) => {
    const parts = rates.map((rate) => rate(entry, prev, dtS));
    return parts.some((p) => p === null) ? null : parts.reduce((a, b) => a + b, 0);
  };
}
function quantile(field, q) {
  return (entry) => (entry[field] && entry[field].count > 0 ? entry[field][q] : null);
}
function gauge(field) {
  return (entry) => (typeof entry[field] === "number" ? entry[field] : null);
}

const CHARTS = [
  { id: "handshake", title: "TCP handshake latency", what: "SYN to ESTABLISHED at the listener, rolling window; solid p50, dashed p99",
    unit: "time", lines: [{ name: "p50", value: quantile("handshake_us", "p50") },
                          { name: "p99", value: quantile("handshake_us", "p99"), dashed: true }] },
  { id: "requests", title: "Request rate", what: "HTTP requests completed per second",
    unit: "req/s", lines: [{ name: "req/s", value: counterRate("requests_total") }] },
  { id: "errors", title: "Errors", what: "5xx responses + rejected requests per second",
    unit: "err/s", lines: [{ name: "err/s", value: counterRate("errors_total") }] },
  { id: "connections", title: "Open connections", what: "client TCP connections open now",
    unit: "conns", lines: [{ name: "open", value: gauge("connections_open") }] },
  { id: "resets", title: "TCP resets", what: "RST per second; solid sent, dashed received",
    unit: "RST/s", lines: [{ name: "sent", value: counterRate("resets_sent") },
                           { name: "received", value: counterRate("resets_received"), dashed: true }] },
  { id: "retransmits", title: "TCP retransmits", what: "segments retransmitted per second",
    unit: "retr/s", lines: [{ name: "retr/s", value: counterRate("retransmits") }] },
];

// ---- Formatting ---------------------------------------------------------------------------
// A latency in microseconds, in the unit that keeps it readable.
function formatMicros(us) {
  if (us >= 1e6) return (us / 1e6).toFixed(2) + " s";
  if (us >= 1e3) return (us / 1e3).toFixed(us >= 1e5 ? 0 : 1) + " ms";
  return Math.round(us) + " µs";
}
function formatNumber(x) {
  if (x >= 1e6) return (x / 1e6).toFixed(1) + "M";
  if (x >= 1e4) return (x / 1e3).toFixed(0) + "k";
  if (x >= 1e3) return (x / 1e3).toFixed(1) + "k";
  if (x >= 10 || x === 0) return x.toFixed(0);
  return x.toFixed(x >= 1 ? 1 : 2);
}
function formatValue(unit, x) { return unit === "time" ? formatMicros(x) : formatNumber(x); }
function clock(ms) { return new Date(ms).toTimeString().slice(0, 8); }
function text(s) { return String(s === undefined || s === null ? "" : s); }

// The axis unit for a time chart: the largest value decides µs, ms or s.
function timeScale(maxUs) {
  if (maxUs >= 1e6) return { div: 1e6, label: "s" };
  if (maxUs >= 1e3) return { div: 1e3, label: "ms" };
  return { div: 1, label: "µs" };
}
// Round axis ticks (1, 2, 5 x 10^n) covering 0..max.
function niceTicks(max, count) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= max + step * 0.999; v += step) ticks.push(v);
  return ticks;
}

// ---- Versions -----------------------------------------------------------------------------
// A version instance is its slot, label and pid: the same label restarted in a slot is a new line.
function versionKey(entry) { return entry.slot + "|" + entry.version + "|" + entry.pid; }

function versionFor(entry) {
  const key = versionKey(entry);
  let v = state.versions.get(key);
  if (!v) {
    v = { key, slot: entry.slot, version: entry.version, pid: entry.pid,
          colour: PALETTE[state.versions.size % PALETTE.length], active: false, series: {} };
    state.versions.set(key, v);
  }
  return v;
}

// The colour of the version an event names (slot and label; the latest one of that slot when
// the label is unknown to the page).
function colourOfSlot(slot, label) {
  let bySlot = null, byLabel = null;
  for (const v of state.versions.values()) {
    if (v.slot !== slot) continue;
    bySlot = v;
    if (v.version === label) byLabel = v;
  }
  const found = byLabel || bySlot;
  return found ? found.colour : "#a0a8b8";
}

function appendPoint(v, series, t, value) {
  const points = (v.series[series] = v.series[series] || []);
  points.push([t, value]);
  while (points.length && points[0][0] < t - HISTORY_MS) points.shift();
}

// ---- Polling ------------------------------------------------------------------------------
async function fetchJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error("GET " + path + ": HTTP " + response.status + " " + (await response.text()).trim());
  return response.json();
}

// One /health body: update each version's current facts and append one point per chart line.
function ingestHealth(health) {
  const prevBySlot = new Map();
  if (state.lastHealth) for (const e of state.lastHealth.versions || []) prevBySlot.set(versionKey(e), e);
  const dtS = state.lastHealth ? (health.now_ms - state.lastHealth.now_ms) / 1000 : 0;
  state.nowMs = health.now_ms || Date.now();
  if (!state.firstMs) state.firstMs = state.nowMs;
  state.dropped = health.events_dropped || 0;
  for (const v of state.versions.values()) {
    v.active = false;
    v.present = false;   // versions gone since (committed, rolled back) keep their history lines
  }
  for (const entry of health.versions || []) {
    const v = versionFor(entry);
    v.active = !!entry.active;
    v.present = true;
    v.phase = entry.phase || "";
    v.last = entry;
    const prev = prevBySlot.get(v.key);
    for (const chart of CHARTS) {
      for (const line of chart.lines) {
        const value = line.value(entry, prev, dtS);
        if (value !== null && value !== undefined && isFinite(value)) appendPoint(v, chart.id + ":" + line.name, state.nowMs, value);
      }
    }
  }
  // Keep the older baseline while the gateway's clock has not moved (two polls in the same
  // millisecond would give no rate at all).
  if (dtS > 0 || !state.lastHealth) state.lastHealth = health;
}

// Drains /spikes from `spikeNext` (a few pages at most per poll) into state.spikes.
async function pollSpikes() {
  for (let page = 0; page < 10; page++) {
    const body = await fetchJson("/spikes?since=" + state.spikeNext + "&limit=" + SPIKE_PAGE);
    const events = body.events || [];
    for (const e of events) state.spikes.push(e);
    if (state.spikes.length > SPIKE_KEEP) state.spikes.splice(0, state.spikes.length - SPIKE_KEEP);
    if (typeof body.next === "number") state.spikeNext = body.next;
    if (typeof body.dropped === "number") state.dropped = Math.max(state.dropped, body.dropped);
    if (events.length < SPIKE_PAGE) break;
  }
}

async function poll() {
  const errors = [];
  try {
    const health = await fetchJson("/health");
    ingestHealth(health);
    state.health = health;
    state.healthOk++;
  } catch (e) {
    errors.push(e.message);
  }
  try {
    await pollSpikes();
  } catch (e) {
    errors.push(e.message);
  }
  try {
    // Circuit breaker level changes (docs/protection.md); an older version has no /protection.
    const protection = await fetchJson("/protection");
    state.breakerChanges = protection.changes || [];
  } catch (e) {
    state.breakerChanges = [];
  }
  state.polls++;
  state.error = errors.join("; ");
  render();
  setTimeout(poll, POLL_MS);
}

// ---- SVG helpers --------------------------------------------------------------------------
const SVG_NS = "http://www.w3.org/2000/svg";
function svgElement(name, attributes, parent) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attributes || {})) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}
function svgText(parent, x, y, content, attributes) {
  const el = svgElement("text", Object.assign({ x, y }, attributes || {}), parent);
  el.textContent = content;
  return el;
}

// The time span in view: since the first poll (so a fresh page is not an empty five minutes),
// at least MIN_SPAN_MS, at most HISTORY_MS.
function timeSpan() {
  const t1 = state.nowMs;
  const first = state.firstMs || t1;
  return { t0: Math.max(t1 - HISTORY_MS, Math.min(first, t1 - MIN_SPAN_MS)), t1 };
}

// The frame every time chart shares: plot area, x scale over timeSpan(), time ticks.
function timeFrame(svg, width, height, margin) {
  const frame = { left: margin.left, right: width - margin.right, top: margin.top, bottom: height - margin.bottom };
  const { t0, t1 } = timeSpan();
  frame.x = (t) => frame.left + ((t - t0) / (t1 - t0)) * (frame.right - frame.left);
  frame.t0 = t0;
  const step = t1 - t0 > 150e3 ? 60e3 : t1 - t0 > 60e3 ? 30e3 : 15e3;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const x = frame.x(t);
    svgElement("line", { x1: x, x2: x, y1: frame.top, y2: frame.bottom, class: "grid" }, svg);
    // Labels at the edges are anchored inwards so they are never clipped.
    const anchor = x > frame.right - 30 ? "end" : x < frame.left + 30 ? "start" : "middle";
    svgText(svg, x, frame.bottom + 14, clock(t), { "text-anchor": anchor });
  }
  return frame;
}

// Dashed vertical lines at every cutover in view, labelled with the slot traffic went to.
function drawCutovers(svg, frame, withLabels) {
  let drawn = 0;
  for (const e of state.spikes) {
    if (e.kind !== "cutover" || e.time_ms < frame.t0) continue;
    const x = frame.x(e.time_ms);
    svgElement("line", { x1: x, x2: x, y1: frame.top, y2: frame.bottom, class: "cutover" }, svg);
    if (withLabels) {
      const from = e.from_slot !== undefined ? "slot " + e.from_slot + " → " : "";
      const nearRight = x > frame.right - 140;   // keep the label inside the plot
      svgText(svg, nearRight ? x - 4 : x + 4, frame.top + 10, "cutover " + from + "slot " + e.slot,
              { class: "cutover-label", "text-anchor": nearRight ? "end" : "start" });
    }
    drawn++;
  }
  // Circuit breaker level changes, marked like cutovers: "pay L1→L2".
  for (const c of state.breakerChanges || []) {
    if (c.time_ms < frame.t0) continue;
    const x = frame.x(c.time_ms);
    svgElement("line", { x1: x, x2: x, y1: frame.top, y2: frame.bottom, class: "breaker" }, svg);
    if (withLabels) {
      const nearRight = x > frame.right - 140;
      svgText(svg, nearRight ? x - 4 : x + 4, frame.top + 22, "breaker " + c.route + " " + c.from + "→" + c.to,
              { class: "breaker-label", "text-anchor": nearRight ? "end" : "start" });
    }
  }
  return drawn;
}

// ---- Charts -------------------------------------------------------------------------------
function createPanel(id, title, what, wide) {
  const panel = document.createElement("section");
  panel.className = "panel" + (wide ? " wide" : "");
  panel.id = "panel-" + id;
  panel.innerHTML = "<h2></h2><div class='what'></div><div class='now'></div>";
  panel.querySelector("h2").textContent = title;
  panel.querySelector(".what").textContent = what;
  document.getElementById("charts").appendChild(panel);
  return panel;
}

// One line chart: every version's lines, y axis from 0 with units, cutovers marked. Records the
// number of points per series in data-points.
function drawChart(chart) {
  const panel = document.getElementById("panel-" + chart.id) || createPanel(chart.id, chart.title, chart.what);
  // The SVG is drawn at the panel's pixel width so text stays at its CSS size.
  const width = Math.max(300, panel.clientWidth - 24), height = 200, margin = { left: 58, right: 12, top: 10, bottom: 22 };
  const old = panel.querySelector("svg");
  if (old) old.remove();
  const svg = svgElement("svg", { viewBox: "0 0 " + width + " " + height, id: "chart-" + chart.id });
  panel.appendChild(svg);
  const frame = timeFrame(svg, width, height, margin);

  let max = 0;
  const counts = {};
  for (const v of state.versions.values())
    for (const line of chart.lines)
      for (const [t, y] of v.series[chart.id + ":" + line.name] || []) if (t >= frame.t0) max = Math.max(max, y);

  const scale = chart.unit === "time" ? timeScale(max) : { div: 1, label: chart.unit };
  const ticks = niceTicks(max / scale.div, 4);
  const top = ticks[ticks.length - 1] * scale.div;
  const y = (value) => frame.bottom - (value / top) * (frame.bottom - frame.top);
  for (const tick of ticks) {
    svgElement("line", { x1: frame.left, x2: frame.right, y1: y(tick * scale.div), y2: y(tick * scale.div), class: "grid" }, svg);
    svgText(svg, frame.left - 6, y(tick * scale.div) + 4, formatNumber(tick), { "text-anchor": "end" });
  }
  svgText(svg, 12, (frame.top + frame.bottom) / 2, scale.label,
          { transform: "rotate(-90 12 " + (frame.top + frame.bottom) / 2 + ")", "text-anchor": "middle" });

  for (const v of state.versions.values()) {
    for (const line of chart.lines) {
      const name = chart.id + ":" + line.name;
      const points = (v.series[name] || []).filter(([t]) => t >= frame.t0);
      if (!points.length) continue;
      counts[v.version + " slot " + v.slot + " " + line.name] = points.length;
      const d = points.map(([t, value], i) => (i ? "L" : "M") + frame.x(t).toFixed(1) + " " + y(value).toFixed(1)).join(" ");
      svgElement("path", { d, fill: "none", stroke: v.colour, "stroke-width": v.active ? 2.2 : 1.4,
                           "stroke-dasharray": line.dashed ? "5 3" : "none", "data-series": name }, svg);
      if (points.length === 1) svgElement("circle", { cx: frame.x(points[0][0]), cy: y(points[0][1]), r: 2.5, fill: v.colour }, svg);
    }
  }
  drawCutovers(svg, frame, true);
  if (!Object.keys(counts).length) svgText(svg, (frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2, "no data yet", { class: "empty", "text-anchor": "middle" });
  svg.setAttribute("data-points", JSON.stringify(counts));
  drawNowValues(panel, chart);
}

// The latest value of each version's lines, above the chart, in the version's colour.
function drawNowValues(panel, chart) {
  const now = panel.querySelector(".now");
  now.textContent = "";
  for (const v of state.versions.values()) {
    if (!v.present) continue;
    const parts = chart.lines.map((line) => {
      const points = v.series[chart.id + ":" + line.name] || [];
      const value = points.length ? formatValue(chart.unit, points[points.length - 1][1]) : "–";
      return (chart.lines.length > 1 ? line.name + " " : "") + value + (chart.unit === "time" ? "" : " " + chart.unit);
    });
    const span = document.createElement("span");
    span.style.color = v.colour;
    span.textContent = "slot " + v.slot + (v.active ? " ★" : "") + ": " + parts.join(", ");
    now.appendChild(span);
  }
}

// The spike timeline: one lane per kind, a dot per event in its version's colour (bigger the
// further above its threshold), cutovers as labelled lines across all lanes.
function drawTimeline() {
  const panel = document.getElementById("panel-timeline") ||
    createPanel("timeline", "Spike timeline", "events above threshold, one lane per kind; dashed lines are cutovers", true);
  const width = Math.max(600, panel.clientWidth - 24), lane = 22, margin = { left: 110, right: 12, top: 18, bottom: 22 };
  const height = margin.top + margin.bottom + lane * SPIKE_KINDS.length;
  const old = panel.querySelector("svg");
  if (old) old.remove();
  const svg = svgElement("svg", { viewBox: "0 0 " + width + " " + height, id: "chart-timeline" });
  panel.insertBefore(svg, panel.querySelector("#spike-list"));
  const frame = timeFrame(svg, width, height, margin);
  SPIKE_KINDS.forEach((kind, i) => {
    const yMid = frame.top + lane * i + lane / 2;
    svgElement("line", { x1: frame.left, x2: frame.right, y1: yMid, y2: yMid, class: "grid" }, svg);
    svgText(svg, frame.left - 8, yMid + 4, kind.replace("_", " "), { "text-anchor": "end" });
  });
  let dots = 0;
  for (const e of state.spikes) {
    const laneIndex = SPIKE_KINDS.indexOf(e.kind);
    if (laneIndex < 0 || e.time_ms < frame.t0) continue;
    const over = e.threshold_us > 0 ? e.value_us / e.threshold_us : 1;
    svgElement("circle", { cx: frame.x(e.time_ms), cy: frame.top + lane * laneIndex + lane / 2,
                           r: Math.min(8, 3 + Math.log2(Math.max(1, over))), fill: colourOfSlot(e.slot, e.version),
                           "fill-opacity": 0.85 }, svg);
    dots++;
  }
  const cutovers = drawCutovers(svg, frame, true);
  svg.setAttribute("data-points", JSON.stringify({ spikes: dots, cutovers }));
  drawSpikeList(panel);
}

// The newest events as a table under the timeline (newest first).
function drawSpikeList(panel) {
  let list = panel.querySelector("#spike-list");
  if (!list) {
    list = document.createElement("div");
    list.id = "spike-list";
    list.innerHTML = "<table><thead><tr><th>time</th><th>kind</th><th>version</th><th>slot</th>" +
      "<th>value</th><th>threshold</th><th>src → dst</th></tr></thead><tbody></tbody></table>";
    panel.appendChild(list);
  }
  const body = list.querySelector("tbody");
  body.textContent = "";
  for (const e of state.spikes.slice(-100).reverse()) {
    const row = body.insertRow();
    const cut = e.kind === "cutover";
    const cells = [clock(e.time_ms), e.kind, e.version, cut && e.from_slot !== undefined ? e.from_slot + " → " + e.slot : e.slot,
                   cut ? "" : formatMicros(e.value_us || 0), cut ? "" : formatMicros(e.threshold_us || 0),
                   cut ? "" : text(e.src) + " → " + text(e.dst)];
    cells.forEach((c, i) => {
      const cell = row.insertCell();
      cell.textContent = text(c);
      if (cut) cell.className = "cut";
      if (i === 2 && !cut) cell.style.color = colourOfSlot(e.slot, e.version);
    });
  }
  if (!state.spikes.length) body.insertRow().insertCell().textContent = "no spikes so far";
}

// ---- Header, legend, banner ---------------------------------------------------------------
function drawLegend() {
  const legend = document.getElementById("legend");
  legend.textContent = "";
  for (const v of state.versions.values()) {
    if (!v.present) continue;
    const item = document.createElement("div");
    item.className = "version" + (v.active ? " active" : "");
    item.innerHTML = "<span class='swatch'></span><span class='label'></span><span class='badge'></span>";
    item.querySelector(".swatch").style.background = v.colour;
    item.querySelector(".label").textContent = v.version + "  slot " + v.slot + "  pid " + v.pid;
    const badge = item.querySelector(".badge");
    badge.textContent = v.active ? "ACTIVE" : v.phase || "standby";
    if (v.active) badge.className = "badge active";
    legend.appendChild(item);
  }
}

// Unavailable health or failed polls are said loudly at the top: never a quiet empty chart.
function drawBanner() {
  const banner = document.getElementById("banner");
  const health = state.health;
  let message = "", warn = false;
  if (state.error) message = "Cannot read the gateway: " + state.error;
  else if (health && health.available === false)
    message = "Health probes unavailable: " + (health.reason || "no reason given") +
      ". Latency, resets and retransmits are not measured; request counters are shown where present.";
  else if (state.dropped > 0) { message = state.dropped + " health events were dropped (ring buffer full): the spike timeline is incomplete."; warn = true; }
  banner.textContent = message;
  banner.className = message ? "shown" + (warn ? " warn" : "") : "";
}

function drawHeader() {
  const health = state.health || {};
  const active = [...state.versions.values()].find((v) => v.present && v.active);
  document.getElementById("active-version").textContent = active ? active.version + " (slot " + active.slot + ")" : "none";
  document.getElementById("mode").textContent = health.available === false ? "unavailable" : text(health.mode || "?");
  document.getElementById("window").textContent = health.window_s ? health.window_s + " s" : "?";
  document.getElementById("dropped").textContent = state.dropped;
  document.getElementById("updated").textContent = state.healthOk ? clock(state.nowMs) : "never";
}

// Mirrors what was drawn into #state for tests (and curious operators with devtools).
function recordState() {
  const el = document.getElementById("state");
  el.dataset.polls = state.polls;
  el.dataset.healthOk = state.healthOk;
  el.dataset.available = state.health ? String(state.health.available) : "";
  el.dataset.versions = JSON.stringify([...state.versions.values()].filter((v) => v.present)
    .map((v) => ({ version: v.version, slot: v.slot, pid: v.pid, active: v.active })));
  el.dataset.spikes = state.spikes.filter((e) => e.kind !== "cutover").length;
  el.dataset.breakerChanges = (state.breakerChanges || []).length;
  el.dataset.cutovers = state.spikes.filter((e) => e.kind === "cutover").length;
  el.dataset.error = state.error;
}

function render() {
  drawHeader();
  drawBanner();
  drawLegend();
  for (const chart of CHARTS) drawChart(chart);
  drawTimeline();
  recordState();
}

render();
poll();
