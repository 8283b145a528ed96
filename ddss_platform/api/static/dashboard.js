// DDSS dashboard: reads the same JSON API a client would, redraws on a timer.
// Token: `/?token=…` once (or the form shown on a 401) stores it in localStorage; every call sends it
// as a Bearer header. Data goes into the page through textContent only (never as HTML).
"use strict";

const TOKEN_KEY = "ddss_api_token";
const OVERVIEW_EVERY_MS = 5000;
const REGION_EVERY_MS = 30000;
const CITIZEN_EVERY_MS = 10000;
const TIER_COLOURS = { Exemplary: "#2e7d32", Standard: "#1565c0", Caution: "#ef8f00", HighRisk: "#c62828" };
const EDGE_COLOURS = { family: "#8e24aa", colleague: "#00897b", friend: "#6d4c41" };
const PLOT_CONFIG = { displaylogo: false, responsive: true };

const $ = (id) => document.getElementById(id);

function adoptTokenFromUrl() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token !== null) {
    localStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

class Unauthorized extends Error {}

async function api(path) {
  const headers = { Accept: "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers });
  if (response.status === 401) throw new Unauthorized("token needed");
  const body = await response.json();
  if (!response.ok) {
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    const error = new Error(detail || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function setStatus(text, state) {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = state;
}

function handleError(error) {
  if (error instanceof Unauthorized) {
    $("auth-banner").hidden = false;
    setStatus("token needed", "error");
  } else {
    setStatus("error: " + error.message, "error");
  }
}

function layout(title, extra) {
  return Object.assign(
    { title: { text: title, font: { size: 14 }, x: 0.01, xanchor: "left" }, margin: { l: 50, r: 20, t: 40, b: 40 }, showlegend: false },
    extra || {}
  );
}

// An empty chart says why, in the middle of the plot, and in data-empty for tests and screen readers
// (plotly alone draws bare axes).
function draw(id, traces, title, extra, emptyReason) {
  const empty = emptyReason || "";
  $(id).dataset.empty = empty;
  const note = empty
    ? { annotations: [{ text: empty, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
        font: { size: 13, color: "#616161" } }],
        xaxis: { visible: false }, yaxis: { visible: false } }
    : {};
  Plotly.react(id, empty ? [] : traces, layout(title, Object.assign({}, extra || {}, note)), PLOT_CONFIG);
}

// ---------- overview ----------

async function refreshOverview() {
  const [overview, health] = await Promise.all([api("/overview"), api("/health")]);
  for (const [tier, count] of Object.entries(overview.tiers)) {
    const cell = document.querySelector(`[data-tier-count="${CSS.escape(tier)}"]`);
    if (cell) cell.textContent = String(count);
  }
  $("citizen-total").textContent = String(overview.citizens);
  $("dlq-count").textContent = String(overview.dlq_count);
  $("bus-lag").textContent = health.bus_lag === null ? "n/a" : String(health.bus_lag);

  const badges = Object.entries(health.stores).map(([name, store]) => {
    const badge = document.createElement("span");
    badge.dataset.store = name;
    badge.dataset.ok = String(store.reachable);
    badge.title = store.detail || "";
    badge.textContent = `${name}: ${store.reachable ? "up" : "down"}`;
    return badge;
  });
  $("store-health").replaceChildren(...badges);

  const histogram = overview.score_histogram;
  const centres = histogram.counts.map((_, i) => (histogram.edges[i] + histogram.edges[i + 1]) / 2);
  draw(
    "chart-score-distribution",
    [{ type: "bar", x: centres, y: histogram.counts, marker: { color: "#1565c0" }, width: histogram.edges[1] - histogram.edges[0] }],
    "Score distribution",
    { xaxis: { title: { text: "score" } }, yaxis: { title: { text: "citizens" } } },
    overview.citizens ? "" : "No citizens yet: `ddss init` creates the seed world"
  );
  const minutes = overview.events_per_minute;
  draw(
    "chart-events-per-minute",
    [{ type: "bar", x: minutes.map((m) => m.minute), y: minutes.map((m) => m.events), marker: { color: "#00897b" } }],
    "Events per minute (the last hour of scored events)",
    { yaxis: { title: { text: "events" } } },
    minutes.some((m) => m.events > 0) ? "" : "No scored events yet: `ddss simulate`, then the scoring sensor's runs"
  );
}

// ---------- regions ----------

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function shiftDay(day, days) {
  return new Date(Date.parse(day + "T00:00:00Z") + days * 86400000).toISOString();
}

async function loadRegions() {
  const regions = await api("/regions");
  const select = $("region-select");
  const chosen = select.value;
  select.replaceChildren(
    ...regions.regions.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    })
  );
  if (chosen && regions.regions.includes(chosen)) select.value = chosen;
  if (!$("region-to").value) {  // the newest 30 days that have aggregates
    const last = regions.last_day ? new Date(regions.last_day + "T00:00:00Z") : new Date();
    $("region-to").value = isoDay(last);
    $("region-from").value = isoDay(new Date(last.getTime() - 30 * 86400000));
  }
}

async function refreshRegion() {
  const region = $("region-select").value;
  if (!region) {
    draw("chart-region-scores", [], "Average score", {}, "No region to show");
    draw("chart-region-tiers", [], "Citizens per tier", {}, "No region to show");
    return;
  }
  const query = new URLSearchParams({ from: $("region-from").value, to: $("region-to").value });
  const result = await api(`/regions/${encodeURIComponent(region)}/aggregates?${query}`);
  const days = result.rows.map((row) => row.date);
  // the chosen window, half a day of margin each side, so one day of data is a bar, not a zoomed-in sliver
  const dayAxis = { type: "date", tickformat: "%b %d",
    range: [shiftDay(result.start, -0.5), shiftDay(result.end, 0.5)] };
  const noRows = result.rows.length
    ? ""
    : `No aggregates for ${region} from ${result.start} to ${result.end}: the Spark job writes them ` +
      "(spark_daily_aggregates: its daily schedule, or Materialize in the Dagster UI)";
  draw(
    "chart-region-scores",
    [
      { type: "scatter", mode: "lines+markers", name: "average", x: days, y: result.rows.map((r) => r.avg_score) },
      { type: "scatter", mode: "lines", name: "median", x: days, y: result.rows.map((r) => r.median_score), line: { dash: "dot" } },
    ],
    `${region}: score over time`,
    { showlegend: true, xaxis: dayAxis, yaxis: { title: { text: "score" } } },
    noRows
  );
  const tiers = Object.keys(TIER_COLOURS).map((tier) => ({
    type: "bar",
    name: tier,
    x: days,
    y: result.rows.map((r) => r.tier_counts[tier] || 0),
    width: 0.8 * 86400000,  // a date axis measures bar widths in milliseconds
    marker: { color: TIER_COLOURS[tier] },
  }));
  draw("chart-region-tiers", tiers, `${region}: citizens per tier`, { barmode: "stack", showlegend: true, xaxis: dayAxis },
    noRows);
}

// ---------- citizens ----------

function showMessage(text) {
  $("citizen-message").textContent = text;
}

async function searchCitizens(event) {
  event.preventDefault();
  const id = $("citizen-search-input").value.trim();
  const params = new URLSearchParams({ limit: "30" });
  if (id) params.set("id_prefix", id);  // the start of a national ID finds every citizen whose ID it begins
  if ($("citizen-search-tier").value) params.set("tier", $("citizen-search-tier").value);
  const page = await api("/citizens?" + params);
  if (id && page.items.some((citizen) => citizen.nationalID === id)) {
    window.location.hash = "citizen=" + encodeURIComponent(id);
    $("citizen-results").replaceChildren();
    return;
  }
  // a list replaces the citizen shown before: the detail belongs to the list's citizen once one is clicked
  if (citizenFromHash()) history.replaceState(null, "", window.location.pathname + window.location.search);
  $("citizen-detail").hidden = true;
  const items = page.items.map((citizen) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = "#citizen=" + encodeURIComponent(citizen.nationalID);
    link.dataset.citizenId = citizen.nationalID;
    link.textContent = `${citizen.nationalID} · ${citizen.tier ?? "?"} · ${citizen.score ?? "?"}`;
    item.appendChild(link);
    return item;
  });
  $("citizen-results").replaceChildren(...items);
  showMessage(items.length ? "" : "no citizen matches");
}

function citizenFromHash() {
  const match = window.location.hash.match(/^#citizen=(.+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

async function refreshCitizen() {
  const id = citizenFromHash();
  if (!id) return;
  let citizen;
  try {
    citizen = await api("/citizens/" + encodeURIComponent(id));
  } catch (error) {
    if (error.status === 404 || error.status === 422) {
      $("citizen-detail").hidden = true;
      showMessage(error.message);
      return;
    }
    throw error;
  }
  showMessage("");
  $("citizen-detail").hidden = false;
  $("citizen-detail").dataset.citizenId = citizen.nationalID;
  $("citizen-id").textContent = citizen.nationalID;
  $("citizen-name").textContent = `${citizen.profile.firstName ?? ""} ${citizen.profile.lastName ?? ""}`.trim();
  $("citizen-score").textContent = citizen.score === null ? "–" : citizen.score.toFixed(1);
  $("citizen-tier").textContent = citizen.tier ?? "–";
  $("citizen-region").textContent = citizen.profile.region ?? "–";
  $("citizen-relationship-count").textContent = String(citizen.relationships.length);

  const history = citizen.score_history.slice().sort((a, b) => a.time_ms - b.time_ms);
  draw(
    "chart-citizen-score",
    [{
      type: "scatter", mode: "lines+markers", line: { shape: "hv" },
      x: history.map((h) => new Date(h.time_ms)), y: history.map((h) => h.new_score),
      text: history.map((h) => h.reason), hovertemplate: "%{y:.1f} (%{text})<extra></extra>",
    }],
    "Score over time (its score changes)",
    { yaxis: { title: { text: "score" } } },
    history.length ? "" : "No score change yet: this citizen's score is the one it started with"
  );
  drawRelationships(citizen);

  const rows = citizen.recent_events.map((e) => {
    const row = document.createElement("tr");
    row.dataset.eventId = e.event_id;
    const cells = [new Date(e.time_ms).toISOString().replace("T", " ").slice(0, 19), e.event_type, e.event_subtype ?? "",
      e.region ?? "", e.severity?.toFixed(2) ?? "", e.score_impact?.toFixed(1) ?? "", e.event_id];
    for (const [i, value] of cells.entries()) {
      const cell = document.createElement("td");
      if (i === 4 || i === 5) cell.className = "num";
      cell.textContent = value;
      row.appendChild(cell);
    }
    return row;
  });
  document.querySelector("#citizen-events tbody").replaceChildren(...rows);
}

function drawRelationships(citizen) {
  const others = citizen.relationships;
  const positions = others.map((_, i) => {
    const angle = (2 * Math.PI * i) / Math.max(others.length, 1);
    return [Math.cos(angle), Math.sin(angle)];
  });
  const edges = Object.keys(EDGE_COLOURS).map((type) => {
    const x = [];
    const y = [];
    others.forEach((r, i) => {
      if (r.type === type) x.push(0, positions[i][0], null), y.push(0, positions[i][1], null);
    });
    return { type: "scatter", mode: "lines", name: type, x, y, hoverinfo: "skip", line: { color: EDGE_COLOURS[type], width: 2 } };
  }).filter((trace) => trace.x.length);  // the legend names the relationship types this citizen has
  const nodes = {
    type: "scatter",
    mode: "markers+text",
    x: [0, ...positions.map((p) => p[0])],
    y: [0, ...positions.map((p) => p[1])],
    // only the citizen is labelled: related citizens' ids are in the hover text (labels would overlap)
    text: [citizen.nationalID, ...others.map(() => "")],
    textposition: "bottom center",
    hovertext: [
      `${citizen.nationalID} · ${citizen.tier ?? "?"}`,
      ...others.map((r) => `${r.nationalID} · ${r.type} (${r.strength.toFixed(2)}) · ${r.tier ?? "?"} ${r.score ?? ""}`),
    ],
    hoverinfo: "text",
    showlegend: false,
    marker: {
      size: [18, ...others.map(() => 12)],
      color: [citizen.tier, ...others.map((r) => r.tier)].map((t) => TIER_COLOURS[t] || "#9e9e9e"),
    },
  };
  const axis = { visible: false, range: [-1.5, 1.5] };
  draw(
    "chart-citizen-graph",
    [...edges, nodes],
    `Relationships (${others.length}; node colour: tier)`,
    { showlegend: true, legend: { title: { text: "relationship" } }, xaxis: axis, yaxis: Object.assign({ scaleanchor: "x" }, axis) },
    others.length ? "" : "No relationships in the graph for this citizen"
  );
}

// ---------- wiring ----------

function every(ms, task) {
  const run = () =>
    task()
      .then(() => setStatus("updated " + new Date().toLocaleTimeString(), "ok"))
      .catch(handleError);
  run();
  return setInterval(run, ms);
}

function start() {
  adoptTokenFromUrl();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(TOKEN_KEY, $("token-input").value);
    window.location.reload();
  });
  $("citizen-search").addEventListener("submit", (event) => searchCitizens(event).catch(handleError));
  for (const id of ["region-select", "region-from", "region-to"]) {
    $(id).addEventListener("change", () => refreshRegion().catch(handleError));
  }
  window.addEventListener("hashchange", () => refreshCitizen().catch(handleError));

  every(OVERVIEW_EVERY_MS, refreshOverview);
  loadRegions()
    .then(() => every(REGION_EVERY_MS, refreshRegion))
    .catch(handleError);
  every(CITIZEN_EVERY_MS, refreshCitizen);
}

start();
