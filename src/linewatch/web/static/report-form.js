/* linewatch dashboard: the report form (the "Report" tab), for monitors and analysts.
 *
 * Every record kind with its own fields; the place by a click on the map, by typed coordinates,
 * or as an observer's position with a direction and a distance band ("3–7 km south-west"); the
 * time with its precision; the source. It checks what the API checks (docs/record-formats.md)
 * before sending, and shows the API's own reasons beside the field they name. "My reports"
 * lists what the user submitted, with the question of a returned one, and opens a report to
 * correct it: a new version naming the one it replaces, with what changed and why.
 *
 * Uses window.lwCore (app.js) and window.lwLabels; registers itself with lwCore.
 */
"use strict";

(function () {
  const W = window.lwLabels;
  const C = () => window.lwCore;
  const el = (...a) => window.lwCore.el(...a);
  const $ = (id) => document.getElementById(id);

  const MAX_TEXT = 10000, MAX_DESCRIPTION = 100000, MAX_COUNT = 100000, MAX_DISTANCE_M = 1000000, MAX_DELAY_MIN = 10080;
  const EARLIEST = Date.UTC(1950, 0, 1), LATEST = Date.UTC(2100, 0, 1);
  const KINDS = Object.keys(W.KINDS);
  // the sources a person reports from come first; sensors and fusion are the software's
  const SOURCES = ["patrol", "observation_post", "open_source", "uav", "fixed_camera", "acoustic_sensor", "satellite_imagery"];
  const KIND_FIELDS = {
    explosion: ["explosion_type", "count", "weapon_class"],
    projectile_in_flight: ["count", "weapon_class"],
    muzzle_flash: ["count", "weapon_class"],
    illumination_flare: ["count"],
    bursts_and_shots: ["count", "weapon_class"],
    weapon_sighting: ["weapon_class", "count", "in_storage"],
    infrastructure_strike: ["category", "weapon_class"],
    aircraft_sighting: ["aircraft_type", "count", "purpose"],
    fom_restriction: ["restriction", "delay_min"],
    mine_uxo: ["category", "count"],
    civilian_casualty: ["killed", "injured", "corroborated"],
  };
  const ALL_KIND_FIELDS = [...new Set(Object.values(KIND_FIELDS).flat())];
  const FIELD_DEFS = {
    explosion_type: { type: "select", label: "Type of explosion", options: Object.entries(W.EXPLOSION_TYPES) },
    count: { type: "int", label: "How many", max: MAX_COUNT },
    weapon_class: { type: "text", label: "Weapon (class)", list: "weapons" },
    in_storage: { type: "bool", label: "Seen in a storage site or holding area" },
    category: { type: "text", label: "Category (e.g. the kind of infrastructure)" },
    aircraft_type: { type: "text", label: "Aircraft type", list: "aircraft",
      suggestions: [["uav_fixed_wing", "fixed-wing drone"], ["uav_rotary", "rotary-wing drone"], ["helicopter", "helicopter"], ["fixed_wing", "aeroplane"]] },
    purpose: { type: "text", label: "Purpose (of the flight or movement)" },
    restriction: { type: "text", label: "Kind of restriction", list: "restrictions",
      suggestions: [["denial", "denial"], ["delay", "delay"], ["conditional_access", "conditional access"], ["uav_jamming", "drone jamming"]] },
    delay_min: { type: "number", label: "Delay (minutes)", max: MAX_DELAY_MIN },
    killed: { type: "int", label: "Killed", max: MAX_COUNT },
    injured: { type: "int", label: "Injured", max: MAX_COUNT },
    corroborated: { type: "bool", label: "Corroborated by a follow-up (hospital, interviews)" },
  };
  // the API's field → the form's control that shows its error
  const ERROR_TARGET = {
    bearing_deg: "direction", bearing_spread_deg: "direction", semi_major_m: "radius_m", semi_minor_m: "radius_m",
    azimuth_deg: "radius_m", supersedes: "correction", received_time: "time", id: "form", origin: "form",
  };
  // the record's fields this form edits; a correction carries every other field over
  const LOCATION_KEYS = ["lon", "lat", "radius_m", "semi_major_m", "semi_minor_m", "azimuth_deg", "observer_lon",
    "observer_lat", "bearing_deg", "direction", "bearing_spread_deg", "distance_min_m", "distance_max_m"];
  const MANAGED = new Set(["id", "kind", "time", "time_precision", "source_kind", "source_id", "party", "description",
    "supersedes", "correction", ...LOCATION_KEYS, ...ALL_KIND_FIELDS]);

  const st = {
    me: null,
    base: null,          // the version being corrected: {id, record, state}
    dirty: new Set(),    // controls the user changed since the form was filled
    picking: null,       // "point" | "observer" while the next map click sets a place
    layer: null,         // the form's preview on the map
    mine: [],
    mineNext: null,
  };

  // -- building the form -----------------------------------------------------------------------
  function field(name, label, control, { hint } = {}) {
    control.id = control.id || `rf-${name}`;
    control.name = name;
    control.dataset.testid = `rf-${name}`;
    control.setAttribute("aria-describedby", `rf-error-${name}`);
    return el("div", { class: "rf-field", dataset: { field: name } },
      el("label", { for: control.id, text: label }), control,
      hint ? el("p", { class: "muted small rf-hint", text: hint }) : null,
      el("p", { class: "field-error", id: `rf-error-${name}`, "data-testid": `rf-error-${name}`, role: "alert" }));
  }
  function input(type, props = {}) { return el("input", { type, autocomplete: "off", ...props }); }
  function select(options, props = {}) {
    const s = el("select", props);
    for (const [v, t] of options) s.append(el("option", { value: v, text: t }));
    return s;
  }

  function kindControl(name) {
    const def = FIELD_DEFS[name];
    let c;
    if (def.type === "select") c = select([["", "not assessed"], ...def.options]);
    else if (def.type === "bool") c = select([["", "not said"], ["true", "yes"], ["false", "no"]]);
    else if (def.type === "int") c = input("number", { min: 0, max: def.max, step: 1, inputmode: "numeric" });
    else if (def.type === "number") c = input("number", { min: 0, max: def.max, step: "any", inputmode: "decimal" });
    else c = input("text", { maxlength: MAX_TEXT, list: def.list ? `rf-list-${def.list}` : null });
    return field(name, def.label, c);
  }

  function build() {
    const pane = $("report-pane");
    const kinds = select(KINDS.map((k) => [k, W.capital(W.kind(k))]));
    const precision = select(Object.entries(W.PRECISIONS).map(([k, v]) => [k, W.capital(v)]));
    const sources = select(SOURCES.map((k) => [k, W.capital(W.source(k))]));
    const parties = select([["", "not attributed"]]);
    parties.id = "rf-party";
    const lists = el("div", { hidden: true },
      el("datalist", { id: "rf-list-weapons" }),
      ...["aircraft", "restrictions"].map((l) => {
        const dl = el("datalist", { id: `rf-list-${l}` });
        const def = Object.values(FIELD_DEFS).find((d) => d.list === l);
        for (const [v, t] of def.suggestions) dl.append(el("option", { value: v, label: t }));
        return dl;
      }));
    const form = el("form", { id: "rf-form", class: "rf-form", novalidate: true, "data-testid": "report-form", autocomplete: "off" },
      el("div", { class: "rf-mode", id: "rf-mode", "data-testid": "rf-mode" }),
      el("div", { class: "rf-row rf-when" },
        field("kind", "What happened", kinds),
        field("time", "When (UTC)", input("datetime-local")),
        field("time_precision", "How precise is the time", precision)),
      el("fieldset", { class: "group rf-location", "data-testid": "rf-location" },
        el("legend", { text: "Where" }),
        el("div", { class: "rf-choice", role: "radiogroup", "aria-label": "How the place is given" },
          el("label", { class: "check" }, el("input", { type: "radio", name: "loc-mode", value: "point", checked: true, "data-testid": "rf-loc-point" }),
            " A point (click the map or type the coordinates)"),
          el("label", { class: "check" }, el("input", { type: "radio", name: "loc-mode", value: "observer", "data-testid": "rf-loc-observer" }),
            " From where I stood: direction and distance")),
        el("div", { id: "rf-point", class: "rf-row" },
          field("lat", "Latitude (°N)", input("number", { step: "any", min: -90, max: 90, inputmode: "decimal" })),
          field("lon", "Longitude (°E)", input("number", { step: "any", min: -180, max: 180, inputmode: "decimal" })),
          field("radius_m", "Accuracy (± metres)", input("number", { step: "any", min: 0, max: MAX_DISTANCE_M, inputmode: "decimal" })),
          el("button", { type: "button", class: "secondary rf-pick", "data-pick": "point", "data-testid": "rf-pick-point", text: "Pick the place on the map" })),
        el("div", { id: "rf-observer", class: "rf-row", hidden: true },
          field("observer_lat", "My latitude (°N)", input("number", { step: "any", min: -90, max: 90, inputmode: "decimal" })),
          field("observer_lon", "My longitude (°E)", input("number", { step: "any", min: -180, max: 180, inputmode: "decimal" })),
          el("button", { type: "button", class: "secondary rf-pick", "data-pick": "observer", "data-testid": "rf-pick-observer", text: "Pick my position on the map" }),
          field("direction", "Direction", input("text", { maxlength: 200, placeholder: "SW or 225" }),
            { hint: "A compass point (SW, south-west, NNE; a list such as “south-west and west”) or degrees from north (0–359)." }),
          field("distance_min_m", "Distance from (km)", input("number", { step: "any", min: 0, max: MAX_DISTANCE_M / 1000, inputmode: "decimal" })),
          field("distance_max_m", "to (km)", input("number", { step: "any", min: 0, max: MAX_DISTANCE_M / 1000, inputmode: "decimal" })),
          el("p", { class: "muted small rf-summary", id: "rf-observer-summary", "data-testid": "rf-observer-summary" }))),
      el("fieldset", { class: "group", id: "rf-kind-fields", "data-testid": "rf-kind-fields" },
        el("legend", { id: "rf-kind-legend", text: "Details" }),
        ...ALL_KIND_FIELDS.map(kindControl)),
      el("div", { class: "rf-row" },
        field("source_kind", "Source", sources),
        field("source_id", "Source id (patrol, post, camera…)", input("text", { maxlength: MAX_TEXT, placeholder: "e.g. PATROL-12" })),
        field("party", "Party attributed (if known)", parties)),
      field("description", "Description", el("textarea", { rows: 4, maxlength: MAX_DESCRIPTION })),
      el("div", { id: "rf-correction-box", hidden: true },
        field("correction", "What changed and why (required for a correction)", el("textarea", { rows: 3, maxlength: MAX_TEXT }))),
      el("p", { class: "error", id: "rf-error-form", role: "alert", "data-testid": "rf-error-form" }),
      el("div", { class: "button-row" },
        el("button", { type: "submit", class: "primary", id: "rf-submit", "data-testid": "rf-submit", text: "Submit the report" }),
        el("button", { type: "button", class: "secondary", id: "rf-reset", "data-testid": "rf-reset", text: "Clear the form" })),
      el("p", { class: "rf-result", id: "rf-result", role: "status", "data-testid": "rf-result" }),
      lists);
    const mine = el("section", { class: "group", id: "my-reports", "data-testid": "my-reports" },
      el("h2", { class: "group-title" }, "My reports", el("span", { class: "count", id: "my-count", text: "0" })),
      el("div", { class: "button-row" },
        select([["", "all of them"], ["returned", "returned to me with a question"], ["submitted", "waiting for review"],
          ["in_review", "in review"], ["approved", "approved"], ["rejected", "rejected"]], { id: "my-state", "data-testid": "my-state", "aria-label": "Show" }),
        el("button", { type: "button", class: "secondary", id: "my-refresh", "data-testid": "my-refresh", text: "Refresh" })),
      el("p", { class: "muted small", id: "my-note", role: "status" }),
      el("ul", { class: "my-list", id: "my-list", "data-testid": "my-list" }),
      el("button", { type: "button", class: "secondary wide", id: "my-more", text: "Show more", hidden: true }),
      el("div", { id: "my-open", class: "my-open", "data-testid": "my-open", hidden: true }));
    pane.append(el("h2", { class: "pane-title", text: "Report what you saw" }), form, mine);

    form.addEventListener("submit", onSubmit);
    form.addEventListener("input", onInput);
    form.addEventListener("change", onInput);
    kinds.addEventListener("change", showKindFields);
    for (const r of form.querySelectorAll("input[name=loc-mode]")) r.addEventListener("change", showLocationMode);
    for (const b of form.querySelectorAll(".rf-pick")) b.addEventListener("click", () => startPicking(b.dataset.pick));
    $("rf-reset").addEventListener("click", () => reset());
    $("my-refresh").addEventListener("click", () => loadMine());
    $("my-state").addEventListener("change", () => loadMine());
    $("my-more").addEventListener("click", () => loadMine({ more: true }));
  }

  function ctl(name) { return $(`rf-${name}`); }
  function locMode() { return document.querySelector("#rf-form input[name=loc-mode]:checked").value; }
  function setLocMode(mode) {
    for (const r of document.querySelectorAll("#rf-form input[name=loc-mode]")) r.checked = r.value === mode;
    showLocationMode();
  }

  function showKindFields() {
    const k = ctl("kind").value;
    const mine = KIND_FIELDS[k] || [];
    for (const f of ALL_KIND_FIELDS) {
      const box = document.querySelector(`#rf-kind-fields [data-field="${f}"]`);
      box.hidden = !mine.includes(f);
    }
    $("rf-kind-fields").hidden = !mine.length;
    $("rf-kind-legend").textContent = `Details of the ${W.kind(k)}`;
  }

  function showLocationMode() {
    const observer = locMode() === "observer";
    $("rf-point").hidden = observer;
    $("rf-observer").hidden = !observer;
    drawPreview();
  }

  function fillOptions() {
    const ag = C().agreement();
    const weapons = $("rf-list-weapons");
    C().clear(weapons);
    for (const w of (ag && ag.weapon_classes) || []) weapons.append(el("option", { value: w.id, label: w.name || w.id }));
    const parties = ctl("party");
    while (parties.options.length > 1) parties.remove(1);
    for (const id of C().partyIds()) parties.append(el("option", { value: id, text: C().partyLabel(id) }));
  }

  // -- the map: picking a place, and the preview -------------------------------------------------
  function startPicking(what) {
    const map = C().map();
    if (!map) return;
    st.picking = what;
    map.getContainer().classList.add("lw-picking");
    formMessage(what === "observer" ? "Click the map where you stood." : "Click the map where it happened.", "info");
    if (C().isNarrow()) C().setPanel(false);
  }
  function stopPicking() {
    st.picking = null;
    const map = C().map();
    if (map) map.getContainer().classList.remove("lw-picking");
  }
  function onMapClick(ev) {
    if (!st.picking) return;
    const what = st.picking;
    stopPicking();
    const lat = Math.round(ev.latlng.lat * 1e5) / 1e5, lon = Math.round(L.Util.wrapNum(ev.latlng.lng, [-180, 180], true) * 1e5) / 1e5;
    const [la, lo] = what === "observer" ? ["observer_lat", "observer_lon"] : ["lat", "lon"];
    ctl(la).value = String(lat);
    ctl(lo).value = String(lon);
    st.dirty.add(la); st.dirty.add(lo);
    clearError(la); clearError(lo);
    formMessage(`${what === "observer" ? "Your position" : "The place"}: ${W.place(lon, lat)}.`, "info");
    if (C().isNarrow()) C().setPanel(true);
    C().showTab("report");
    drawPreview();
  }

  function num(name) {
    const v = ctl(name).value.trim();
    if (v === "") return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : NaN;
  }

  // The direction box: degrees, or compass words → {bearing, spread} (null: not given; NaN: bad).
  function direction() {
    const t = ctl("direction").value.trim();
    if (!t) return null;
    const deg = t.replace(/°$/, "").trim();
    if (/^[+-]?\d+(\.\d+)?$/.test(deg)) return { bearing: Number(deg), spread: null, degrees: true };
    const p = W.parseDirection(t);
    return p ? { bearing: p[0], spread: p[1], degrees: false } : NaN;
  }

  function destination(lon, lat, bearingDeg, m) {
    const R = 6371008.8, d = m / R, b = (bearingDeg * Math.PI) / 180;
    const p1 = (lat * Math.PI) / 180, l1 = (lon * Math.PI) / 180;
    const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
    const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return [(p2 * 180) / Math.PI, (l2 * 180) / Math.PI];
  }

  // The band of an observer's report: [lat, lon] points of the sector between two distances.
  function sector(lon, lat, bearing, spread, minM, maxM) {
    const pts = [];
    const steps = Math.max(1, Math.ceil(spread / 5));
    for (let i = 0; i <= steps; i++) pts.push(destination(lon, lat, bearing - spread / 2 + (spread * i) / steps, maxM));
    for (let i = steps; i >= 0; i--) pts.push(destination(lon, lat, bearing - spread / 2 + (spread * i) / steps, minM));
    return pts;
  }

  function drawPreview() {
    const map = C().map();
    if (!map) return;
    if (!st.layer) st.layer = L.layerGroup().addTo(map);
    st.layer.clearLayers();
    const summary = $("rf-observer-summary");
    if (summary) summary.textContent = "";
    const style = { color: "#b3261e", weight: 2, interactive: false };
    if (locMode() === "point") {
      const lat = num("lat"), lon = num("lon");
      if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
      L.circleMarker([lat, lon], { ...style, radius: 7, fillColor: "#ffffff", fillOpacity: 1 }).addTo(st.layer);
      const r = num("radius_m");
      if (Number.isFinite(r) && r > 0) L.circle([lat, lon], { ...style, weight: 1, radius: r, fill: false, dashArray: "4 4" }).addTo(st.layer);
      return;
    }
    const lat = num("observer_lat"), lon = num("observer_lon");
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
    L.circleMarker([lat, lon], { ...style, radius: 6, fillColor: "#b3261e", fillOpacity: 1 }).addTo(st.layer);
    const dir = direction(), dmin = num("distance_min_m"), dmax = num("distance_max_m");
    if (!dir || Number.isNaN(dir) || !Number.isFinite(dmin) || !Number.isFinite(dmax) || dmin > dmax || dmax <= 0) return;
    const spread = dir.spread ?? 0;
    L.polygon(sector(lon, lat, dir.bearing, spread, dmin * 1000, dmax * 1000),
      { ...style, weight: 1.5, fillColor: "#b3261e", fillOpacity: 0.12 }).addTo(st.layer);
    if (summary) {
      summary.textContent = `${W.number(dmin)}–${W.number(dmax)} km ${dir.degrees ? `at ${W.bearing(dir.bearing)}` : W.compass(dir.bearing)}` +
        `${spread ? ` (a sector ${Math.round(spread)}° wide)` : ""} of ${W.place(lon, lat)}.`;
    }
  }

  // -- checking, as the API does ----------------------------------------------------------------
  function setError(name, text) {
    const target = ERROR_TARGET[name] || (ctl(name) ? name : "form");
    const p = $(`rf-error-${target}`);
    if (!p) return;
    p.textContent = p.textContent ? `${p.textContent} ${text}` : text;
    const c = ctl(target);
    if (c) c.setAttribute("aria-invalid", "true");
  }
  function clearError(name) {
    const p = $(`rf-error-${name}`);
    if (p) p.textContent = "";
    const c = ctl(name);
    if (c) c.removeAttribute("aria-invalid");
  }
  function clearErrors() {
    for (const p of document.querySelectorAll("#rf-form .field-error, #rf-error-form")) p.textContent = "";
    for (const c of document.querySelectorAll("#rf-form [aria-invalid]")) c.removeAttribute("aria-invalid");
  }
  function formMessage(text, kind = "info") {
    const r = $("rf-result");
    r.textContent = text || "";
    r.dataset.kind = kind;
  }

  // The record the form describes, and the problems with it ({field: reason}).
  function collect() {
    const errors = {};
    const rec = {};
    const need = (name, what) => { errors[name] = `${what} is needed.`; };
    const kind = ctl("kind").value;
    rec.kind = kind;
    const t = ctl("time").value.trim();
    if (!t) need("time", "The time");
    else {
      const iso = `${t.length === 16 ? `${t}:00` : t}Z`;
      const ms = Date.parse(iso);
      if (Number.isNaN(ms)) errors.time = "This is not a date and time.";
      else if (ms < EARLIEST || ms >= LATEST) errors.time = "The time must lie between 1950 and 2100.";
      else rec.time = iso;
    }
    rec.time_precision = ctl("time_precision").value;
    const range = (name, lo, hi, what, { required = true, scale = 1, upperOpen = false } = {}) => {
      const v = num(name);
      if (v === null) { if (required) need(name, what); return undefined; }
      if (Number.isNaN(v)) { errors[name] = `${what} must be a number.`; return undefined; }
      if (v < lo || (upperOpen ? v >= hi : v > hi)) {
        errors[name] = `${what} must be between ${W.number(lo)} and ${W.number(hi)}${upperOpen ? " (not included)" : ""}.`;
        return undefined;
      }
      return v * scale;
    };
    if (locMode() === "point") {
      rec.lat = range("lat", -90, 90, "The latitude");
      rec.lon = range("lon", -180, 180, "The longitude");
      rec.radius_m = range("radius_m", 0, MAX_DISTANCE_M, "The accuracy", { required: false });
    } else {
      rec.observer_lat = range("observer_lat", -90, 90, "Your latitude");
      rec.observer_lon = range("observer_lon", -180, 180, "Your longitude");
      const dir = direction();
      if (dir === null) need("direction", "The direction");
      else if (Number.isNaN(dir)) errors.direction = "Give a compass point (like SW or north-north-east) or degrees from 0 to 359.";
      else if (dir.degrees) {
        if (dir.bearing < 0 || dir.bearing >= 360) errors.direction = "Degrees run from 0 to 359.";
        else rec.bearing_deg = dir.bearing;
      } else rec.direction = ctl("direction").value.trim();
      const dmin = range("distance_min_m", 0, MAX_DISTANCE_M / 1000, "The shortest distance", { scale: 1000 });
      const dmax = range("distance_max_m", 0, MAX_DISTANCE_M / 1000, "The longest distance", { scale: 1000 });
      if (dmin !== undefined && dmax !== undefined && dmin > dmax) errors.distance_min_m = "The shortest distance is larger than the longest.";
      rec.distance_min_m = dmin === undefined ? undefined : Math.round(dmin * 1000) / 1000;
      rec.distance_max_m = dmax === undefined ? undefined : Math.round(dmax * 1000) / 1000;
    }
    for (const f of KIND_FIELDS[kind] || []) {
      const def = FIELD_DEFS[f];
      const raw = ctl(f).value.trim();
      if (raw === "") continue;
      if (def.type === "bool") rec[f] = raw === "true";
      else if (def.type === "select") rec[f] = raw;
      else if (def.type === "int") {
        const v = Number(raw);
        if (!Number.isInteger(v)) errors[f] = `${def.label} must be a whole number.`;
        else if (v < 0 || v > def.max) errors[f] = `${def.label} must be between 0 and ${W.number(def.max)}.`;
        else rec[f] = v;
      } else if (def.type === "number") {
        rec[f] = range(f, 0, def.max, def.label, { required: false });
      } else {
        rec[f] = raw;
      }
    }
    rec.source_kind = ctl("source_kind").value;
    const sid = ctl("source_id").value.trim();
    if (!sid) need("source_id", "The source id (which patrol, post or camera)");
    else rec.source_id = sid;
    if (ctl("party").value) rec.party = ctl("party").value;
    const desc = ctl("description").value;
    if (desc.length > MAX_DESCRIPTION) errors.description = `At most ${W.number(MAX_DESCRIPTION)} characters.`;
    else if (desc.trim()) rec.description = desc.trim();
    if (st.base) {
      const why = ctl("correction").value.trim();
      if (!why) need("correction", "What changed and why");
      else rec.correction = why;
      rec.supersedes = st.base.id;
      // what the form does not edit is carried over from the version it corrects
      const locChanged = LOCATION_KEYS.some((k) => st.dirty.has(k)) || st.dirty.has("loc-mode");
      for (const [k, v] of Object.entries(st.base.record || {})) {
        if (MANAGED.has(k)) {
          if (!locChanged && ["bearing_spread_deg", "semi_major_m", "semi_minor_m", "azimuth_deg"].includes(k)) {
            rec[k] = v;
            if (k !== "bearing_spread_deg") delete rec.radius_m;
          }
          continue;
        }
        if (["file", "line"].includes(k)) continue;
        rec[k] = v;
      }
    }
    for (const k of Object.keys(rec)) if (rec[k] === undefined) delete rec[k];
    return { rec, errors };
  }

  function onInput(ev) {
    const t = ev.target;
    if (!t || !t.name) return;
    st.dirty.add(t.name);
    clearError(t.name);
    if (["lat", "lon", "radius_m", "observer_lat", "observer_lon", "direction", "distance_min_m", "distance_max_m", "loc-mode"].includes(t.name)) drawPreview();
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    clearErrors();
    formMessage("");
    const { rec, errors } = collect();
    const bad = Object.entries(errors);
    if (bad.length) {
      for (const [k, v] of bad) setError(k, v);
      $("rf-error-form").textContent = bad.length === 1 ? "One field needs attention (marked above)." : `${bad.length} fields need attention (marked above).`;
      const first = document.querySelector("#rf-form [aria-invalid=true]");
      if (first) first.focus();
      return;
    }
    const button = $("rf-submit");
    button.disabled = true;
    formMessage("Sending…");
    try {
      const res = await C().api("reports", { method: "POST", body: [rec] });
      const rejected = (res && res.rejected) || [];
      if (rejected.length) {
        for (const r of rejected) setError(r.field || "form", W.capital(W.sentence(r.reason || "not accepted")));
        $("rf-error-form").textContent = "The report was not stored: the server did not accept it (see the marked fields).";
        formMessage("");
        return;
      }
      const id = res && res.ids && res.ids[0];
      if (res && res.duplicate) {
        formMessage(`This report was already stored${id ? ` as ${id}` : ""}: nothing new was stored.`, "info");
      } else {
        formMessage(st.base ? `The corrected version is stored as ${id}. It waits for review.`
          : `The report is stored as ${id}. It waits for review.`, "ok");
      }
      $("rf-result").dataset.id = id || "";
      reset({ keepMessage: true });
      loadMine();
      C().reload();
    } catch (exc) {
      if (exc.status === 403) $("rf-error-form").textContent = "Your role may not submit reports.";
      else if (exc.status === 422) $("rf-error-form").textContent = `The server did not accept the report: ${W.sentence(exc.message)}`;
      else $("rf-error-form").textContent = `The report could not be sent: ${W.sentence(exc.message)}`;
      formMessage("");
    } finally {
      button.disabled = false;
    }
  }

  // -- filling the form ------------------------------------------------------------------------
  function reset({ keepMessage = false } = {}) {
    const form = $("rf-form");
    const keep = { kind: ctl("kind").value, source_kind: ctl("source_kind").value, source_id: ctl("source_id").value };
    form.reset();
    if (!st.base) Object.entries(keep).forEach(([k, v]) => { ctl(k).value = v; });
    st.base = null;
    st.dirty.clear();
    stopPicking();
    clearErrors();
    if (!keepMessage) formMessage("");
    const now = new Date();
    ctl("time").value = now.toISOString().slice(0, 16);
    $("rf-correction-box").hidden = true;
    $("rf-mode").textContent = "New report";
    $("rf-mode").dataset.mode = "new";
    $("rf-submit").textContent = "Submit the report";
    $("rf-reset").textContent = "Clear the form";
    setLocMode("point");
    showKindFields();
  }

  // Fill the form with a version to correct.
  function correct(id, record, stateName) {
    reset();
    st.base = { id, record: record || {}, state: stateName };
    const r = st.base.record;
    ctl("kind").value = r.kind || "explosion";
    showKindFields();
    if (r.time) ctl("time").value = String(r.time).replace(/Z$|[+-]\d\d:\d\d$/, "").replace(/\.\d+$/, "").slice(0, 19);
    ctl("time_precision").value = r.time_precision || "exact";
    const put = (name, v) => { if (v !== undefined && v !== null) ctl(name).value = String(v); };
    if (r.observer_lon !== undefined && r.observer_lon !== null) {
      setLocMode("observer");
      put("observer_lat", r.observer_lat);
      put("observer_lon", r.observer_lon);
      if (r.direction) put("direction", r.direction);
      else put("direction", r.bearing_deg);
      put("distance_min_m", r.distance_min_m !== undefined ? r.distance_min_m / 1000 : undefined);
      put("distance_max_m", r.distance_max_m !== undefined ? r.distance_max_m / 1000 : undefined);
    } else {
      setLocMode("point");
      put("lat", r.lat);
      put("lon", r.lon);
      put("radius_m", r.radius_m ?? r.semi_major_m);
    }
    for (const f of ALL_KIND_FIELDS) {
      if (r[f] === undefined || r[f] === null) continue;
      put(f, typeof r[f] === "boolean" ? String(r[f]) : r[f]);
    }
    put("source_kind", r.source_kind);
    if (r.source_kind && ![...ctl("source_kind").options].some((o) => o.value === r.source_kind)) {
      ctl("source_kind").append(el("option", { value: r.source_kind, text: W.capital(W.source(r.source_kind)) }));
      ctl("source_kind").value = r.source_kind;
    }
    put("source_id", r.source_id);
    if (r.party) {
      if (![...ctl("party").options].some((o) => o.value === r.party)) ctl("party").append(el("option", { value: r.party, text: C().partyLabel(r.party) }));
      ctl("party").value = r.party;
    }
    put("description", r.description);
    $("rf-correction-box").hidden = false;
    $("rf-mode").textContent = `Correcting report ${id}${stateName ? ` (${W.state(stateName)})` : ""}: a new version will replace it.`;
    $("rf-mode").dataset.mode = "correction";
    $("rf-mode").dataset.supersedes = id;
    $("rf-submit").textContent = "Submit the corrected version";
    $("rf-reset").textContent = "Cancel the correction";
    st.dirty.clear();
    drawPreview();
    C().showTab("report");
    if (C().isNarrow()) C().setPanel(true);
    ctl("correction").focus();
  }

  // -- my reports ------------------------------------------------------------------------------
  async function loadMine({ more = false } = {}) {
    const me = C().me();
    if (!me) return;
    const list = $("my-list");
    const note = $("my-note");
    try {
      let page;
      if (more && st.mineNext) page = await C().api(st.mineNext);
      else {
        const params = { limit: 50, state: $("my-state").value };
        if (C().can("all")) params.author = me.name;
        page = await C().api(`review?${C().query(params)}`);
      }
      const items = (page && page.items) || [];
      st.mine = more ? st.mine.concat(items) : items;
      st.mineNext = page && page.next && page.next.startsWith("/") ? page.next : null;
      note.textContent = "";
    } catch (exc) {
      st.mine = [];
      st.mineNext = null;
      note.textContent = exc.status === 404 ? "The list of your reports is not available on this server yet."
        : `Could not list your reports: ${W.sentence(exc.message)}`;
    }
    C().clear(list);
    const rows = st.mine.slice().sort((a, b) => String(b.updated_at || b.time).localeCompare(String(a.updated_at || a.time)));
    $("my-count").textContent = W.number(rows.length);
    if (!rows.length && !note.textContent) note.textContent = $("my-state").value ? "None of your reports is in this state." : "You have not submitted a report yet.";
    for (const it of rows) list.append(mineItem(it));
    $("my-more").hidden = !st.mineNext;
    // the question of each returned report, from its history
    for (const it of rows.filter((x) => x.state === "returned").slice(0, 20)) {
      questionOf(it.id).then((q) => {
        const box = list.querySelector(`[data-id="${CSS.escape(it.id)}"] .my-question`);
        if (box && q) box.textContent = `Question from ${q.by} (${W.time(q.at)}): ${q.note}`;
      });
    }
  }

  async function questionOf(id) {
    try {
      const v = await C().api(`reports/${encodeURIComponent(id)}/versions`);
      const cur = (v.versions || []).find((x) => x.id === id) || (v.versions || []).slice(-1)[0];
      const ev = (cur && cur.events || []).filter((e) => e.to === "returned").slice(-1)[0];
      return ev || null;
    } catch (_) { return null; }
  }

  function mineItem(it) {
    const rec = it.record || {};
    const b = el("button", { type: "button", class: "report-item my-item", "data-testid": "my-report",
      dataset: { id: it.id, state: it.state } },
    C().swatch(C().shapeOf(it.kind), "#8a919c"),
    el("span", { class: "ri-kind", text: W.capital(W.kind(it.kind)) }),
    el("span", { class: "ri-time", text: W.time(it.time) }),
    el("span", { class: "ri-meta" }, el("span", { class: `badge state-${it.state}`, "data-testid": "my-state-badge", text: W.state(it.state) }),
      ` ${W.source(rec.source_kind)}${rec.source_id ? ` ${rec.source_id}` : ""}`),
    it.state === "returned" ? el("span", { class: "ri-meta my-question", "data-testid": "my-question", text: "Returned with a question…" }) : null,
    el("span", { class: "ri-id", text: it.id }));
    b.addEventListener("click", () => openMine(it));
    return el("li", { dataset: { id: it.id } }, b);
  }

  async function openMine(it) {
    const box = $("my-open");
    box.hidden = false;
    C().clear(box);
    box.dataset.id = it.id;
    box.append(el("h3", { text: `${W.capital(W.kind(it.kind))}, ${W.timeUTC(it.time)}` }),
      el("p", { class: "small" }, el("span", { class: `badge state-${it.state}`, text: W.state(it.state) }), ` ${it.id}`));
    const canCorrect = !["approved", "rejected"].includes(it.state);
    box.append(el("div", { class: "button-row" },
      canCorrect ? el("button", { type: "button", class: "primary", "data-testid": "my-correct", text: "Correct this report",
        onclick: () => correct(it.id, it.record, it.state) }) : null,
      el("button", { type: "button", class: "secondary", text: "Show on the map", onclick: () => C().selectReport(it.id) }),
      el("button", { type: "button", class: "secondary", text: "Close", onclick: () => { box.hidden = true; } })));
    if (!canCorrect) box.append(el("p", { class: "muted small", text: `This report is ${W.state(it.state)}: it is final, an analyst corrects it if needed.` }));
    const thread = el("div", { "data-testid": "my-thread" }, el("p", { class: "muted small", text: "Loading its history…" }));
    box.append(thread);
    box.scrollIntoView({ block: "nearest" });
    try {
      const v = await C().api(`reports/${encodeURIComponent(it.id)}/versions`);
      C().clear(thread);
      if (window.lwReview) thread.append(window.lwReview.threadEl(v.versions || [], { commentOn: it.id, onDone: () => openMine(it) }));
    } catch (exc) {
      C().clear(thread);
      thread.append(el("p", { class: "error", text: `Could not load the history: ${W.sentence(exc.message)}` }));
    }
  }

  const module = {
    tab: "report",
    wide: true,
    start(me) {
      st.me = me;
      const may = C().can("submit_records");
      $("tab-report").hidden = !may;
      if (!may) return;
      if (!$("rf-form")) {
        build();
        C().map().on("click", onMapClick);
      }
      fillOptions();
      reset();
      loadMine();
    },
    show() { if ($("rf-form")) { drawPreview(); } },
  };
  C().register(module);
  window.lwReportForm = { correct, reset, loadMine, collect, sector };
})();
