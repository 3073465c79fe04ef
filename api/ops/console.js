// The live ops console: signs in with an API key kept in this tab's session storage,
// long-polls one community's snapshot and draws it as an SVG map (Web Mercator), KPI
// tiles, alerts and tables. No libraries: everything below is plain DOM and SVG.
"use strict";

(function () {
  const KEY = "dispatch.ops.key";
  const COMMUNITY = "dispatch.ops.community";
  const SVG = "http://www.w3.org/2000/svg";
  const WAIT_S = 20;
  const TILE = 256;
  // Surge legend: lower bound of each band and its colour.
  const BANDS = [
    [0, "#e2e8f0", "< 1.05"],
    [1.05, "#fde68a", "1.05–1.25"],
    [1.25, "#fb923c", "1.25–1.5"],
    [1.5, "#ef4444", "1.5–2"],
    [2, "#7f1d1d", "≥ 2"],
  ];
  const STATUSES = ["idle", "busy", "stale", "offline"];
  const $ = (id) => document.getElementById(id);

  const state = {
    key: null,
    community: null,
    etag: "",
    selected: null,
    frame: null, // projection of the community shown: {zoom, key}
    controller: null,
    generation: 0,
    last: null,
    listedAt: 0,
    outlines: new Map(), // cell (hex) -> outline: they change only with the community
    outlinesOf: null, // the shapeKey they belong to; null: ask for them
  };

  // ---- sign-in -----------------------------------------------------------------------

  function keyFromFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const key = params.get("key");
    const community = params.get("community");
    if (key !== null || community !== null) {
      // Forget the fragment at once: it must not stay in the address bar or history.
      history.replaceState(null, "", location.pathname + location.search);
    }
    if (key) sessionStorage.setItem(KEY, key);
    if (community) sessionStorage.setItem(COMMUNITY, community);
  }

  function showSignIn(message) {
    stop();
    state.key = null;
    sessionStorage.removeItem(KEY);
    $("signin").hidden = false;
    $("console").hidden = true;
    $("community-label").hidden = true;
    $("signout").hidden = true;
    $("signin-error").textContent = message || "";
    setConn("signed-out", "signed out");
  }

  function setConn(kind, text) {
    const el = $("conn");
    el.dataset.state = kind;
    el.textContent = text;
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(path, signal) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + state.key, Accept: "application/json" },
      cache: "no-store",
      signal,
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        detail = body.detail || body.title || detail;
      } catch (e) {
        /* not JSON: keep the status text */
      }
      throw new ApiError(response.status, detail);
    }
    return response.json();
  }

  async function start(key) {
    state.key = key;
    $("signin").hidden = true;
    setConn("connecting", "connecting…");
    let communities;
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      try {
        communities = await api("/v1/ops/communities");
        break;
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          showSignIn(e.status === 401 ? "That key was not accepted." :
            "That key has neither the ops nor the analyst role.");
          return;
        }
        setConn("reconnecting", "reconnecting…");
        await pause(delay);
        if (state.key !== key) return;
      }
    }
    sessionStorage.setItem(KEY, key);
    $("console").hidden = false;
    $("community-label").hidden = false;
    $("signout").hidden = false;
    fillCommunities(communities);
  }

  function setOptions(communities) {
    const select = $("community");
    const current = select.value;
    select.replaceChildren();
    for (const c of communities) {
      const option = document.createElement("option");
      option.value = c.id;
      option.textContent = (c.name ? `${c.name} (${c.id})` : c.id) + (c.retired ? " · retired" : "");
      select.append(option);
    }
    if (communities.some((c) => c.id === current)) select.value = current;
    state.listedAt = Date.now();
  }

  async function refreshCommunities() {
    // Communities come and go rarely: look again now and then while live.
    if (Date.now() - state.listedAt < 30000) return;
    state.listedAt = Date.now();
    try {
      const communities = await api("/v1/ops/communities");
      const have = Array.from($("community").options).map((o) => o.value).join(",");
      if (communities.map((c) => c.id).join(",") !== have) setOptions(communities);
    } catch (e) {
      /* the live loop reports trouble; try again later */
    }
  }

  function fillCommunities(communities) {
    const select = $("community");
    setOptions(communities);
    if (!communities.length) {
      notice("No community exists yet; looking again every 5 s.");
      const key = state.key;
      setTimeout(() => {
        if (state.key === key) start(key);
      }, 5000);
      return;
    }
    const wanted = sessionStorage.getItem(COMMUNITY);
    const chosen = communities.some((c) => c.id === wanted) ? wanted : communities[0].id;
    select.value = chosen;
    watch(chosen);
  }

  // ---- the live loop -----------------------------------------------------------------

  function pause(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function stop() {
    state.generation += 1;
    if (state.controller) state.controller.abort();
    state.controller = null;
  }

  function watch(communityId) {
    stop();
    sessionStorage.setItem(COMMUNITY, communityId);
    state.community = communityId;
    state.etag = "";
    state.frame = null;
    state.selected = null;
    state.outlinesOf = null;
    loop(state.generation);
  }

  async function loop(generation) {
    let delay = 500;
    while (generation === state.generation) {
      state.controller = new AbortController();
      const withOutlines = state.outlinesOf === null;
      const query = new URLSearchParams({
        since: state.etag, wait_s: String(WAIT_S), outlines: String(withOutlines),
      });
      const path = `/v1/ops/communities/${encodeURIComponent(state.community)}/snapshot?${query}`;
      try {
        const snap = await api(path, state.controller.signal);
        if (generation !== state.generation) return;
        delay = 500;
        setConn("live", "live");
        notice("");
        refreshCommunities();
        if (withOutlines) {
          state.outlines = new Map(snap.cells.map((c) => [c.cell, c.boundary]));
          state.outlinesOf = shapeKey(snap);
        } else if (state.outlinesOf !== shapeKey(snap)
          || snap.cells.some((c) => !state.outlines.has(c.cell))) {
          state.outlinesOf = null; // the community changed shape: ask again, with outlines
          state.etag = "";
          continue;
        }
        if (snap.etag !== state.etag) {
          state.etag = snap.etag;
          render(snap);
        } else {
          $("updated").textContent = "Checked " + new Date(snap.generated_at).toLocaleTimeString();
        }
      } catch (e) {
        if (generation !== state.generation) return;
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          showSignIn("The key was refused: sign in again.");
          return;
        }
        if (e instanceof ApiError && e.status === 404) {
          setConn("live", "live");
          notice(`Community ${state.community} does not exist (any more); waiting for it.`);
        } else {
          setConn("reconnecting", "reconnecting…");
        }
        await pause(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  function shapeKey(snap) {
    return `${snap.community_id}@${snap.community_version}@${snap.center.lat},${snap.center.lng}`;
  }

  function notice(text) {
    const el = $("notice");
    el.textContent = text;
    el.hidden = !text;
  }

  // ---- projection (Web Mercator, in pixels at an integer zoom) ------------------------

  function project(lat, lng, zoom) {
    const scale = TILE * Math.pow(2, zoom);
    const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
    return [
      ((lng + 180) / 360) * scale,
      (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale,
    ];
  }

  function frameFor(snap) {
    // The largest integer zoom at which the fence spans at most ~1100 pixels across.
    const points = snap.fence.length ? snap.fence : [[snap.center.lat, snap.center.lng]];
    const xs = points.map((p) => project(p[0], p[1], 0));
    const span = Math.max(
      Math.max(...xs.map((p) => p[0])) - Math.min(...xs.map((p) => p[0])),
      Math.max(...xs.map((p) => p[1])) - Math.min(...xs.map((p) => p[1])),
      1e-9,
    );
    const zoom = Math.max(0, Math.min(19, Math.floor(Math.log2(1100 / span))));
    const px = points.map((p) => project(p[0], p[1], zoom));
    const minX = Math.min(...px.map((p) => p[0]));
    const maxX = Math.max(...px.map((p) => p[0]));
    const minY = Math.min(...px.map((p) => p[1]));
    const maxY = Math.max(...px.map((p) => p[1]));
    const pad = 0.06 * Math.max(maxX - minX, maxY - minY, 50);
    return {
      zoom,
      key: shapeKey(snap),
      box: [minX - pad, minY - pad, maxX - minX + 2 * pad, maxY - minY + 2 * pad],
      unit: Math.max(maxX - minX, maxY - minY, 50) / 110,
    };
  }

  function xy(point) {
    return project(point[0], point[1], state.frame.zoom);
  }

  function svg(tag, attrs, parent) {
    const el = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
    if (parent) parent.append(el);
    return el;
  }

  function title(el, text) {
    svg("title", {}, el).textContent = text;
  }

  function pointsAttr(pairs) {
    return pairs.map((p) => xy(p).map((v) => v.toFixed(2)).join(",")).join(" ");
  }

  // ---- drawing -----------------------------------------------------------------------

  function bandOf(multiplier) {
    let band = BANDS[0];
    for (const b of BANDS) if (multiplier >= b[0]) band = b;
    return band;
  }

  function render(snap) {
    state.last = snap;
    if (!state.frame || state.frame.key !== shapeKey(snap)) {
      state.frame = frameFor(snap);
      const [x, y, w, h] = state.frame.box;
      $("map").setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
      drawTiles(snap.tile_url);
      drawLegends();
    }
    drawCells(snap.cells);
    drawFence(snap.fence);
    drawWork(snap.work);
    drawWorkers(snap.workers);
    drawRoute();
    drawKpis(snap.kpis);
    drawAlerts(snap.alerts);
    drawTables(snap);
    $("updated").textContent = `${snap.name} · updated ${new Date(snap.generated_at).toLocaleTimeString()}`
      + ` · rules v${snap.rule_version}`;
  }

  function drawTiles(template) {
    const layer = $("tiles");
    layer.replaceChildren();
    $("attribution").textContent = "";
    if (!template) return;
    const [x, y, w, h] = state.frame.box;
    const z = state.frame.zoom;
    const n = Math.pow(2, z);
    for (let tx = Math.floor(x / TILE); tx <= Math.floor((x + w) / TILE); tx++) {
      for (let ty = Math.floor(y / TILE); ty <= Math.floor((y + h) / TILE); ty++) {
        if (ty < 0 || ty >= n) continue;
        const wrapped = ((tx % n) + n) % n;
        const href = template.replace("{z}", z).replace("{x}", wrapped).replace("{y}", ty);
        svg("image", { href, x: tx * TILE, y: ty * TILE, width: TILE, height: TILE,
          class: "tile" }, layer);
      }
    }
    $("attribution").textContent = "Basemap tiles: " + new URL(template.replace(/[{}]/g, "")).host;
  }

  function drawLegends() {
    const legend = $("legend");
    legend.replaceChildren(document.createTextNode("Surge multiplier:"));
    for (const [, colour, label] of BANDS) {
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.backgroundColor = colour;
      legend.append(swatch, document.createTextNode(label));
    }
    const markers = $("marker-legend");
    markers.replaceChildren(document.createTextNode("Workers:"));
    for (const status of STATUSES) {
      const swatch = document.createElement("span");
      swatch.className = "swatch dot";
      swatch.style.backgroundColor = getComputedStyle(document.documentElement)
        .getPropertyValue("--" + status);
      markers.append(swatch, document.createTextNode(status));
    }
    markers.append(document.createTextNode(" · squares: orders, diamonds: jobs, red outline: at risk"));
  }

  function drawCells(cells) {
    const layer = $("cells");
    layer.replaceChildren();
    for (const c of cells) {
      const el = svg("polygon", {
        class: "cell",
        points: pointsAttr(state.outlines.get(c.cell) || []),
        fill: bandOf(c.multiplier)[1],
        "data-cell": c.cell,
        "data-multiplier": c.multiplier,
      }, layer);
      title(el, `cell ${c.cell}: ×${c.multiplier.toFixed(2)} (demand ${c.demand}, supply ${c.supply})`);
    }
  }

  function drawFence(fence) {
    const layer = $("fence");
    layer.replaceChildren();
    if (fence.length) {
      svg("polygon", { class: "fence", points: pointsAttr(fence),
        "stroke-width": state.frame.unit / 4 }, layer);
    }
  }

  function drawWork(work) {
    const layer = $("work");
    layer.replaceChildren();
    const u = state.frame.unit;
    for (const w of work) {
      const [x, y] = xy([w.dropoff.lat, w.dropoff.lng]);
      const size = 1.6 * u;
      const el = svg("rect", {
        class: "work",
        x: x - size / 2, y: y - size / 2, width: size, height: size,
        "stroke-width": w.at_risk ? u / 2 : u / 6,
        "data-id": w.id, "data-kind": w.kind, "data-state": w.state, "data-at-risk": w.at_risk,
      }, layer);
      if (w.kind === "job") el.setAttribute("transform", `rotate(45 ${x} ${y})`);
      title(el, `${w.kind} ${w.id}: ${w.state}${w.at_risk ? " (at risk)" : ""}`
        + (w.worker_id ? ` → ${w.worker_id}` : ""));
    }
  }

  function drawWorkers(workers) {
    const layer = $("workers");
    layer.replaceChildren();
    const u = state.frame.unit;
    for (const w of workers) {
      if (!w.position) continue;
      const [x, y] = xy([w.position.lat, w.position.lng]);
      const el = svg("circle", {
        class: "worker" + (w.id === state.selected ? " selected" : ""),
        cx: x.toFixed(2), cy: y.toFixed(2), r: w.kind === "technician" ? 1.3 * u : u,
        "stroke-width": u / 4,
        "data-id": w.id, "data-kind": w.kind, "data-status": w.status,
      }, layer);
      title(el, `${w.kind} ${w.id}: ${w.status}, ${w.stops.length} stops`);
      el.addEventListener("click", () => select(w.id));
    }
  }

  function drawRoute() {
    const layer = $("route");
    layer.replaceChildren();
    const snap = state.last;
    const worker = snap && snap.workers.find((w) => w.id === state.selected);
    const info = $("selected");
    if (!worker) {
      info.textContent = "Click a worker on the map or in the table.";
      return;
    }
    info.textContent = `${worker.kind} ${worker.id} (${worker.status}): `
      + (worker.stops.length
        ? worker.stops.map((s) => `${s.kind} ${s.entity_id} at ${new Date(s.eta).toLocaleTimeString()}`).join(" → ")
        : "no stops");
    const pairs = [];
    if (worker.position) pairs.push([worker.position.lat, worker.position.lng]);
    for (const s of worker.stops) pairs.push([s.location.lat, s.location.lng]);
    if (pairs.length < 2) return;
    const u = state.frame.unit;
    svg("polyline", { class: "route-line", id: "route-line", points: pointsAttr(pairs),
      "stroke-width": u / 2, "data-worker": worker.id }, layer);
    for (const s of worker.stops) {
      const [x, y] = xy([s.location.lat, s.location.lng]);
      svg("circle", { class: "route-stop", cx: x, cy: y, r: u / 1.5, "stroke-width": u / 6 }, layer);
    }
  }

  function select(workerId) {
    state.selected = state.selected === workerId ? null : workerId;
    if (state.last) {
      drawWorkers(state.last.workers);
      drawRoute();
      drawTables(state.last);
    }
  }

  const TILES = [
    ["open_orders", "Open orders", (k) => String(k.open_orders)],
    ["at_risk", "At risk", (k) => String(k.at_risk), (k) => k.at_risk > 0],
    ["on_time_share", "On time (1 h)", (k) => k.on_time_share === null ? "–"
      : Math.round(k.on_time_share * 100) + " %"],
    ["click_to_door_p90_s", "Click-to-door p90 (1 h)", (k) => k.click_to_door_p90_s === null
      ? "–" : (k.click_to_door_p90_s / 60).toFixed(1) + " min"],
    ["couriers", "Couriers online / busy", (k) => `${k.couriers_online} / ${k.couriers_busy}`],
    ["stale_workers", "Stale workers", (k) => String(k.stale_workers), (k) => k.stale_workers > 0],
    ["mean_surge", "Mean surge", (k) => "×" + k.mean_surge.toFixed(2)],
  ];

  function drawKpis(kpis) {
    const box = $("kpis");
    box.replaceChildren();
    for (const [name, label, value, warn] of TILES) {
      const tile = document.createElement("div");
      tile.className = "tile" + (warn && warn(kpis) ? " warn" : "");
      tile.dataset.kpi = name;
      const l = document.createElement("div");
      l.className = "label";
      l.textContent = label;
      const v = document.createElement("div");
      v.className = "value";
      v.textContent = value(kpis);
      tile.append(l, v);
      box.append(tile);
    }
  }

  function drawAlerts(alerts) {
    const list = $("alerts");
    list.replaceChildren();
    if (!alerts.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = "No alerts.";
      list.append(li);
    }
    for (const a of alerts) {
      const li = document.createElement("li");
      li.className = "alert";
      li.dataset.kind = a.kind;
      li.dataset.severity = a.severity;
      li.textContent = `${a.severity}: ${a.message}`;
      list.append(li);
    }
  }

  function cells(row, values) {
    for (const value of values) {
      const td = document.createElement("td");
      td.textContent = value;
      row.append(td);
    }
  }

  function age(ts, now) {
    if (!ts) return "never";
    const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(ts)) / 1000));
    return s < 90 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
  }

  function drawTables(snap) {
    const workers = $("workers-table").tBodies[0];
    workers.replaceChildren();
    for (const w of snap.workers) {
      const tr = document.createElement("tr");
      tr.dataset.worker = w.id;
      tr.dataset.status = w.status;
      if (w.id === state.selected) tr.className = "selected";
      cells(tr, [w.id, w.kind, w.status, age(w.position_ts, snap.generated_at), w.stops.length]);
      tr.addEventListener("click", () => select(w.id));
      workers.append(tr);
    }
    const work = $("work-table").tBodies[0];
    work.replaceChildren();
    for (const w of snap.work) {
      const tr = document.createElement("tr");
      tr.dataset.work = w.id;
      tr.dataset.state = w.state;
      tr.dataset.atRisk = String(w.at_risk);
      const due = w.due_by ? new Date(w.due_by).toLocaleTimeString() : "–";
      cells(tr, [w.id, w.kind, w.state, w.at_risk ? "yes" : "no", w.worker_id || "–", due]);
      if (w.worker_id) tr.addEventListener("click", () => select(w.worker_id));
      work.append(tr);
    }
  }

  // ---- wiring ------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    keyFromFragment();
    $("signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      $("key").value = "";
      if (key) start(key);
    });
    $("signout").addEventListener("click", () => showSignIn(""));
    $("community").addEventListener("change", (event) => watch(event.target.value));
    const key = sessionStorage.getItem(KEY);
    if (key) start(key);
    else showSignIn("");
  });
})();
