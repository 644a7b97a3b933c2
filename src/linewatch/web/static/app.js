/* linewatch dashboard: plain ES2020, no build step, no external resources.
 *
 * Everything that comes from the server reaches the DOM through textContent or attribute
 * setters, never through innerHTML. Leaflet tooltips get DOM elements, not strings.
 */
"use strict";

(function () {
  const API = "/api/v1";
  const HOUR = 3600 * 1000;
  const PAGE_LIMIT = 2000;          // features asked for per page
  const MAX_FEATURES = 20000;       // stop following "next" beyond this
  const LIST_STEP = 200;            // list rows rendered at a time
  const RELOAD_DELAY_MS = 300;      // debounce of the time slider and the filters

  // Two neutral, distinct colours for the parties, assigned by the order of the parties in
  // the agreement (blue and orange: not red/green, no "good/bad" connotation; both readable
  // by the common colour-vision deficiencies). More parties get further neutral hues.
  const PARTY_PALETTE = ["#2c6cb0", "#d98a1f", "#7a5aa6", "#2a9d8f", "#8c6d31", "#5f7d95"];
  const NO_PARTY = "#7a818c";
  const LINE_COLOUR = "#1b1f27";
  const SITE_COLOUR = "#2d3440";
  const COVERAGE_LOW = [199, 233, 192];   // p = 0
  const COVERAGE_HIGH = [0, 109, 44];     // p = 1

  // Marker shape by kind; unknown kinds get "other".
  const KIND_SHAPES = {
    explosion: "circle",
    bursts_and_shots: "triangle",
    projectile_in_flight: "diamond",
    muzzle_flash: "star",
    illumination_flare: "triangle-down",
    weapon_sighting: "square",
    infrastructure_strike: "pentagon",
    aircraft_sighting: "chevron",
    fom_restriction: "bar",
    mine_uxo: "hexagon",
    civilian_casualty: "cross",
  };
  const KNOWN_KINDS = Object.keys(KIND_SHAPES);
  const KNOWN_SOURCES = ["observation_post", "patrol", "fixed_camera", "uav", "acoustic_sensor",
    "satellite_imagery", "open_source", "party_allegation", "sensor_fusion"];
  const FUSED = "sensor_fusion";

  // -- shapes: unit polygons used both on the canvas and in the legend's SVG ---------------
  function regular(n, r, rot = -Math.PI / 2) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const a = rot + (2 * Math.PI * i) / n;
      out.push([r * Math.cos(a), r * Math.sin(a)]);
    }
    return out;
  }
  function star(n, outer, inner) {
    const out = [];
    for (let i = 0; i < 2 * n; i++) {
      const a = -Math.PI / 2 + (Math.PI * i) / n;
      const r = i % 2 ? inner : outer;
      out.push([r * Math.cos(a), r * Math.sin(a)]);
    }
    return out;
  }
  const SHAPES = {
    circle: null,
    square: [[-0.88, -0.88], [0.88, -0.88], [0.88, 0.88], [-0.88, 0.88]],
    triangle: [[0, -1.2], [1.1, 0.75], [-1.1, 0.75]],
    "triangle-down": [[0, 1.2], [1.1, -0.75], [-1.1, -0.75]],
    diamond: [[0, -1.25], [1.05, 0], [0, 1.25], [-1.05, 0]],
    star: star(5, 1.35, 0.6),
    pentagon: regular(5, 1.1),
    hexagon: regular(6, 1.05),
    chevron: [[0, -1.2], [1.1, 0.9], [0, 0.35], [-1.1, 0.9]],
    bar: [[-1.15, -0.5], [1.15, -0.5], [1.15, 0.5], [-1.15, 0.5]],
    cross: [[-0.35, -1.1], [0.35, -1.1], [0.35, -0.35], [1.1, -0.35], [1.1, 0.35], [0.35, 0.35],
      [0.35, 1.1], [-0.35, 1.1], [-0.35, 0.35], [-1.1, 0.35], [-1.1, -0.35], [-0.35, -0.35]],
    x: [[-0.75, -1.0], [0, -0.25], [0.75, -1.0], [1.0, -0.75], [0.25, 0], [1.0, 0.75], [0.75, 1.0],
      [0, 0.25], [-0.75, 1.0], [-1.0, 0.75], [-0.25, 0], [-1.0, -0.75]],
    site: [[0, -1.25], [1.05, -0.35], [1.05, 1.0], [-1.05, 1.0], [-1.05, -0.35]],
    other: regular(8, 1.0, -Math.PI / 8),
  };
  function shapeOf(kind) { return KIND_SHAPES[kind] || "other"; }

  // A circle marker drawn as any of the shapes above on Leaflet's canvas renderer.
  const ShapeMarker = L.CircleMarker.extend({
    options: { shape: "circle" },
    _updateBounds() {
      const r = this._radius * 1.4 + this._clickTolerance();
      const p = L.point(r, r);
      this._pxBounds = L.bounds(this._point.subtract(p), this._point.add(p));
    },
    _updatePath() {
      const pts = SHAPES[this.options.shape];
      const rend = this._renderer;
      if (!pts || !(rend instanceof L.Canvas)) {
        L.CircleMarker.prototype._updatePath.call(this);
        return;
      }
      if (!rend._drawing || this._empty()) return;
      const ctx = rend._ctx, p = this._point, s = this._radius;
      ctx.beginPath();
      pts.forEach(([x, y], i) => {
        if (i === 0) ctx.moveTo(p.x + x * s, p.y + y * s);
        else ctx.lineTo(p.x + x * s, p.y + y * s);
      });
      ctx.closePath();
      rend._fillStroke(ctx, this);
    },
  });

  // -- state ----------------------------------------------------------------------------------
  const state = {
    me: null,
    agreement: null,
    partyColour: new Map(),
    partyName: new Map(),
    range: null,               // {start, end} in ms, hour-aligned; end exclusive
    win: null,                 // {start, end} in ms, the window the sliders show
    loadedWin: null,           // the window the map shows
    features: new Map(),       // id -> Feature, the window's reports (server-side filters)
    visible: [],               // the features drawn on the map, newest first
    violations: new Map(),     // subject -> {feature, findings: [...]}
    allegations: [],
    coverageAt: null,
    available: { reports: true, incidents: true, violations: true, allegations: true,
      coverage: true, daily: true },
    loadedEllipses: false,
    liveCount: 0,
    liveOutside: 0,
    selectedId: null,
    listShown: LIST_STEP,
    loadSeq: 0,
    abort: null,
    events: null,
    kinds: new Set(KNOWN_KINDS),
    sources: new Set(KNOWN_SOURCES),
    modules: [],               // the panes in other files (report-form.js, review.js)
    basemap: null,
    agreementGeo: null,
  };

  // -- tiny helpers ---------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);

  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = String(v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, "");
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));   // strings become text nodes
    }
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  }

  // A legend/list swatch: the shape, filled and outlined as on the map.
  function swatch(shape, fill, stroke = "#ffffff", { size = 16, width = 1, ring = false,
    dash = null, opacity = 1 } = {}) {
    const svg = svgEl("svg", { width: size, height: size, viewBox: "-1.6 -1.6 3.2 3.2",
      "aria-hidden": "true", class: "swatch" });
    const w = (width * 3.2) / size;
    const style = { fill: ring ? "none" : fill, "fill-opacity": opacity, stroke: ring ? fill : stroke,
      "stroke-width": w };
    if (dash) style["stroke-dasharray"] = dash;
    const pts = SHAPES[shape];
    if (!pts) svg.append(svgEl("circle", Object.assign({ cx: 0, cy: 0, r: ring ? 1.3 : 1 }, style)));
    else svg.append(svgEl("polygon", Object.assign({ points: pts.map((p) => p.join(",")).join(" ") }, style)));
    return svg;
  }
  function lineSwatch(colour, { width = 2, dash = null } = {}) {
    const svg = svgEl("svg", { width: 22, height: 12, viewBox: "0 0 22 12", "aria-hidden": "true" });
    const attrs = { x1: 1, y1: 6, x2: 21, y2: 6, stroke: colour, "stroke-width": width };
    if (dash) attrs["stroke-dasharray"] = dash;
    svg.append(svgEl("line", attrs));
    return svg;
  }
  function areaSwatch(fill, stroke, { opacity = 0.3, dash = null } = {}) {
    const svg = svgEl("svg", { width: 22, height: 14, viewBox: "0 0 22 14", "aria-hidden": "true" });
    const attrs = { x: 1, y: 1, width: 20, height: 12, fill, "fill-opacity": opacity, stroke,
      "stroke-width": 1 };
    if (dash) attrs["stroke-dasharray"] = dash;
    svg.append(svgEl("rect", attrs));
    return svg;
  }

  const W = window.lwLabels;          // plain words and rounded numbers (labels.js)
  function humanise(s) { return W.plain(s); }
  function pad2(n) { return String(n).padStart(2, "0"); }
  function fmtUTC(ms, { seconds = false } = {}) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
    const d = new Date(ms);
    const base = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
    return seconds ? `${base}:${pad2(d.getUTCSeconds())}` : base;
  }
  function fmtShort(ms) { return ms === null ? "—" : fmtUTC(ms).slice(5); }   // MM-DD HH:MM
  function isoZ(ms) { return new Date(ms).toISOString().replace(".000Z", "Z"); }
  function parseTime(s) { const t = Date.parse(s); return Number.isNaN(t) ? null : t; }
  function floorHour(ms) { return Math.floor(ms / HOUR) * HOUR; }
  function fmtNumber(n) { return Number(n).toLocaleString("en-GB"); }
  function partyLabel(id) {
    if (id === null || id === undefined || id === "") return "not attributed";
    const name = state.partyName.get(id);
    return name ? `${name} (${id})` : String(id);
  }
  function partyColour(id) {
    if (id === null || id === undefined || id === "") return NO_PARTY;
    if (!state.partyColour.has(id)) {     // a party the agreement does not list
      state.partyColour.set(id, PARTY_PALETTE[state.partyColour.size % PARTY_PALETTE.length]);
    }
    return state.partyColour.get(id);
  }
  function featureColour(f) {
    const p = f.properties || {};
    return partyColour($("colour-by").value === "side" ? p.side : p.party);
  }
  // What the role may do. The service lists its capabilities in /me; without that list, every
  // feature is tried and hidden on a 403.
  function can(what) {
    const me = state.me;
    if (!me) return false;
    const caps = Array.isArray(me.capabilities) ? new Set(me.capabilities) : null;
    if (!caps) return what === "analyse" ? me.role === "analyst" || me.role === "admin" : true;
    switch (what) {
      case "records": case "live": return caps.has("read_all") || caps.has("read_own_records");
      case "all": return caps.has("read_all");
      case "allegations": return caps.has("read_allegations");
      case "daily": return caps.has("read_reports");
      case "analyse": return caps.has("analyse");
      default: return caps.has(what);
    }
  }
  function isAnalyst() { return can("analyse"); }

  // -- the API --------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
      this.detail = detail;
    }
  }

  function errorDetail(data, resp) {
    if (data && typeof data === "object") {
      if (typeof data.detail === "string") return data.detail;
      if (Array.isArray(data.detail)) {      // FastAPI's 422 list
        return data.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
      }
    }
    return `${resp.status} ${resp.statusText || "error"}`;
  }

  function apiUrl(path) {
    if (path.startsWith("/")) return path;
    return `${API}/${path}`;
  }

  async function api(path, { method = "GET", body, signal, allow401 = false } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET" && method !== "HEAD") headers["X-Linewatch-CSRF"] = "1";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(apiUrl(path), {
        method, headers, signal, credentials: "same-origin", cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (exc) {
      if (exc && exc.name === "AbortError") throw exc;
      throw new ApiError(0, "The server cannot be reached.");
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = text; }
    }
    if (!resp.ok) {
      if (resp.status === 401 && !allow401 && state.me) sessionEnded();
      throw new ApiError(resp.status, errorDetail(data, resp));
    }
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    }
    return q.toString();
  }

  // Every page of a FeatureCollection, following "next" (same origin only).
  async function fetchAll(path, params, { signal, onPage } = {}) {
    let url = new URL(`${apiUrl(path)}?${query(params)}`, window.location.origin);
    const features = [];
    let truncated = false;
    for (;;) {
      const page = await api(url.pathname + url.search, { signal });
      const got = (page && page.features) || [];
      for (const f of got) features.push(f);
      if (onPage) onPage(features.length);
      if (!page || !page.next) break;
      if (features.length >= MAX_FEATURES) { truncated = true; break; }
      const next = new URL(page.next, url);
      if (next.origin !== window.location.origin) break;   // never leave the origin
      url = next;
    }
    return { features, truncated };
  }

  // -- login and session ----------------------------------------------------------------------
  function showLogin(message) {
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  function sessionEnded() {
    stopEvents();
    state.me = null;
    showLogin("Your session has ended. Log in again.");
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const token = $("token").value.trim();
    const button = ev.target.querySelector("button[type=submit]");
    $("login-error").textContent = "";
    if (!token) { $("login-error").textContent = "Paste your API token."; return; }
    button.disabled = true;
    try {
      const me = await api("session", { method: "POST", body: { token }, allow401: true });
      $("token").value = "";
      await start(me);
    } catch (exc) {
      $("login-error").textContent = exc.status === 401
        ? "This token is not valid." : (exc.message || "Login failed.");
    } finally {
      button.disabled = false;
    }
  }

  async function onLogout() {
    stopEvents();
    try { await api("session", { method: "DELETE", allow401: true }); } catch (_) { /* gone anyway */ }
    window.location.reload();
  }

  // -- the map --------------------------------------------------------------------------------
  let map = null;
  const R = {};            // canvas renderers, one per pane
  const G = {};            // layer groups

  function initMap() {
    map = L.map("map", {
      preferCanvas: true,
      zoomControl: true,
      attributionControl: true,
      minZoom: 3,
      maxZoom: 16,
      zoomSnap: 0.5,
      worldCopyJump: false,
      center: [48.5, 36.5],
      zoom: 6,
    });
    map.attributionControl.setPrefix("Leaflet");
    map.attributionControl.addAttribution("Boundaries: Natural Earth");
    L.control.scale({ imperial: false, maxWidth: 140 }).addTo(map);
    const tolerance = L.Browser.touch ? 8 : 3;
    // pane -> z-index; only "points" takes pointer events, the rest let clicks through
    const panes = { base: 200, coverage: 250, zones: 300, ellipses: 350, allegations: 380,
      lines: 400, points: 450, rings: 460, selection: 470 };
    for (const [name, z] of Object.entries(panes)) {
      const pane = map.createPane(name);
      pane.style.zIndex = String(z);
      if (name !== "points") pane.style.pointerEvents = "none";
      R[name] = L.canvas({ pane: name, tolerance, padding: 0.3 });
    }
    for (const g of ["base", "coverage", "zones", "lines", "sites", "ellipses", "allegations",
      "reports", "incidents", "violations", "selection"]) {
      G[g] = L.layerGroup();
    }
    G.base.addTo(map);
    G.zones.addTo(map);
    G.lines.addTo(map);
    G.sites.addTo(map);
    G.reports.addTo(map);
    G.incidents.addTo(map);
    G.violations.addTo(map);
    G.selection.addTo(map);
  }

  function tooltip(title, lines) {
    return () => el("div", {}, el("div", { class: "t-title", text: title }),
      ...lines.filter(Boolean).map((l) => el("div", { text: l })));
  }

  function drawBasemap(fc) {
    G.base.clearLayers();
    L.geoJSON(fc, {
      renderer: R.base, pane: "base", interactive: false,
      style: () => ({ color: "#b4b9c1", weight: 0.8, fillColor: "#eceae4", fillOpacity: 1 }),
    }).addTo(G.base);
  }

  function drawAgreement(fc) {
    G.zones.clearLayers();
    G.lines.clearLayers();
    G.sites.clearLayers();
    let bounds = null;
    const extend = (b) => { if (b && b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast()); };
    for (const f of (fc && fc.features) || []) {
      const p = f.properties || {};
      const layer = p.layer;
      const geomType = f.geometry && f.geometry.type;
      if (!geomType) continue;
      if (layer === "site") {
        // a site is a point, or an area (a point's radius, a plant's outline): the area is
        // drawn, and a marker at its centre keeps it visible and hoverable at any zoom
        let lat, lon;
        if (geomType === "Point") [lon, lat] = f.geometry.coordinates;
        else {
          const g = L.geoJSON(f, { renderer: R.zones, pane: "zones", interactive: false,
            style: () => ({ color: SITE_COLOUR, weight: 1.2, fillColor: SITE_COLOUR, fillOpacity: 0.2, opacity: 0.8 }) });
          g.addTo(G.zones);
          ({ lat, lng: lon } = g.getBounds().getCenter());
        }
        const m = new ShapeMarker([lat, lon], { renderer: R.points, pane: "points", shape: "site",
          radius: 7, color: SITE_COLOUR, weight: 2, fillColor: "#ffffff", fillOpacity: 1 });
        m.bindTooltip(tooltip(p.name || p.id || "Protected site",
          [`Protected site: ${humanise(p.category)}`, p.party ? `Party: ${partyLabel(p.party)}` : null]),
        { className: "lw-tip", direction: "top" });
        m.addTo(G.sites);
        continue;
      }
      if (layer === "line" || layer === "reference_line") {
        const ref = layer === "reference_line";
        const g = L.geoJSON(f, { renderer: R.lines, pane: "lines", interactive: false,
          style: () => ({ color: ref ? partyColour(p.party) : LINE_COLOUR, weight: ref ? 1.5 : 2.6,
            dashArray: ref ? "6 4" : null, opacity: 0.95 }) });
        g.addTo(G.lines);
        if (!ref) extend(g.getBounds());
        continue;
      }
      // zones: in the colour of the party whose part it is, else neutral
      const colour = p.party ? partyColour(p.party) : "#7f72a8";
      L.geoJSON(f, { renderer: R.zones, pane: "zones", interactive: false,
        style: () => ({ color: colour, weight: 1, dashArray: "4 4", fillColor: colour,
          fillOpacity: 0.035, opacity: 0.55 }) }).addTo(G.zones);
    }
    if (!bounds) {
      const all = L.geoJSON(fc);
      if (all.getLayers().length) extend(all.getBounds());
    }
    return bounds;
  }

  function markerFor(f) {
    const p = f.properties || {};
    const c = f.geometry && f.geometry.coordinates;
    if (!f.geometry || f.geometry.type !== "Point" || !Array.isArray(c)) return null;
    const fused = p.source_kind === FUSED;
    const m = new ShapeMarker([c[1], c[0]], {
      renderer: R.points, pane: "points", shape: shapeOf(p.kind),
      radius: fused ? 7 : 5, color: fused ? "#11151c" : "#ffffff", weight: fused ? 2 : 1,
      fillColor: featureColour(f), fillOpacity: 0.92, bubblingMouseEvents: false,
    });
    m.featureId = String(p.id ?? f.id);
    m.on("click", () => selectReport(m.featureId, { fromMap: true }));
    m.bindTooltip(() => tooltipEl(f), { className: "lw-tip", direction: "top", offset: [0, -6] });
    return m;
  }

  function kindLabel(p) {
    return humanise(p.kind) + (p.explosion_type ? ` (${humanise(p.explosion_type)})` : "");
  }

  function tooltipEl(f) {
    const p = f.properties || {};
    const v = state.violations.get(String(p.id ?? f.id));
    return tooltip(kindLabel(p), [
      `${fmtUTC(parseTime(p.time))} UTC`,
      `${humanise(p.source_kind)}${p.source_id ? ` · ${p.source_id}` : ""}`,
      `Party of origin: ${partyLabel(p.party)}`,
      p.side ? `On the side of: ${partyLabel(p.side)}` : null,
      v ? `Violation: ${v.findings.map((x) => x.rule_id).join(", ")}` : null,
    ])();
  }

  function drawMarkers() {
    G.reports.clearLayers();
    G.incidents.clearLayers();
    G.ellipses.clearLayers();
    const showReports = $("layer-reports").checked && state.available.reports;
    const showFused = $("layer-incidents").checked && (state.available.reports || state.available.incidents);
    const showEllipses = $("layer-ellipses").checked;
    const visible = [];
    for (const f of state.features.values()) {
      const p = f.properties || {};
      const fused = p.source_kind === FUSED;
      if (fused ? !showFused : !showReports) continue;
      const m = markerFor(f);
      if (!m) continue;
      m.addTo(fused ? G.incidents : G.reports);
      visible.push(f);
      if (showEllipses && p.ellipse) drawEllipse(f);
    }
    visible.sort(byTimeDesc);
    state.visible = visible;
    drawViolations();
    updateCounts();
    renderList();
  }

  function drawEllipse(f) {
    const p = f.properties;
    const colour = featureColour(f);
    L.geoJSON(p.ellipse, { renderer: R.ellipses, pane: "ellipses", interactive: false,
      style: () => ({ color: colour, weight: 1, opacity: 0.8, fillColor: colour, fillOpacity: 0.07 }) })
      .addTo(G.ellipses);
  }

  function byTimeDesc(a, b) {
    const ta = parseTime(a.properties.time) || 0, tb = parseTime(b.properties.time) || 0;
    if (tb !== ta) return tb - ta;
    return String(a.properties.id).localeCompare(String(b.properties.id));
  }

  function drawViolations() {
    G.violations.clearLayers();
    if (!$("layer-violations").checked || !state.available.violations) return;
    const restrict = state.available.reports || state.available.incidents;
    for (const [subject, v] of state.violations) {
      if (restrict && !state.features.has(subject)) continue;    // the filters apply to rings too
      const c = v.feature.geometry && v.feature.geometry.coordinates;
      if (!c) continue;
      const party = v.findings.find((x) => x.party)?.party ?? null;
      L.circleMarker([c[1], c[0]], { renderer: R.rings, pane: "rings", interactive: false,
        radius: 9, color: party ? partyColour(party) : "#3b4250", weight: 1.6, fill: false, opacity: 0.9 })
        .addTo(G.violations);
    }
  }

  function coverageColour(p) {
    const t = Math.max(0, Math.min(1, Number(p) || 0));
    const c = COVERAGE_LOW.map((lo, i) => Math.round(lo + (COVERAGE_HIGH[i] - lo) * t));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function drawCoverage(fc) {
    G.coverage.clearLayers();
    L.geoJSON(fc, { renderer: R.coverage, pane: "coverage", interactive: false,
      style: (f) => {
        const p = Number((f.properties || {}).p) || 0;
        return { stroke: false, fillColor: coverageColour(p), fillOpacity: 0.08 + 0.42 * p };
      } }).addTo(G.coverage);
  }

  function drawAllegations() {
    G.allegations.clearLayers();
    for (const f of state.allegations) {
      const p = f.properties || {};
      const g = f.geometry;
      if (!g || !g.type) continue;
      const colour = partyColour(p.accused_party);
      const style = { renderer: R.allegations, pane: "allegations", interactive: false, color: colour,
        weight: 1.5, dashArray: "6 5", fill: true, fillColor: colour, fillOpacity: 0.04 };
      let c;
      if (g.type === "Point") {     // a place and a radius
        c = g.coordinates;
        if (Number(p.radius_m) > 0) L.circle([c[1], c[0]], { ...style, radius: Number(p.radius_m) }).addTo(G.allegations);
      } else {                      // an area
        const area = L.geoJSON(f, { renderer: R.allegations, pane: "allegations", interactive: false, style: () => style });
        area.addTo(G.allegations);
        const centre = area.getBounds().getCenter();
        c = [centre.lng, centre.lat];
      }
      const m = new ShapeMarker([c[1], c[0]], { renderer: R.points, pane: "points", shape: "x",
        radius: 6, color: "#ffffff", weight: 1, fillColor: colour, fillOpacity: 1,
        bubblingMouseEvents: false });
      m.bindTooltip(tooltip(`Allegation ${p.id ?? ""}`, [
        `${humanise(p.kind)}: ${partyLabel(p.alleging_party)} accuses ${partyLabel(p.accused_party)}`,
        `${fmtUTC(parseTime(p.start))} – ${fmtUTC(parseTime(p.end))} UTC`,
        `Verdict: ${p.verdict ? humanise(p.verdict) : "not judged yet"}`,
      ]), { className: "lw-tip", direction: "top" });
      m.on("click", () => showAllegation(f));
      m.addTo(G.allegations);
    }
  }

  // -- time window ----------------------------------------------------------------------------
  function setRange(startMs, endMs) {
    state.range = { start: floorHour(startMs), end: floorHour(endMs) + HOUR };
    const hours = Math.max(1, Math.round((state.range.end - state.range.start) / HOUR));
    for (const id of ["time-start", "time-end"]) {
      $(id).min = "0";
      $(id).max = String(hours);
    }
  }

  function clampWindow(w) {
    const r = state.range;
    let start = Math.max(r.start, Math.min(w.start, r.end - HOUR));
    let end = Math.min(r.end, Math.max(w.end, start + HOUR));
    start = floorHour(start);
    end = floorHour(end);
    return { start, end };
  }

  function setWindow(w, { load = true, immediate = false } = {}) {
    state.win = clampWindow(w);
    $("time-start").value = String((state.win.start - state.range.start) / HOUR);
    $("time-end").value = String((state.win.end - state.range.start) / HOUR);
    showWindow();
    if (load) scheduleLoad(immediate);
  }

  function showWindow() {
    const w = state.win;
    const hours = Math.round((w.end - w.start) / HOUR);
    $("time-window").textContent = `${fmtUTC(w.start)} → ${fmtUTC(w.end)} UTC · ${hours} h`;
    const slider = $("time-slider");
    slider.dataset.start = isoZ(w.start);
    slider.dataset.end = isoZ(w.end);
    $("time-start").setAttribute("aria-valuetext", `${fmtUTC(w.start)} UTC`);
    $("time-end").setAttribute("aria-valuetext", `${fmtUTC(w.end)} UTC`);
  }

  function onSlider(ev) {
    const r = state.range;
    let s = Number($("time-start").value), e = Number($("time-end").value);
    if (s >= e) {     // keep at least an hour: push the other thumb
      if (ev.target.id === "time-start") e = s + 1; else s = e - 1;
    }
    setWindow({ start: r.start + s * HOUR, end: r.start + e * HOUR });
  }

  function shiftWindow(hours) {
    const w = state.win, r = state.range, len = w.end - w.start;
    let start = w.start + hours * HOUR;
    start = Math.max(r.start, Math.min(start, r.end - len));
    setWindow({ start, end: start + len });
  }

  function presetWindow(which) {
    const r = state.range;
    if (which === "all") setWindow({ start: r.start, end: r.end });
    else setWindow({ start: r.end - Number(which) * HOUR, end: r.end });
  }

  // -- loading the window ---------------------------------------------------------------------
  let loadTimer = null;
  function scheduleLoad(immediate = false) {
    clearTimeout(loadTimer);
    $("map").dataset.loading = "true";
    loadTimer = setTimeout(loadWindow, immediate ? 0 : RELOAD_DELAY_MS);
  }

  function filterParams() {
    return {
      kind: $("filter-kind").value,
      party: $("filter-party").value,
      side: $("filter-side").value,
      source_kind: $("filter-source").value,
    };
  }

  function matchesFilters(f) {
    const p = f.properties || {};
    const fp = filterParams();
    for (const k of Object.keys(fp)) {
      if (fp[k] && String(p[k] ?? "") !== fp[k]) return false;
    }
    return true;
  }

  function busy(text) {
    const b = $("busy");
    b.hidden = !text;
    b.textContent = text || "";
  }

  function mapMessage(text) {
    const m = $("map-message");
    m.hidden = !text;
    m.textContent = text || "";
  }

  async function loadWindow() {
    const seq = ++state.loadSeq;
    if (state.abort) state.abort.abort();
    const abort = new AbortController();
    state.abort = abort;
    const w = { ...state.win };
    const mapEl = $("map");
    mapEl.dataset.loading = "true";
    const base = { start: isoZ(w.start), end: isoZ(w.end), format: "geojson", limit: PAGE_LIMIT };
    const ellipses = $("layer-ellipses").checked;
    const params = { ...base, ...filterParams(), ellipses: ellipses ? "true" : undefined };
    busy("Loading reports…");
    const notes = [];
    try {
      let features = [];
      if (state.available.reports) {
        try {
          const got = await fetchAll("reports", params, { signal: abort.signal,
            onPage: (n) => busy(`Loading reports… ${fmtNumber(n)}`) });
          features = got.features;
          if (got.truncated) notes.push(`Only the first ${fmtNumber(features.length)} reports are shown: narrow the window.`);
        } catch (exc) {
          if (exc.status !== 403) throw exc;
          state.available.reports = false;
          hideLayerToggle("layer-reports");
        }
      }
      if (!state.available.reports && state.available.incidents) {
        try {
          features = (await fetchAll("incidents", params, { signal: abort.signal })).features;
        } catch (exc) {
          if (exc.status !== 403) throw exc;
          state.available.incidents = false;
          hideLayerToggle("layer-incidents");
          notes.push("Your role may not see individual reports.");
        }
      }
      let violations = [];
      if (state.available.violations) {
        try {
          const vp = { ...base };
          if (!state.available.reports && !state.available.incidents) vp.party = $("filter-party").value;
          violations = (await fetchAll("violations", vp, { signal: abort.signal })).features;
        } catch (exc) {
          if (exc.status !== 403) throw exc;
          state.available.violations = false;
          hideLayerToggle("layer-violations");
        }
      }
      if (seq !== state.loadSeq) return;
      state.features = new Map();
      for (const f of features) {
        const id = String((f.properties && f.properties.id) ?? f.id);
        if (f.properties && f.properties.id === undefined) f.properties.id = id;
        state.features.set(id, f);
        learnOptions(f.properties || {});
      }
      state.violations = new Map();
      for (const f of violations) {
        const p = f.properties || {};
        const subject = String(p.subject ?? p.id ?? "");
        if (!state.violations.has(subject)) state.violations.set(subject, { feature: f, findings: [] });
        state.violations.get(subject).findings.push(p);
      }
      state.loadedWin = w;
      state.loadedEllipses = ellipses;
      state.listShown = LIST_STEP;
      state.liveOutside = 0;
      drawMarkers();
      await Promise.all([loadAllegations(abort.signal, seq), loadCoverage(abort.signal, seq)]);
      if (seq !== state.loadSeq) return;
      mapEl.dataset.windowStart = isoZ(w.start);
      mapEl.dataset.windowEnd = isoZ(w.end);
      mapMessage([state.startNote, ...notes].filter(Boolean).join(" "));
      mapEl.dataset.loading = "false";
      busy("");
      writeHash();
      if (state.pendingReport) {
        const id = state.pendingReport;
        state.pendingReport = null;
        selectReport(id);
      }
    } catch (exc) {
      if (exc && exc.name === "AbortError") return;
      if (seq !== state.loadSeq) return;
      busy("");
      mapEl.dataset.loading = "false";
      mapMessage(`Could not load the reports: ${exc.message || exc}`);
    }
  }

  async function loadAllegations(signal, seq) {
    G.allegations.clearLayers();
    if (!$("layer-allegations").checked || !state.available.allegations) return;
    try {
      const w = state.loadedWin || state.win;
      const got = await fetchAll("allegations", { start: isoZ(w.start), end: isoZ(w.end),
        format: "geojson" }, { signal });
      if (seq !== undefined && seq !== state.loadSeq) return;
      state.allegations = got.features;
      drawAllegations();
    } catch (exc) {
      if (exc.name === "AbortError") return;
      if (exc.status === 403) { state.available.allegations = false; hideLayerToggle("layer-allegations"); return; }
      layerNote(`Allegations: ${exc.message}`);
    }
  }

  async function loadCoverage(signal, seq) {
    if (!$("layer-coverage").checked || !state.available.coverage) {
      G.coverage.clearLayers();
      return;
    }
    const w = state.loadedWin || state.win;
    const at = floorHour((w.start + w.end) / 2);
    if (state.coverageAt === at && G.coverage.getLayers().length) return;
    try {
      const fc = await api(`coverage?${query({ at: isoZ(at), kind: "explosion", format: "geojson" })}`, { signal });
      if (seq !== undefined && seq !== state.loadSeq) return;
      state.coverageAt = at;
      drawCoverage(fc);
      layerNote(`Coverage: probability of detecting an explosion at ${fmtUTC(at)} UTC.`);
    } catch (exc) {
      if (exc.name === "AbortError") return;
      G.coverage.clearLayers();
      if (exc.status === 403) { state.available.coverage = false; hideLayerToggle("layer-coverage"); return; }
      if (exc.status === 404) {
        state.available.coverage = false;
        const box = $("layer-coverage");
        box.checked = false;
        box.disabled = true;
        box.closest("label").classList.add("unavailable");
        map.removeLayer(G.coverage);
        layerNote(`Coverage: ${exc.message || "the store has no sensor network."}`);
        return;
      }
      layerNote(`Coverage: ${exc.message}`);
    }
  }

  // The view in the URL's fragment (#start=..&end=..&kind=..&report=..): a link shows the
  // same window, filters and report to whoever opens it (after logging in).
  function writeHash() {
    if (!state.win) return;
    const q = new URLSearchParams();
    q.set("start", isoZ(state.win.start));
    q.set("end", isoZ(state.win.end));
    for (const [k, v] of Object.entries(filterParams())) if (v) q.set(k, v);
    if (state.selectedId) q.set("report", state.selectedId);
    history.replaceState(null, "", `${window.location.pathname}${window.location.search}#${q}`);
  }

  function readHash() {
    const q = new URLSearchParams(window.location.hash.slice(1));
    const ids = { kind: "filter-kind", party: "filter-party", side: "filter-side", source_kind: "filter-source" };
    for (const [k, id] of Object.entries(ids)) {
      const v = q.get(k);
      if (v && [...$(id).options].some((o) => o.value === v)) $(id).value = v;
    }
    const t0 = parseTime(q.get("start") || ""), t1 = parseTime(q.get("end") || "");
    return { win: t0 !== null && t1 !== null && t1 > t0 ? { start: t0, end: t1 } : null, report: q.get("report") };
  }

  function layerNote(text) { $("layer-note").textContent = text || ""; }

  function hideLayerToggle(id) {
    const box = $(id);
    box.checked = false;
    box.closest("label").hidden = true;
  }

  function learnOptions(p) {
    let changed = false;
    if (p.kind && !state.kinds.has(p.kind)) { state.kinds.add(p.kind); changed = true; }
    if (p.source_kind && !state.sources.has(p.source_kind)) { state.sources.add(p.source_kind); changed = true; }
    if (changed) { fillSelect("filter-kind", [...state.kinds], humanise); fillSelect("filter-source", [...state.sources], humanise); buildLegend(); }
  }

  function fillSelect(id, values, label) {
    const sel = $(id);
    const keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    for (const v of values) sel.append(el("option", { value: v, text: label(v) }));
    sel.value = values.includes(keep) ? keep : "";
  }

  // -- counts, list ---------------------------------------------------------------------------
  function updateCounts() {
    const n = state.visible.length;
    $("map").dataset.count = String(n);
    $("report-count").textContent = fmtNumber(n);
    $("report-count").dataset.count = String(n);
    const nViol = G.violations.getLayers().length;
    const parts = [];
    if (state.liveOutside) parts.push(`${state.liveOutside} live report(s) fall outside the window.`);
    if (nViol) parts.push(`${fmtNumber(nViol)} with a violation finding (ringed).`);
    $("list-note").textContent = parts.join(" ");
  }

  function reportItem(f) {
    const p = f.properties || {};
    const id = String(p.id);
    const fused = p.source_kind === FUSED;
    const v = state.violations.get(id);
    const b = el("button", { type: "button", class: "report-item", "data-testid": "report-item",
      dataset: { id }, "aria-label": `${kindLabel(p)}, ${fmtUTC(parseTime(p.time))} UTC, ${id}` },
    swatch(shapeOf(p.kind), featureColour(f), fused ? "#11151c" : "#ffffff", { width: fused ? 2 : 1 }),
    el("span", { class: "ri-kind", text: kindLabel(p) }),
    el("span", { class: "ri-time", text: fmtShort(parseTime(p.time)) }),
    el("span", { class: "ri-meta" },
      `${humanise(p.source_kind)} · ${partyLabel(p.party)} `,
      fused ? el("span", { class: "badge", text: "fused" }) : null, " ",
      v ? el("span", { class: "badge violation", text: "violation" }) : null, " ",
      f._live ? el("span", { class: "badge live", text: "live" }) : null),
    el("span", { class: "ri-id", text: id }));
    if (id === state.selectedId) b.classList.add("selected");
    b.addEventListener("click", () => selectReport(id));
    return el("li", {}, b);
  }

  function renderList() {
    const list = $("report-list");
    clear(list);
    const shown = state.visible.slice(0, state.listShown);
    const frag = document.createDocumentFragment();
    for (const f of shown) frag.append(reportItem(f));
    list.append(frag);
    const more = $("list-more");
    const left = state.visible.length - shown.length;
    more.hidden = left <= 0;
    more.textContent = `Show more (${fmtNumber(left)} left)`;
  }

  // -- live updates (server-sent events) ------------------------------------------------------
  function setStatus(stateName, text) {
    const s = $("status");
    s.dataset.state = stateName;
    $("status-text").textContent = text;
    s.title = text;
  }

  function stopEvents() {
    if (state.events) { state.events.close(); state.events = null; }
    clearTimeout(state.reconnect);
  }

  function startEvents() {
    stopEvents();
    if (!can("live")) { setStatus("offline", "no live feed for this role"); return; }
    if (!window.EventSource) { setStatus("offline", "no live updates in this browser"); return; }
    setStatus("connecting", "connecting…");
    const es = new EventSource(`${API}/events`);
    state.events = es;
    es.addEventListener("open", () => { state.retryMs = 2000; setStatus("live", "live"); });
    es.addEventListener("error", () => {
      if (es.readyState !== EventSource.CLOSED) { setStatus("connecting", "reconnecting…"); return; }
      // the browser gave up (a 401 or 403, or the server went away): check, then try again
      // later and later (up to a minute)
      setStatus("offline", "offline");
      state.events = null;
      const delay = state.retryMs || 2000;
      state.retryMs = Math.min(60000, delay * 2);
      state.reconnect = setTimeout(async () => {
        try { await api("me"); startEvents(); } catch (exc) {
          if (exc.status !== 401) state.reconnect = setTimeout(startEvents, state.retryMs);
        }
      }, delay);
    });
    es.addEventListener("report", (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch (_) { return; }
      onLiveReport(f);
    });
  }

  function onLiveReport(f) {
    if (!f || typeof f !== "object" || !f.properties) return;
    state.liveCount += 1;
    const lc = $("live-count");
    lc.textContent = `${fmtNumber(state.liveCount)} new`;
    lc.dataset.count = String(state.liveCount);
    const p = f.properties;
    const id = String(p.id ?? f.id);
    p.id = id;
    f._live = true;
    learnOptions(p);
    const t = parseTime(p.time);
    if (t === null) return;
    if (state.rangeFallback) {
      // the first record of an empty store: the slider's span starts from it
      state.rangeFallback = false;
      state.startNote = "";
      mapMessage("");
      setRange(t, t);
      setWindow({ start: state.range.start, end: state.range.end }, { immediate: true });
      return;
    }
    if (state.range && t >= state.range.end) {      // the store grew: extend the slider
      const following = state.win.end === state.range.end;
      setRange(state.range.start, t);
      const w = { ...state.win };
      if (following) w.end = state.range.end;
      setWindow(w, { load: false });
      if (following && state.loadedWin) { state.loadedWin.end = state.win.end; $("map").dataset.windowEnd = isoZ(state.win.end); }
    }
    const lw = state.loadedWin;
    if (!lw || t < lw.start || t >= lw.end || !matchesFilters(f)) {
      state.liveOutside += 1;
      updateCounts();
      return;
    }
    const fused = p.source_kind === FUSED;
    const existed = state.features.has(id);
    state.features.set(id, f);
    const showReports = $("layer-reports").checked && state.available.reports;
    const showFused = $("layer-incidents").checked && (state.available.reports || state.available.incidents);
    if (existed) { drawMarkers(); return; }
    if (fused ? !showFused : !showReports) { updateCounts(); return; }
    const m = markerFor(f);
    if (!m) return;
    m.addTo(fused ? G.incidents : G.reports);
    if ($("layer-ellipses").checked && p.ellipse) drawEllipse(f);
    state.visible.push(f);
    state.visible.sort(byTimeDesc);
    updateCounts();
    renderList();
    const row = $("report-list").querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (row) row.classList.add("fresh");
  }

  // -- selection and the detail panel --------------------------------------------------------
  function highlight(id) {
    G.selection.clearLayers();
    for (const b of $("report-list").querySelectorAll(".report-item.selected")) b.classList.remove("selected");
    if (!id) return;
    const row = $("report-list").querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (row) row.classList.add("selected");
    const f = state.features.get(id);
    if (f && f.geometry && f.geometry.type === "Point") {
      const [lon, lat] = f.geometry.coordinates;
      L.circleMarker([lat, lon], { renderer: R.selection, pane: "selection", interactive: false,
        radius: 14, color: "#11151c", weight: 2.5, fill: false }).addTo(G.selection);
    }
  }

  async function selectReport(id, { fromMap = false } = {}) {
    state.selectedId = id;
    highlight(id);
    writeHash();
    showTab("detail");
    if (isNarrow()) setPanel(true);
    const box = $("detail");
    box.dataset.id = id;
    box.dataset.loading = "true";
    clear(box);
    box.append(el("h2", { "data-testid": "detail-id", text: id }), el("p", { class: "muted", text: "Loading…" }));
    try {
      const d = await api(`reports/${encodeURIComponent(id)}`);
      if (state.selectedId !== id) return;
      G.selection.clearLayers();
      highlight(id);
      window.lwDetail.render($("detail"), id, d || {});
      if (!fromMap) panTo(id, d);
    } catch (exc) {
      if (state.selectedId !== id) return;
      clear(box);
      box.append(el("h2", { "data-testid": "detail-id", text: id }),
        el("p", { class: "error", text: exc.status === 403
          ? "Your role may not see this report's details." : `Could not load the report: ${exc.message}` }));
    } finally {
      if (state.selectedId === id) box.dataset.loading = "false";
    }
  }

  function panTo(id, d) {
    const f = state.features.get(id) || (d && d.feature);
    if (!f || !f.geometry || f.geometry.type !== "Point") return;
    const [lon, lat] = f.geometry.coordinates;
    const ll = L.latLng(lat, lon);
    if (!map.getBounds().pad(-0.1).contains(ll)) map.panTo(ll);
  }

  // The origin (firing or launch point): the API's "origin", else the record's own.
  function originOf(d, rec) {
    for (const o of [d.origin, rec.origin]) {
      if (!o || typeof o !== "object") continue;
      const lon = Number(Array.isArray(o) ? o[0] : o.lon), lat = Number(Array.isArray(o) ? o[1] : o.lat);
      if (!Number.isFinite(lon) || !Number.isFinite(lat)) continue;
      const r = Number(o.radius_m ?? o.semi_major_m);
      return { lon, lat, radius_m: Number.isFinite(r) && r > 0 ? r : null };
    }
    return null;
  }

  function drawOrigin(feature, origin) {
    const o = [Number(origin.lat), Number(origin.lon)];
    L.circleMarker(o, { renderer: R.selection, pane: "selection", interactive: false, radius: 6,
      color: "#11151c", weight: 2, fillColor: "#ffffff", fillOpacity: 1 }).addTo(G.selection);
    if (origin.radius_m) {
      L.circle(o, { renderer: R.selection, pane: "selection", interactive: false,
        radius: Number(origin.radius_m), color: "#11151c", weight: 1, dashArray: "3 4", fill: false }).addTo(G.selection);
    }
    if (feature && feature.geometry && feature.geometry.type === "Point") {
      const [lon, lat] = feature.geometry.coordinates;
      L.polyline([o, [lat, lon]], { renderer: R.selection, pane: "selection", interactive: false,
        color: "#11151c", weight: 1.5, dashArray: "6 4" }).addTo(G.selection);
    }
  }

  function zoomTo(feature, origin) {
    if (!feature || !feature.geometry) return;
    const [lon, lat] = feature.geometry.coordinates;
    const b = L.latLngBounds([[lat, lon], [lat, lon]]);
    if (origin) b.extend([origin.lat, origin.lon]);
    map.fitBounds(b.pad(0.5), { maxZoom: 12 });
    if (isNarrow()) setPanel(false);
  }

  function showAllegation(f) {
    state.selectedId = null;
    highlight(null);
    showTab("detail");
    if (isNarrow()) setPanel(true);
    window.lwDetail.renderAllegation($("detail"), f.properties || {});
  }

  // -- daily reports --------------------------------------------------------------------------
  function dailyMessage(text) { $("daily-message").textContent = text || ""; }

  async function loadDaily() {
    if (!state.available.daily) return;
    try {
      const rows = await api("daily-reports");
      renderDaily(Array.isArray(rows) ? rows : []);
    } catch (exc) {
      if (exc.status === 403) {
        state.available.daily = false;
        $("tab-daily").hidden = true;
        if ($("tab-daily").getAttribute("aria-selected") === "true") showTab("map");
        return;
      }
      dailyMessage(`Could not list the daily reports: ${exc.message}`);
    }
  }

  function reportLink(day, ext, label) {
    return el("a", { href: `${API}/daily-reports/${encodeURIComponent(day)}.${ext}`, target: "_blank",
      rel: "noopener", text: label, "data-testid": `daily-${ext}` });
  }

  function renderDaily(rows) {
    const list = $("daily-list");
    clear(list);
    rows = rows.slice().sort((a, b) => String(b.day).localeCompare(String(a.day)));
    if (!rows.length) {
      list.append(el("li", { class: "muted small", "data-testid": "daily-empty",
        text: can("all") ? "No daily report has been built yet." : "No daily report has been released yet." }));
    }
    for (const r of rows) {
      const day = String(r.day ?? "");
      const actions = [];
      if (isAnalyst()) {
        actions.push(el("button", { type: "button", text: "Build", "data-testid": "daily-rebuild",
          title: "Build this day's report again", onclick: () => buildDay(day) }));
        if (!r.released) {
          actions.push(el("button", { type: "button", text: "Release", "data-testid": "daily-release",
            onclick: () => releaseDay(day) }));
        }
      }
      list.append(el("li", { class: "daily-item", "data-testid": "daily-report-item", dataset: { day } },
        el("div", { class: "d-head" }, el("span", { class: "d-day", text: day }),
          el("span", { class: `badge ${r.released ? "released" : ""}`, text: r.released ? "released" : "not released" })),
        el("div", { class: "d-meta" },
          `Built ${r.built_at ? fmtUTC(parseTime(r.built_at)) + " UTC" : "—"}`,
          r.released_at ? ` · released ${fmtUTC(parseTime(r.released_at))} UTC` : ""),
        el("div", { class: "d-links" },
          el("button", { type: "button", text: "View", "data-testid": "daily-view", onclick: () => viewDay(day) }),
          reportLink(day, "html", "HTML"), reportLink(day, "pdf", "PDF"), reportLink(day, "json", "JSON"),
          ...actions)));
    }
  }

  function viewDay(day) {
    const url = `${API}/daily-reports/${encodeURIComponent(day)}.html`;
    $("report-dialog-title").textContent = `Daily report ${day}`;
    $("report-dialog-open").setAttribute("href", url);
    $("report-frame").setAttribute("src", url);
    const dlg = $("report-dialog");
    if (typeof dlg.showModal === "function") dlg.showModal(); else window.open(url, "_blank", "noopener");
  }

  async function buildDay(day) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) { dailyMessage("Choose a day."); return; }
    dailyMessage(`Building the report for ${day}… (this can take a minute)`);
    const buttons = [...document.querySelectorAll("#daily button")];
    for (const b of buttons) b.disabled = true;       // one build at a time
    try {
      await api(`daily-reports/${encodeURIComponent(day)}`, { method: "POST" });
      dailyMessage(`The report for ${day} is built.`);
    } catch (exc) {
      dailyMessage(exc.status === 403 ? "Your role may not build reports." : `Could not build the report for ${day}: ${exc.message}`);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
    await loadDaily();
  }

  async function releaseDay(day) {
    if (!window.confirm(`Release the daily report for ${day}? Once released, everyone with access, the public included, can read it.`)) return;
    try {
      await api(`daily-reports/${encodeURIComponent(day)}/release`, { method: "POST" });
      dailyMessage(`The report for ${day} is released.`);
    } catch (exc) {
      dailyMessage(exc.status === 403 ? "Your role may not release reports." : `Could not release the report for ${day}: ${exc.message}`);
    }
    await loadDaily();
  }

  // -- legend ---------------------------------------------------------------------------------
  function legendRow(icon, text) { return el("div", { class: "legend-row" }, icon, el("span", { text })); }

  function buildLegend() {
    const body = $("legend-body");
    clear(body);
    const bySide = $("colour-by").value === "side";
    const parties = el("div", { class: "legend-section" },
      el("h3", { text: bySide ? "Colour: side of the line the report lies on" : "Colour: party of origin (attributed)" }));
    for (const [id] of state.partyColour) {
      if (!state.partyName.has(id)) continue;
      parties.append(legendRow(swatch("circle", partyColour(id)), bySide ? `${partyLabel(id)}'s side` : partyLabel(id)));
    }
    parties.append(legendRow(swatch("circle", NO_PARTY), bySide ? "On the line / unknown" : "Not attributed"));
    const kinds = el("div", { class: "legend-section" }, el("h3", { text: "Shape: kind" }));
    for (const k of state.kinds) kinds.append(legendRow(swatch(shapeOf(k), "#8a919c"), humanise(k)));
    const sym = el("div", { class: "legend-section" }, el("h3", { text: "Symbols" }),
      legendRow(swatch("circle", "#8a919c", "#11151c", { width: 2 }), "Fused incident (sensor fusion): dark outline"),
      legendRow(swatch("circle", "#555", "#555", { ring: true, width: 2 }), "Violation finding: ring in the colour of the party held responsible"),
      legendRow(swatch("circle", "#8a919c", "#8a919c", { ring: true, dash: "0.5 0.4", opacity: 0.1 }), "95 % error ellipse (when shown)"),
      legendRow(swatch("x", "#555"), "Allegation: dashed circle, colour of the accused party"),
      legendRow(swatch("site", "#ffffff", SITE_COLOUR, { width: 1.5 }), "Protected site"),
      legendRow(lineSwatch(LINE_COLOUR, { width: 3 }), "Demarcation line"),
      legendRow(lineSwatch("#666", { width: 1.5, dash: "5 3" }), "A party's reference line"),
      legendRow(areaSwatch("#7f72a8", "#7f72a8", { opacity: 0.15, dash: "3 2" }), "Zone (party's colour where it is one party's)"));
    const ramp = el("div", { class: "ramp" });
    ramp.style.background = `linear-gradient(to right, ${coverageColour(0)}, ${coverageColour(1)})`;
    const cov = el("div", { class: "legend-section" }, el("h3", { text: "Sensor coverage: probability of detection" }),
      el("div", { class: "legend-row" }, el("span", { text: "0" }), ramp, el("span", { text: "1" })));
    body.append(parties, kinds, sym, cov);
  }

  // -- panel, tabs, keyboard ------------------------------------------------------------------
  const narrowQuery = window.matchMedia("(max-width: 900px)");
  function isNarrow() { return narrowQuery.matches; }

  function setPanel(open) {
    $("app").classList.toggle("panel-closed", !open);
    $("panel-toggle").setAttribute("aria-expanded", String(open));
    $("panel").dataset.open = String(open);
    if (map) setTimeout(() => map.invalidateSize(), 0);
  }
  function panelOpen() { return !$("app").classList.contains("panel-closed"); }

  function showTab(name) {
    for (const b of document.querySelectorAll(".tabs [role=tab]")) {
      const on = b.dataset.tab === name;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      $(b.getAttribute("aria-controls")).hidden = !on;
    }
    const wide = state.modules.some((m) => m.tab === name && m.wide);
    if (wide !== $("app").classList.contains("wide-panel")) {
      $("app").classList.toggle("wide-panel", wide);
      if (map) setTimeout(() => map.invalidateSize(), 0);
    }
    if (name === "daily") loadDaily();
    for (const m of state.modules) if (m.tab === name && m.show) m.show();
  }

  function onKey(ev) {
    if (ev.key === "Escape") {
      if (document.querySelector("dialog[open]")) return;        // a dialog closes itself
      if (isNarrow() && panelOpen()) { setPanel(false); return; }
      if (state.selectedId) { state.selectedId = null; highlight(null); showTab("map"); writeHash(); }
      return;
    }
    const t = ev.target;
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    if ($("app").hidden || !state.range) return;
    if (ev.key === "[") { shiftWindow(-1); ev.preventDefault(); }
    else if (ev.key === "]") { shiftWindow(1); ev.preventDefault(); }
    else if (ev.key === "p" || ev.key === "P") { setPanel(!panelOpen()); ev.preventDefault(); }
  }

  function onTabKey(ev) {     // arrow keys move between tabs (WAI-ARIA tabs pattern)
    if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
    const tabs = [...document.querySelectorAll(".tabs [role=tab]")].filter((b) => !b.hidden);
    const i = tabs.indexOf(ev.target);
    const next = tabs[(i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    showTab(next.dataset.tab);
    next.focus();
  }

  // -- start ----------------------------------------------------------------------------------
  function wireControls() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("panel-toggle").addEventListener("click", () => setPanel(!panelOpen()));
    for (const b of document.querySelectorAll(".tabs [role=tab]")) {
      b.addEventListener("click", () => showTab(b.dataset.tab));
      b.addEventListener("keydown", onTabKey);
    }
    $("time-start").addEventListener("input", onSlider);
    $("time-end").addEventListener("input", onSlider);
    for (const b of document.querySelectorAll("[data-shift]")) b.addEventListener("click", () => shiftWindow(Number(b.dataset.shift)));
    for (const b of document.querySelectorAll("[data-preset]")) b.addEventListener("click", () => presetWindow(b.dataset.preset));
    for (const id of ["filter-kind", "filter-party", "filter-side", "filter-source"]) {
      $(id).addEventListener("change", () => scheduleLoad(true));
    }
    $("colour-by").addEventListener("change", () => { buildLegend(); drawMarkers(); });
    $("layer-reports").addEventListener("change", drawMarkers);
    $("layer-incidents").addEventListener("change", drawMarkers);
    $("layer-violations").addEventListener("change", () => { drawViolations(); updateCounts(); });
    $("layer-ellipses").addEventListener("change", () => {
      if ($("layer-ellipses").checked && !state.loadedEllipses) scheduleLoad(true); else drawMarkers();
    });
    $("layer-allegations").addEventListener("change", () => {
      if ($("layer-allegations").checked) { map.addLayer(G.allegations); loadAllegations(); } else map.removeLayer(G.allegations);
    });
    $("layer-coverage").addEventListener("change", () => {
      if ($("layer-coverage").checked) { map.addLayer(G.coverage); loadCoverage(); } else { map.removeLayer(G.coverage); layerNote(""); }
    });
    $("layer-agreement").addEventListener("change", () => {
      for (const g of [G.zones, G.lines, G.sites]) {
        if ($("layer-agreement").checked) map.addLayer(g); else map.removeLayer(g);
      }
    });
    $("list-more").addEventListener("click", () => { state.listShown += LIST_STEP; renderList(); });
    $("daily-build-button").addEventListener("click", () => buildDay($("daily-day").value));
    $("report-dialog-close").addEventListener("click", () => { $("report-dialog").close(); });
    $("report-dialog").addEventListener("close", () => $("report-frame").setAttribute("src", "about:blank"));
    document.addEventListener("keydown", onKey);
    narrowQuery.addEventListener("change", () => setPanel(!isNarrow()));
  }

  // Hide what the role may not see rather than show errors.
  function applyRole() {
    const records = can("records"), all = can("all"), allegations = can("allegations");
    Object.assign(state.available, { reports: records, incidents: records, violations: all,
      allegations, coverage: all, daily: can("daily") });
    const hideToggle = (id, off) => { $(id).closest("label").hidden = off; if (off) $(id).checked = false; };
    hideToggle("layer-reports", !records);
    hideToggle("layer-incidents", !records);
    hideToggle("layer-ellipses", !records);
    hideToggle("layer-violations", !all);
    hideToggle("layer-coverage", !all);
    hideToggle("layer-allegations", !allegations);
    if (!records && allegations) $("layer-allegations").checked = true;
    $("filters").hidden = !records;
    $("report-list").closest("section").hidden = !records;
    $("time-slider").hidden = !records && !allegations;
    $("tab-detail").hidden = !records && !allegations;
    $("tab-daily").hidden = !state.available.daily;
    $("live-count").hidden = !can("live");
    if (!records && !allegations && state.available.daily) showTab("daily");
    else showTab("map");
  }

  async function start(me) {
    state.me = me;
    $("login").hidden = true;
    $("app").hidden = false;
    $("who-name").textContent = me.name || "";
    const role = String(me.role || "");
    $("who-role").textContent = me.party && !role.includes(me.party) ? `${role} · ${me.party}` : role;
    $("who-role").dataset.role = role;
    document.body.dataset.role = role;
    applyRole();
    setPanel(!isNarrow());
    if (!map) initMap();
    for (const [id, group] of [["layer-allegations", G.allegations], ["layer-coverage", G.coverage]]) {
      if ($(id).checked) map.addLayer(group); else map.removeLayer(group);
    }
    setTimeout(() => map.invalidateSize(), 0);
    busy("Loading the agreement…");

    const settle = (p) => p.then((v) => ({ ok: true, v }), (e) => ({ ok: false, e }));
    const [ag, agGeo, base, tr] = await Promise.all([
      settle(api("agreement")), settle(api("agreement/geojson")), settle(api("basemap")),
      can("records") ? settle(api("time-range")) : { ok: false, e: new ApiError(403, "not for this role") }]);
    if (!state.me) return;             // the session ended meanwhile

    if (ag.ok && ag.v) {
      state.agreement = ag.v;
      $("agreement-title").textContent = `${ag.v.title || ag.v.id || ""}${ag.v.version ? ` (v${ag.v.version})` : ""}`;
      $("agreement-title").title = $("agreement-title").textContent;
      (ag.v.parties || []).forEach((p, i) => {
        state.partyColour.set(p.id, PARTY_PALETTE[i % PARTY_PALETTE.length]);
        state.partyName.set(p.id, p.name || p.id);
      });
    }
    if (me.party) $("who-role").textContent = `party · ${partyLabel(me.party)}`;
    const parties = [...state.partyName.keys()];
    fillSelect("filter-party", parties, partyLabel);
    fillSelect("filter-side", parties, (id) => `${partyLabel(id)}'s side`);
    fillSelect("filter-kind", [...state.kinds], humanise);
    fillSelect("filter-source", [...state.sources], humanise);
    buildLegend();
    if (base.ok) { state.basemap = base.v; drawBasemap(base.v); }
    let bounds = null;
    if (agGeo.ok) { state.agreementGeo = agGeo.v; bounds = drawAgreement(agGeo.v); }
    if (bounds) map.fitBounds(bounds.pad(0.05));
    for (const m of state.modules) {
      try { if (m.start) m.start(me); } catch (exc) { console.error(exc); }      // eslint-disable-line no-console
    }
    const problems = [ag, agGeo, base, tr].filter((r) => !r.ok && r.e.status !== 403).map((r) => r.e.message);

    let t0 = null, t1 = null;
    if (tr.ok && tr.v) { t0 = parseTime(tr.v.start); t1 = parseTime(tr.v.end); }
    if ((t0 === null || t1 === null) && !tr.ok && state.available.daily) {
      // a role that may not see the records: the days of the reports it may read
      try {
        const days = ((await api("daily-reports")) || []).map((r) => parseTime(`${r.day}T00:00:00Z`)).filter((t) => t !== null);
        if (days.length) { t0 = Math.min(...days); t1 = Math.max(...days) + 24 * HOUR - 1; }
      } catch (_) { /* below */ }
    }
    if ((t0 === null || t1 === null) && !tr.ok && state.available.allegations) {
      // ... or the span of the allegations it may read
      try {
        const alls = (await fetchAll("allegations", { format: "geojson", limit: 5000 })).features;
        const ts = alls.flatMap((f) => [parseTime(f.properties.start), parseTime(f.properties.end)]).filter((t) => t !== null);
        if (ts.length) { t0 = Math.min(...ts); t1 = Math.max(...ts); }
      } catch (_) { /* below */ }
    }
    if (t0 === null || t1 === null) {
      const now = Date.now();
      t0 = now - 24 * HOUR;
      t1 = now;
      state.rangeFallback = tr.ok;      // an empty store: the first live record sets the span
      if (tr.ok) {
        problems.push(can("all") ? "The store holds no reports yet; new ones will appear here as they arrive."
          : "None of your reports is stored yet; they will appear here as you submit them.");
      }
    }
    setRange(t0, t1);
    const r = state.range;
    const span = r.end - r.start;
    // the whole range when it is short, else the last day (the day a daily report covers)
    const fromLink = readHash();
    const first = fromLink.win
      || (span <= 48 * HOUR ? { start: r.start, end: r.end } : { start: r.end - 24 * HOUR, end: r.end });
    state.pendingReport = fromLink.report && can("records") ? fromLink.report : null;
    setWindow(first, { immediate: true });
    const lastDay = new Date(r.end - HOUR).toISOString().slice(0, 10);
    $("daily-day").value = lastDay;
    $("daily-day").max = lastDay;
    $("daily-day").min = new Date(r.start).toISOString().slice(0, 10);
    $("daily-build").hidden = !isAnalyst();
    busy("");
    state.startNote = problems.join(" ");
    mapMessage(state.startNote);
    startEvents();
    loadDaily();
  }

  async function boot() {
    wireControls();
    try {
      const me = await api("me", { allow401: true });
      await start(me);
    } catch (exc) {
      showLogin(exc.status === 401 || exc.status === 403 ? "" : exc.message);
    }
  }

  // What the panes in the other files (detail.js, report-form.js, review.js) use of this one.
  window.lwCore = {
    el, clear, api, query, ApiError, can, isAnalyst, partyLabel, partyColour, swatch, shapeOf,
    me: () => state.me,
    agreement: () => state.agreement,
    partyIds: () => [...state.partyName.keys()],
    basemap: () => state.basemap,
    agreementGeo: () => state.agreementGeo,
    features: () => state.features,
    selectedId: () => state.selectedId,
    map: () => map,
    showTab, setPanel, isNarrow, selectReport, zoomTo, drawOrigin, originOf,
    reload: () => { if (state.win) scheduleLoad(true); },
    register: (m) => { state.modules.push(m); },
  };

  // A small hook for tests and for the curious (read-only views plus the public actions).
  window.linewatch = {
    visibleCount: () => state.visible.length,
    listedIds: () => state.visible.map((f) => String(f.properties.id)),
    loadedWindow: () => (state.loadedWin ? { start: isoZ(state.loadedWin.start), end: isoZ(state.loadedWin.end) } : null),
    isLoading: () => $("map").dataset.loading === "true",
    liveCount: () => state.liveCount,
    setWindow: (startIso, endIso) => setWindow({ start: parseTime(startIso), end: parseTime(endIso) }, { immediate: true }),
    selectReport: (id) => selectReport(String(id)),
    map: () => map,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
