/* linewatch dashboard: the words people read. Internal names (record kinds, source kinds,
 * review states, record fields) become plain words here, and numbers are rounded for people:
 * probabilities as "87 %", distances as "1.2 km", times without seconds.
 *
 * Loaded before app.js; everything is on window.lwLabels. No DOM, no network.
 */
"use strict";

(function () {
  const KINDS = {
    explosion: "explosion",
    projectile_in_flight: "projectile in flight",
    muzzle_flash: "muzzle flash",
    illumination_flare: "illumination flare",
    bursts_and_shots: "bursts and shots",
    weapon_sighting: "weapon sighting",
    infrastructure_strike: "strike on infrastructure",
    aircraft_sighting: "aircraft sighting",
    fom_restriction: "freedom-of-movement restriction",
    mine_uxo: "mine or unexploded ordnance",
    civilian_casualty: "civilian casualty",
  };
  const SOURCES = {
    observation_post: "observation post",
    patrol: "patrol",
    fixed_camera: "fixed camera",
    uav: "drone (UAV)",
    acoustic_sensor: "acoustic sensor",
    satellite_imagery: "satellite imagery",
    open_source: "open source",
    party_allegation: "a party's allegation",
    sensor_fusion: "sensor fusion",
  };
  const STATES = {
    submitted: "submitted",
    detected: "detected (sensor)",
    received: "received (allegation)",
    in_review: "in review",
    returned: "returned with a question",
    approved: "approved",
    rejected: "rejected",
  };
  const VERDICTS = {
    violation: "violation",
    no_violation: "no violation",
    compliant: "compliant",
    undetermined: "undetermined",
    inconclusive: "inconclusive",
    corroborated: "corroborated",
    not_corroborated: "not corroborated",
    contradicted: "contradicted",
    unverifiable: "cannot be verified",
  };
  const PRECISIONS = {
    exact: "exact time", hour: "within the hour", day: "within the day",
    week: "within the week", month: "within the month",
  };
  const EXPLOSION_TYPES = { impact: "impact", airburst: "airburst", outgoing: "outgoing", undetermined: "undetermined" };
  const RULE_KINDS = {
    no_fire: "no fire", weapon_exclusion: "weapons excluded", no_fire_across_line: "no fire across the line",
    protected_site: "protected site", freedom_of_movement: "freedom of movement",
  };
  // Record fields, as a monitor would name them.
  const FIELDS = {
    id: "report id", kind: "what happened", time: "time (UTC)", time_precision: "time precision",
    lat: "latitude", lon: "longitude", radius_m: "accuracy radius",
    semi_major_m: "error ellipse, long axis", semi_minor_m: "error ellipse, short axis",
    azimuth_deg: "error ellipse, direction",
    observer_lat: "observer's latitude", observer_lon: "observer's longitude",
    bearing_deg: "bearing", direction: "direction", bearing_spread_deg: "width of the bearing sector",
    distance_min_m: "shortest distance", distance_max_m: "longest distance",
    source_kind: "source", source_id: "source id", received_time: "received (UTC)",
    explosion_type: "type of explosion", weapon_class: "weapon", count: "how many",
    in_storage: "in a storage site", category: "category", aircraft_type: "aircraft type",
    party: "party attributed", origin: "firing point", killed: "killed", injured: "injured",
    corroborated: "corroborated by a follow-up", restriction: "kind of restriction",
    delay_min: "delay", live_fire_exercise: "declared live-fire exercise", purpose: "purpose",
    description: "description", geo_precision: "location precision (ACLED)", engine: "produced by",
    extra: "other attributes", supersedes: "corrects version", correction: "what changed and why",
  };
  const COMPASS16 = ["north", "north-north-east", "north-east", "east-north-east", "east",
    "east-south-east", "south-east", "south-south-east", "south", "south-south-west", "south-west",
    "west-south-west", "west", "west-north-west", "north-west", "north-north-west"];
  const POINTS = ["n", "nne", "ne", "ene", "e", "ese", "se", "sse", "s", "ssw", "sw", "wsw", "w", "wnw", "nw", "nnw"];

  // Any internal name: the tables above, else underscores become spaces.
  function plain(s) {
    if (s === null || s === undefined || s === "") return "—";
    const k = String(s);
    return KINDS[k] || SOURCES[k] || STATES[k] || VERDICTS[k] || PRECISIONS[k] || RULE_KINDS[k] || k.replace(/_/g, " ");
  }
  function kind(k) { return KINDS[k] || plain(k); }
  function source(k) { return SOURCES[k] || plain(k); }
  function state(k) { return STATES[k] || plain(k); }
  function verdict(k) { return VERDICTS[k] || plain(k); }
  function field(k) { return FIELDS[k] || plain(k); }
  function capital(s) { s = String(s); return s.charAt(0).toUpperCase() + s.slice(1); }

  // Internal field names inside a sentence from the API ("distance_min_m 7000 is larger than
  // distance_max_m 3000") become the words of the form ("shortest distance 7000 is ...").
  function sentence(text) {
    let out = String(text ?? "");
    out = out.replace(/\s*\(docs\/[^)]*\)/g, "");
    out = out.replace(/\b[a-z]+(?:_[a-z]+)+\b|\b(?:lon|lat)\b/g,
      (w) => (FIELDS[w] ? `“${FIELDS[w]}”` : KINDS[w] || SOURCES[w] || STATES[w] || w.replace(/_/g, " ")));
    return out;
  }

  function pad2(n) { return String(n).padStart(2, "0"); }
  function toMs(t) {
    if (t === null || t === undefined || t === "") return null;
    if (typeof t === "number") return t;
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? null : ms;
  }
  // "2026-06-15 14:05" (UTC, no seconds).
  function time(t) {
    const ms = toMs(t);
    if (ms === null) return "—";
    const d = new Date(ms);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  }
  function timeUTC(t) { const s = time(t); return s === "—" ? s : `${s} UTC`; }
  // A probability for people: "87 %", "< 1 %", "> 99 %".
  function prob(p) {
    if (p === null || p === undefined || p === "" || Number.isNaN(Number(p))) return "—";
    const v = Number(p) * 100;
    if (v > 0 && v < 0.5) return "< 1 %";
    if (v < 100 && v >= 99.5) return "> 99 %";
    return `${Math.round(v)} %`;
  }
  // A distance in metres for people: "40 m", "250 m", "1.2 km", "12 km".
  function distance(m) {
    if (m === null || m === undefined || m === "" || Number.isNaN(Number(m))) return "—";
    const v = Math.abs(Number(m));
    if (v < 100) return `${Math.round(v)} m`;
    if (v < 1000) return `${Math.round(v / 10) * 10} m`;
    if (v < 10000) return `${(v / 1000).toFixed(1)} km`;
    return `${Math.round(v / 1000).toLocaleString("en-GB")} km`;
  }
  function duration(seconds) {
    const s = Math.abs(Number(seconds));
    if (!Number.isFinite(s)) return "—";
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }
  function minutes(m) {
    const v = Number(m);
    if (!Number.isFinite(v)) return "—";
    return v < 90 ? `${Math.round(v)} min` : `${(v / 60).toFixed(1)} h`;
  }
  function compass(deg) {
    const d = ((Number(deg) % 360) + 360) % 360;
    return COMPASS16[Math.round(d / 22.5) % 16];
  }
  function bearing(deg) {
    if (deg === null || deg === undefined || Number.isNaN(Number(deg))) return "—";
    return `${Math.round(Number(deg))}° (${compass(deg)})`;
  }
  function coord(v, axis) {
    const n = Number(v);
    if (!Number.isFinite(n)) return "—";
    const hemi = axis === "lat" ? (n < 0 ? "S" : "N") : (n < 0 ? "W" : "E");
    return `${Math.abs(n).toFixed(5)}° ${hemi}`;
  }
  function place(lon, lat) { return `${coord(lat, "lat")}, ${coord(lon, "lon")}`; }
  function number(n) { return Number(n).toLocaleString("en-GB"); }

  // One compass word or abbreviation: [bearing, spread] (as linewatch.formats.records does).
  function compassPoint(word) {
    let key = word.toLowerCase().replace(/[\s_-]/g, "");
    for (const [long, short] of [["north", "n"], ["south", "s"], ["east", "e"], ["west", "w"]]) key = key.split(long).join(short);
    const i = POINTS.indexOf(key);
    if (i < 0) return null;
    return [i * 22.5, key.length <= 2 ? 45 : 22.5];
  }
  // "SW", "south-west", "south-west, west and north-west": [bearing, spread], or null when a
  // word is not a compass point. The smallest sector covering every word.
  function parseDirection(text) {
    const words = String(text).trim().split(/\s*(?:,|;|\/|\band\b|\bto\b)\s*/i).filter(Boolean);
    if (!words.length) return null;
    const arcs = [];
    for (const w of words) {
      const p = compassPoint(w);
      if (!p) return null;
      arcs.push([p[0] - p[1] / 2, p[0] + p[1] / 2]);
    }
    let bestStart = 0, bestLen = 360;
    for (const [start] of arcs) {
      let len = 0;
      for (const [lo, hi] of arcs) {
        const toLo = (((lo - start) % 360) + 360) % 360;
        const toHi = ((((hi - start) % 360) + 360) % 360) || 360;
        len = Math.max(len, toLo <= toHi ? toHi : 360);
      }
      if (len < bestLen) { bestStart = start; bestLen = len; }
    }
    return [(((bestStart + bestLen / 2) % 360) + 360) % 360, bestLen];
  }

  // A record's value for people, by its field.
  function value(key, v, { partyLabel } = {}) {
    if (v === null || v === undefined || v === "") return "—";
    switch (key) {
      case "kind": return kind(v);
      case "source_kind": return source(v);
      case "time_precision": return PRECISIONS[v] || plain(v);
      case "explosion_type": return EXPLOSION_TYPES[v] || plain(v);
      case "time": case "received_time": return timeUTC(v);
      case "lon": return coord(v, "lon");
      case "lat": return coord(v, "lat");
      case "observer_lon": return coord(v, "lon");
      case "observer_lat": return coord(v, "lat");
      case "radius_m": case "semi_major_m": case "semi_minor_m": case "distance_min_m": case "distance_max_m":
        return distance(v);
      case "bearing_deg": case "azimuth_deg": return bearing(v);
      case "bearing_spread_deg": return `${Math.round(Number(v))}°`;
      case "delay_min": return minutes(v);
      case "party": return partyLabel ? partyLabel(v) : String(v);
      case "origin":
        if (typeof v === "object") {
          const r = v.radius_m ?? v.semi_major_m;
          return `${place(v.lon, v.lat)}${r ? ` (± ${distance(r)})` : ""}`;
        }
        return String(v);
      default: break;
    }
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "number") return Number.isInteger(v) ? number(v) : String(Math.round(v * 100) / 100);
    if (Array.isArray(v)) return v.map((x) => value("", x)).join(", ");
    if (typeof v === "object") {
      return Object.entries(v).map(([k, x]) => `${plain(k)}: ${value(k, x)}`).join("\n");
    }
    return String(v);
  }

  window.lwLabels = {
    KINDS, SOURCES, STATES, FIELDS, PRECISIONS, EXPLOSION_TYPES,
    plain, kind, source, state, verdict, field, capital, sentence,
    time, timeUTC, toMs, prob, distance, duration, minutes, compass, bearing, coord, place, number,
    parseDirection, value,
  };
})();
