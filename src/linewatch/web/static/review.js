/* linewatch dashboard: the review queue (the "Review" tab), for analysts and admins.
 *
 * Filters (state, kind, source, sector, time, free text), a list with paging and checkboxes,
 * a bulk bar; the selected record with a small map, what was reported, its evidence chain, its
 * versions (the difference between any two, field by field) and the thread of moves and
 * comments; approve, take in review, return with a question, reject with a reason (a dialog
 * that requires the text). Refusals (four eyes, a move not allowed) are shown in sentences.
 *
 * Uses window.lwCore (app.js), window.lwLabels, window.lwDetail; registers itself with lwCore.
 */
"use strict";

(function () {
  const W = window.lwLabels;
  const C = () => window.lwCore;
  const el = (...a) => window.lwCore.el(...a);
  const $ = (id) => document.getElementById(id);
  const PAGE = 50;
  const FINAL = ["approved", "rejected"];
  const MOVES = {
    submitted: ["in_review", "approved", "returned", "rejected"],
    in_review: ["submitted", "approved", "returned", "rejected"],
    detected: ["in_review", "approved", "rejected"],
    received: ["in_review", "approved", "rejected"],
    returned: ["rejected"],
    approved: [], rejected: [],
  };
  const WAITING = ["submitted", "in_review", "detected", "received"];

  const st = {
    items: [],
    next: null,
    checked: new Set(),
    current: null,        // {id, versions, detail}
    seq: 0,
    map: null,
    mapLayer: null,
    timer: null,
  };

  // -- the refusals of the API, in sentences ---------------------------------------------------
  function refusal(text, status) {
    const t = String(text || "");
    if (/four eyes/i.test(t)) {
      if (/releases? it/i.test(t)) return "You approved every report this daily report counts, so another analyst must release it (four eyes).";
      return "You cannot approve this report: you wrote or last changed a version of it, so another analyst must approve it (four eyes).";
    }
    if (/corrected by/i.test(t)) return "This version has been corrected meanwhile: review the current version instead.";
    if (/cannot be moved to/i.test(t)) {
      const m = t.match(/a version (\w+) cannot be moved to (\w+)/);
      return m ? `A report that is ${W.state(m[1])} cannot be ${moveWord(m[2])}.` : W.sentence(t);
    }
    if (/needs a note/i.test(t)) return "Say why: a return needs the question to the author, a rejection its reason.";
    if (status === 403) return "Your role may not review reports.";
    if (status === 404) return "This report does not exist (any more).";
    return W.capital(W.sentence(t)) || "The server refused it.";
  }
  function moveWord(to) {
    return { approved: "approved", returned: "returned to its author", rejected: "rejected", in_review: "taken in review",
      submitted: "put back in the queue" }[to] || W.state(to);
  }

  // -- the dialog that asks for the question or the reason --------------------------------------
  function ask({ title, label, confirm }) {
    const dlg = $("rv-dialog");
    $("rv-dialog-title").textContent = title;
    $("rv-dialog-label").textContent = label;
    $("rv-dialog-confirm").textContent = confirm;
    $("rv-dialog-text").value = "";
    $("rv-dialog-error").textContent = "";
    return new Promise((resolve) => {
      const done = (v) => {
        $("rv-dialog-form").onsubmit = null;
        $("rv-dialog-cancel").onclick = null;
        dlg.onclose = null;
        if (dlg.open) dlg.close();
        resolve(v);
      };
      $("rv-dialog-form").onsubmit = (ev) => {
        ev.preventDefault();
        const text = $("rv-dialog-text").value.trim();
        if (!text) { $("rv-dialog-error").textContent = "Write it first: the text is required."; $("rv-dialog-text").focus(); return; }
        done(text);
      };
      $("rv-dialog-cancel").onclick = () => done(null);
      dlg.onclose = () => done(null);
      dlg.showModal();
      $("rv-dialog-text").focus();
    });
  }

  async function askAndMove(to) {
    if (to === "returned") {
      return ask({ title: "Return to the author with a question", label: "Your question to the author (required)", confirm: "Return it" });
    }
    if (to === "rejected") {
      return ask({ title: "Reject the report", label: "The reason for the rejection (required)", confirm: "Reject it" });
    }
    return "";
  }

  // -- building the pane -----------------------------------------------------------------------
  function sel(id, options, label) {
    const s = el("select", { id, "data-testid": id, "aria-label": label });
    for (const [v, t] of options) s.append(el("option", { value: v, text: t }));
    return s;
  }
  function labelled(text, control) {
    return el("div", { class: "rv-filter" }, el("label", { for: control.id, text }), control);
  }

  function build() {
    const pane = $("review-pane");
    const ag = C().agreement();
    const filters = el("fieldset", { class: "group rv-filters", id: "rv-filters", "data-testid": "rv-filters" },
      el("legend", { text: "Which reports" }),
      el("div", { class: "rv-grid" },
        labelled("State", sel("rv-state", [["waiting", "waiting"], ...Object.keys(W.STATES).map((s) => [s, W.capital(W.state(s))]), ["", "any state"]], "State")),
        labelled("Kind", sel("rv-kind", [["", "all kinds"], ...Object.keys(W.KINDS).map((k) => [k, W.capital(W.kind(k))])], "Kind")),
        labelled("Source", sel("rv-source", [["", "all sources"], ...Object.keys(W.SOURCES).map((k) => [k, W.capital(W.source(k))])], "Source")),
        labelled("Sector", sel("rv-sector", [["", "all sectors"], ...((ag && ag.sectors) || []).map((s) => [s.id, s.name || s.id])], "Sector")),
        labelled("From (UTC)", el("input", { type: "date", id: "rv-start", "data-testid": "rv-start" })),
        labelled("To (UTC, included)", el("input", { type: "date", id: "rv-end", "data-testid": "rv-end" })),
        labelled("Text", el("input", { type: "text", id: "rv-q", "data-testid": "rv-q", maxlength: 200, placeholder: "words in the report, its id or source" })),
        labelled("Author", el("input", { type: "text", id: "rv-author", "data-testid": "rv-author", maxlength: 100, placeholder: "user name" })),
        labelled("Fused incidents heard by at least", el("input", { type: "number", id: "rv-min-sensors", "data-testid": "rv-min-sensors",
          min: 0, max: 100000, step: 1, inputmode: "numeric", placeholder: "sensors" }))),
      el("div", { class: "button-row" },
        el("button", { type: "button", class: "secondary", id: "rv-approve-all", "data-testid": "rv-approve-all",
          text: "Approve every report these filters select…", onclick: () => approveByFilter() })));
    const bulk = el("div", { class: "rv-bulk", id: "rv-bulk", "data-testid": "rv-bulk", hidden: true, role: "region", "aria-label": "Selected reports" },
      el("span", { id: "rv-bulk-count", "data-testid": "rv-bulk-count" }),
      el("button", { type: "button", class: "primary", "data-testid": "rv-bulk-approve", text: "Approve", onclick: () => bulkMove("approved") }),
      el("button", { type: "button", class: "secondary", "data-testid": "rv-bulk-return", text: "Return…", onclick: () => bulkMove("returned") }),
      el("button", { type: "button", class: "secondary", "data-testid": "rv-bulk-reject", text: "Reject…", onclick: () => bulkMove("rejected") }),
      el("button", { type: "button", class: "secondary", "data-testid": "rv-bulk-clear", text: "Clear the selection", onclick: () => { st.checked.clear(); renderList(); } }));
    const queue = el("section", { id: "rv-queue", "data-testid": "rv-queue" },
      filters,
      el("div", { class: "group-title rv-head" },
        el("label", { class: "check rv-all" }, el("input", { type: "checkbox", id: "rv-check-all", "data-testid": "rv-check-all", "aria-label": "Select every report listed" }), " All listed"),
        el("span", {}, "Reports ", el("span", { class: "count", id: "rv-count", "data-testid": "rv-count", text: "0" }))),
      bulk,
      el("p", { class: "rv-message", id: "rv-bulk-result", role: "status", "data-testid": "rv-bulk-result" }),
      el("p", { class: "muted small", id: "rv-note", role: "status", "data-testid": "rv-note" }),
      el("ul", { class: "report-list rv-list", id: "rv-list", "data-testid": "rv-list" }),
      el("button", { type: "button", class: "secondary wide", id: "rv-more", "data-testid": "rv-more", hidden: true, text: "Show more" }));
    const record = el("section", { id: "rv-record", class: "rv-record", "data-testid": "rv-record", hidden: true });
    pane.append(el("h2", { class: "pane-title", text: "Review" }), queue, record);

    const dlg = el("dialog", { id: "rv-dialog", class: "rv-dialog", "data-testid": "rv-dialog" },
      el("form", { id: "rv-dialog-form", method: "dialog", novalidate: true },
        el("h2", { id: "rv-dialog-title" }),
        el("label", { for: "rv-dialog-text", id: "rv-dialog-label" }),
        el("textarea", { id: "rv-dialog-text", "data-testid": "rv-dialog-text", rows: 4, maxlength: 10000, required: true }),
        el("p", { class: "error", id: "rv-dialog-error", role: "alert", "data-testid": "rv-dialog-error" }),
        el("div", { class: "button-row" },
          el("button", { type: "submit", class: "primary", id: "rv-dialog-confirm", "data-testid": "rv-dialog-confirm" }),
          el("button", { type: "button", class: "secondary", id: "rv-dialog-cancel", "data-testid": "rv-dialog-cancel", text: "Cancel" }))));
    document.body.append(dlg);

    for (const id of ["rv-state", "rv-kind", "rv-source", "rv-sector", "rv-start", "rv-end"]) $(id).addEventListener("change", () => load());
    for (const id of ["rv-q", "rv-author", "rv-min-sensors"]) {
      $(id).addEventListener("input", () => { clearTimeout(st.timer); st.timer = setTimeout(() => load(), 400); });
    }
    $("rv-more").addEventListener("click", () => load({ more: true }));
    $("rv-check-all").addEventListener("change", (ev) => {
      for (const it of st.items) if (ev.target.checked) st.checked.add(it.id); else st.checked.delete(it.id);
      renderList();
    });
  }

  function minSensors() {
    const v = $("rv-min-sensors").value.trim();
    return /^\d+$/.test(v) ? Number(v) : undefined;
  }

  // The filters as a bulk move's "filter" (the same as the queue's query).
  function filterBody() {
    const f = {};
    const s = $("rv-state").value;
    if (s) f.state = s === "waiting" ? WAITING : [s];
    for (const [k, id] of [["kind", "rv-kind"], ["source_kind", "rv-source"], ["sector", "rv-sector"]]) if ($(id).value) f[k] = [$(id).value];
    if ($("rv-q").value.trim()) f.q = $("rv-q").value.trim();
    if ($("rv-author").value.trim()) f.author = $("rv-author").value.trim();
    if (minSensors() !== undefined) f.min_sensors = minSensors();
    const q = new URLSearchParams(params());
    if (q.get("start")) f.start = q.get("start");
    if (q.get("end")) f.end = q.get("end");
    return f;
  }

  async function approveByFilter() {
    const out = $("rv-bulk-result");
    const n = st.items.length;
    if (!n) { out.textContent = "No report matches these filters: nothing to approve."; out.dataset.kind = "error"; return; }
    if (!window.confirm(`Approve every report these filters select (${W.number(n)}${st.next ? " or more" : ""} listed)? ` +
      "Those you may not approve are left as they are, with the reason.")) return;
    out.textContent = "Working…";
    try {
      const res = await C().api("review/bulk", { method: "POST", body: { kind: "record", to: "approved", filter: filterBody() } });
      const moved = res.moved || [], refused = res.refused || [];
      out.textContent = `${W.number(moved.length)} ${moved.length === 1 ? "report" : "reports"} approved.` +
        (refused.length ? ` ${W.number(refused.length)} refused: ${refused.slice(0, 10).map((r) => `${r.id}: ${refusal(r.reason, 409)}`).join(" ")}` : "");
      out.dataset.kind = refused.length ? "error" : "ok";
    } catch (exc) {
      out.textContent = refusal(exc.message, exc.status);
      out.dataset.kind = "error";
    }
    await load();
  }

  function params() {
    const p = { limit: PAGE, kind: $("rv-kind").value, source_kind: $("rv-source").value, sector: $("rv-sector").value,
      q: $("rv-q").value.trim(), author: $("rv-author").value.trim(), min_sensors: minSensors() };
    if ($("rv-start").value) p.start = `${$("rv-start").value}T00:00:00Z`;
    if ($("rv-end").value) p.end = new Date(Date.parse(`${$("rv-end").value}T00:00:00Z`) + 86400000).toISOString().replace(".000Z", "Z");
    const q = new URLSearchParams(C().query(p));
    const s = $("rv-state").value;
    for (const v of s === "waiting" ? WAITING : s ? [s] : []) q.append("state", v);
    return q.toString();
  }

  // -- the queue -------------------------------------------------------------------------------
  async function load({ more = false } = {}) {
    const seq = ++st.seq;
    const note = $("rv-note");
    $("rv-queue").dataset.loading = "true";
    if (!more) note.textContent = "Loading…";
    try {
      const page = await C().api(more && st.next ? st.next : `review?${params()}`);
      if (seq !== st.seq) return;
      const items = (page && page.items) || [];
      st.items = more ? st.items.concat(items) : items;
      st.next = page && typeof page.next === "string" && page.next.startsWith("/") ? page.next : null;
      if (!more) st.checked = new Set([...st.checked].filter((id) => st.items.some((it) => it.id === id)));
      note.textContent = st.items.length ? "" : "No report matches these filters.";
    } catch (exc) {
      if (seq !== st.seq) return;
      st.items = [];
      st.next = null;
      note.textContent = exc.status === 404 ? "This server has no review queue yet."
        : exc.status === 403 ? "Your role may not review reports." : `Could not load the queue: ${refusal(exc.message, exc.status)}`;
    }
    renderList();
    $("rv-queue").dataset.loading = "false";
  }

  function renderList() {
    const list = $("rv-list");
    C().clear(list);
    for (const it of st.items) list.append(itemEl(it));
    $("rv-count").textContent = `${W.number(st.items.length)}${st.next ? "+" : ""}`;
    $("rv-count").dataset.count = String(st.items.length);
    $("rv-more").hidden = !st.next;
    const n = st.checked.size;
    $("rv-bulk").hidden = n === 0;
    $("rv-bulk-count").textContent = n === 1 ? "1 report selected" : `${W.number(n)} reports selected`;
    $("rv-check-all").checked = n > 0 && st.items.every((it) => st.checked.has(it.id));
  }

  function itemEl(it) {
    const rec = it.record || {};
    const box = el("input", { type: "checkbox", class: "rv-check", "data-testid": "rv-check", dataset: { id: it.id },
      "aria-label": `Select ${W.kind(it.kind)} ${it.id}` });
    box.checked = st.checked.has(it.id);
    box.addEventListener("change", () => { if (box.checked) st.checked.add(it.id); else st.checked.delete(it.id); renderList(); });
    const b = el("button", { type: "button", class: "report-item rv-item", "data-testid": "rv-item", dataset: { id: it.id, state: it.state } },
      C().swatch(C().shapeOf(it.kind), "#8a919c"),
      el("span", { class: "ri-kind", text: W.capital(W.kind(it.kind)) }),
      el("span", { class: "ri-time", text: W.time(it.time) }),
      el("span", { class: "ri-meta" }, el("span", { class: `badge state-${it.state}`, text: W.state(it.state) }),
        ` ${W.source(it.source_kind)}${rec.source_id ? ` ${rec.source_id}` : ""}${it.author ? ` · by ${it.author}` : ""}`),
      el("span", { class: "ri-id", text: it.id }));
    if (st.current && st.current.id === it.id) b.classList.add("selected");
    b.addEventListener("click", () => open(it.id));
    return el("li", { class: "rv-row", dataset: { id: it.id } }, box, b);
  }

  async function bulkMove(to) {
    const ids = [...st.checked];
    if (!ids.length) return;
    const note = await askAndMove(to);
    if (note === null) return;
    const out = $("rv-bulk-result");
    out.textContent = "Working…";
    try {
      const res = await C().api("review/bulk", { method: "POST", body: { kind: "record", to, note: note || undefined, ids } });
      const moved = res.moved || [], refused = res.refused || [];
      const parts = [`${W.number(moved.length)} ${moved.length === 1 ? "report" : "reports"} ${moveWord(to)}.`];
      if (refused.length) {
        parts.push(`${W.number(refused.length)} refused: ` + refused.slice(0, 10).map((r) => `${r.id}: ${refusal(r.reason, 409)}`).join(" "));
      }
      out.textContent = parts.join(" ");
      out.dataset.kind = refused.length ? "error" : "ok";
      for (const id of moved) st.checked.delete(id);
    } catch (exc) {
      out.textContent = refusal(exc.message, exc.status);
      out.dataset.kind = "error";
    }
    await load();
  }

  // -- one record ------------------------------------------------------------------------------
  async function open(id) {
    C().showTab("review");
    if (C().isNarrow()) C().setPanel(true);
    const box = $("rv-record");
    $("rv-queue").hidden = true;
    box.hidden = false;
    box.dataset.id = id;
    box.dataset.loading = "true";
    C().clear(box);
    box.append(el("button", { type: "button", class: "secondary", "data-testid": "rv-back", text: "← Back to the queue", onclick: back }),
      el("h2", { "data-testid": "rv-record-id", text: id }), el("p", { class: "muted", text: "Loading…" }));
    const [v, d] = await Promise.all([
      C().api(`reports/${encodeURIComponent(id)}/versions`).then((x) => ({ ok: true, x }), (e) => ({ ok: false, e })),
      C().api(`reports/${encodeURIComponent(id)}`).then((x) => ({ ok: true, x }), (e) => ({ ok: false, e }))]);
    if (box.dataset.id !== id) return;
    st.current = { id, versions: v.ok ? v.x : null, detail: d.ok ? d.x : null };
    renderRecord(box, id, v, d);
    box.dataset.loading = "false";
  }

  function back() {
    $("rv-record").hidden = true;
    $("rv-queue").hidden = false;
    st.current = null;
    load();
  }

  function message(text, kind = "error") {
    const m = $("rv-message");
    if (!m) return;
    m.textContent = text || "";
    m.dataset.kind = kind;
  }

  function renderRecord(box, id, v, d) {
    C().clear(box);
    const versions = v.ok ? (v.x.versions || []) : [];
    const cur = versions.find((x) => x.id === id) || versions[versions.length - 1] || null;
    const isCurrent = !v.ok || (v.x.current === id);
    const detail = d.ok ? d.x : {};
    const rec = (cur && cur.record) || detail.record || {};
    const state = cur ? cur.state : (detail.review && detail.review.state) || null;
    box.dataset.state = state || "";
    box.append(el("button", { type: "button", class: "secondary", "data-testid": "rv-back", text: "← Back to the queue", onclick: back }),
      el("h2", { "data-testid": "rv-record-id", text: id }),
      el("p", { class: "rv-sub" }, el("span", { class: `badge state-${state}`, "data-testid": "rv-state-badge", text: W.state(state) }),
        ` ${window.lwDetail.title(rec)} · ${W.timeUTC(rec.time)}` +
        `${cur && cur.author ? ` · written by ${cur.author}` : ""}${cur && cur.version ? ` · version ${cur.version} of ${versions.length}` : ""}`));
    if (!isCurrent) {
      box.append(el("p", { class: "error", text: `This version was corrected: the current one is ${v.x.current}.` },
        " ", el("a", { href: "#", text: "Open the current version", onclick: (ev) => { ev.preventDefault(); open(v.x.current); } })));
    }
    // the actions the state allows
    const allowed = isCurrent && state ? (MOVES[state] || []) : [];
    const act = (to, text, cls, testid) => allowed.includes(to)
      ? el("button", { type: "button", class: cls, "data-testid": testid, text, onclick: () => moveOne(id, to) }) : null;
    box.append(el("div", { class: "button-row rv-actions", "data-testid": "rv-actions" },
      act("approved", "Approve", "primary", "rv-approve"),
      act("in_review", "Take in review", "secondary", "rv-take"),
      act("returned", "Return with a question…", "secondary", "rv-return"),
      act("rejected", "Reject with a reason…", "secondary", "rv-reject"),
      isCurrent && window.lwReportForm && C().can("submit_records")
        ? el("button", { type: "button", class: "secondary", "data-testid": "rv-correct", text: "Correct…",
          onclick: () => window.lwReportForm.correct(id, rec, state) }) : null,
      el("button", { type: "button", class: "secondary", text: "Show on the main map", onclick: () => C().selectReport(id) })));
    if (isCurrent && state && FINAL.includes(state)) {
      box.append(el("p", { class: "muted small", text: `${W.capital(W.state(state))}: final. A change now is a new version (Correct…).` }));
    }
    box.append(el("p", { class: "rv-message", id: "rv-message", role: "alert", "data-testid": "rv-message" }));
    if (!v.ok) message(`Could not load the versions: ${refusal(v.e.message, v.e.status)}`);

    // small map
    if (!st.mapBox) st.mapBox = el("div", { class: "rv-map", id: "rv-map", "data-testid": "rv-map" });
    box.append(st.mapBox);
    drawSmallMap(st.mapBox, rec, detail);

    box.append(el("h3", { text: "What was reported" }), window.lwDetail.kv(rec, { testid: "rv-properties", skip: ["id"] }));

    // versions and the difference between two
    box.append(el("h3", { text: `Versions (${versions.length})` }));
    box.append(versionsEl(versions, id));

    box.append(el("h3", { text: "Questions, answers and moves" }));
    box.append(threadEl(versions, { commentOn: isCurrent ? id : null, onDone: () => open(id) }));

    // the evidence chain, as the Detail tab shows it
    box.append(el("h3", { text: "Evidence chain" }));
    const ev = el("div", { "data-testid": "rv-evidence" });
    if (!d.ok) ev.append(el("p", { class: "error", text: `Could not load the evidence: ${refusal(d.e.message, d.e.status)}` }));
    else {
      const findings = Array.isArray(detail.findings) ? detail.findings : [];
      ev.append(el("p", { class: "small", text: findings.length ? `Findings (${findings.length}):` : "No finding yet (not verified, or no rule applies)." }));
      for (const f of findings) ev.append(window.lwDetail.findingEl(f));
      if (detail.placement) ev.append(window.lwDetail.placementEl(detail.placement));
      ev.append(window.lwDetail.originClaims(detail, rec, findings));
      for (const a of detail.allegations || []) ev.append(window.lwDetail.allegationEl(a, id));
      if (detail.audit && detail.audit.index !== undefined) {
        ev.append(el("p", { class: "small", text: `Audit log entry #${detail.audit.index}.` }));
      }
    }
    box.append(ev);
  }

  function drawSmallMap(box, rec, detail) {
    // one small map, made once: its container moves from one record's view to the next
    if (!st.map) {
      st.map = L.map(box, { zoomControl: true, attributionControl: false, preferCanvas: true, scrollWheelZoom: false,
        center: [48.5, 36.5], zoom: 6 });
      const base = C().basemap(), ag = C().agreementGeo();
      if (base) L.geoJSON(base, { interactive: false, style: () => ({ color: "#b4b9c1", weight: 0.8, fillColor: "#eceae4", fillOpacity: 1 }) }).addTo(st.map);
      if (ag) {
        L.geoJSON(ag, { interactive: false, filter: (f) => ["line", "reference_line"].includes((f.properties || {}).layer),
          style: (f) => ({ color: f.properties.layer === "line" ? "#1b1f27" : C().partyColour(f.properties.party),
            weight: f.properties.layer === "line" ? 2.4 : 1.2, dashArray: f.properties.layer === "line" ? null : "6 4" }) }).addTo(st.map);
      }
      L.control.scale({ imperial: false, maxWidth: 100 }).addTo(st.map);
      st.mapLayer = L.layerGroup().addTo(st.map);
    }
    st.map.invalidateSize();
    const map = st.mapLayer;
    map.clearLayers();
    const feature = detail && detail.feature;
    let lat = null, lon = null;
    if (feature && feature.geometry && feature.geometry.type === "Point") [lon, lat] = feature.geometry.coordinates;
    else if (rec.lat !== undefined) { lat = rec.lat; lon = rec.lon; }
    const item = st.items.find((x) => x.id === (st.current && st.current.id));
    if (lat === null && item && Array.isArray(item.located)) [lon, lat] = item.located;
    const pts = [];
    if (lat !== null && lat !== undefined) {
      L.circleMarker([lat, lon], { radius: 7, color: "#11151c", weight: 2, fillColor: "#d98a1f", fillOpacity: 1 }).addTo(map);
      pts.push([lat, lon]);
      const r = Number(rec.radius_m ?? rec.semi_major_m);
      if (r > 0) L.circle([lat, lon], { radius: r, color: "#11151c", weight: 1, fill: false, dashArray: "3 3" }).addTo(map);
    }
    if (rec.observer_lat !== undefined && rec.observer_lat !== null) {
      L.circleMarker([rec.observer_lat, rec.observer_lon], { radius: 5, color: "#b3261e", fillColor: "#b3261e", fillOpacity: 1 }).addTo(map);
      if (pts.length) L.polyline([[rec.observer_lat, rec.observer_lon], pts[0]], { color: "#b3261e", weight: 1.5, dashArray: "5 4" }).addTo(map);
      if (rec.bearing_deg !== undefined && rec.distance_max_m !== undefined && window.lwReportForm) {
        L.polygon(window.lwReportForm.sector(rec.observer_lon, rec.observer_lat, Number(rec.bearing_deg),
          Number(rec.bearing_spread_deg || 0), Number(rec.distance_min_m || 0), Number(rec.distance_max_m)),
        { color: "#b3261e", weight: 1, fillColor: "#b3261e", fillOpacity: 0.1, interactive: false }).addTo(map);
      }
      pts.push([rec.observer_lat, rec.observer_lon]);
    }
    const fit = () => {
      st.map.invalidateSize();
      if (pts.length) st.map.fitBounds(L.latLngBounds(pts).pad(0.6), { maxZoom: 11 });
      else st.map.setView([48.5, 36.5], 6);
    };
    fit();
    setTimeout(fit, 0);
  }

  async function moveOne(id, to) {
    const note = await askAndMove(to);
    if (note === null) return;
    message("Working…", "info");
    try {
      await C().api(`review/record/${encodeURIComponent(id)}`, { method: "POST", body: { to, note: note || undefined } });
      await open(id);
      message(`The report is ${moveWord(to)}.`, "ok");
    } catch (exc) {
      message(refusal(exc.message, exc.status), "error");
    }
  }

  // -- versions and their differences ----------------------------------------------------------
  function fmtVal(k, v) {
    if (v === undefined || v === null || v === "") return "(not given)";
    return window.lwDetail.fmt(k, v);
  }

  function diff(a, b) {
    const out = [];
    const keys = [...new Set([...Object.keys(a || {}), ...Object.keys(b || {})])];
    for (const k of keys) {
      if (["id", "supersedes", "correction"].includes(k)) continue;
      const x = a ? a[k] : undefined, y = b ? b[k] : undefined;
      if (JSON.stringify(x ?? null) !== JSON.stringify(y ?? null)) out.push({ field: k, old: x, new: y });
    }
    return out;
  }

  function diffTable(changes) {
    if (!changes.length) return el("p", { class: "muted small", "data-testid": "rv-diff", text: "The two versions say the same." });
    const t = el("table", { class: "rv-diff", "data-testid": "rv-diff" },
      el("thead", {}, el("tr", {}, el("th", { text: "Field" }), el("th", { text: "Before" }), el("th", { text: "After" }))));
    const body = el("tbody");
    for (const c of changes) {
      body.append(el("tr", { "data-testid": "rv-diff-row", dataset: { field: c.field } },
        el("th", { scope: "row", text: W.capital(W.field(c.field)) }),
        el("td", { class: "diff-old", text: fmtVal(c.field, c.old) }),
        el("td", { class: "diff-new", text: fmtVal(c.field, c.new) })));
    }
    t.append(body);
    return t;
  }

  function versionsEl(versions, id) {
    const box = el("div", { "data-testid": "rv-versions" });
    const ol = el("ol", { class: "rv-version-list" });
    versions.forEach((v, i) => {
      ol.append(el("li", { "data-testid": "rv-version", dataset: { id: v.id, current: String(!!v.current) } },
        el("strong", { text: `Version ${v.version ?? i + 1}` }), ` (${v.id}) `,
        el("span", { class: `badge state-${v.state}`, text: W.state(v.state) }),
        `${v.author ? ` by ${v.author}` : ""}${v.stored_at ? `, ${W.timeUTC(v.stored_at)}` : ""}`,
        v.current ? el("span", { class: "badge", text: "current" }) : null,
        v.correction ? el("div", { class: "small", text: `What changed and why: ${v.correction}` }) : null));
    });
    box.append(ol);
    if (versions.length >= 2) {
      const opts = versions.map((v, i) => [String(i), `version ${v.version ?? i + 1}`]);
      const a = sel("rv-diff-a", opts, "Compare version"), b = sel("rv-diff-b", opts, "with version");
      a.value = String(versions.length - 2);
      b.value = String(versions.length - 1);
      const holder = el("div");
      const show = () => {
        C().clear(holder);
        holder.append(diffTable(diff(versions[Number(a.value)].record, versions[Number(b.value)].record)));
      };
      a.addEventListener("change", show);
      b.addEventListener("change", show);
      box.append(el("div", { class: "button-row rv-compare" }, el("span", { text: "Compare" }), a, el("span", { text: "with" }), b), holder);
      show();
    }
    return box;
  }

  // The moves and comments of every version, oldest first; a comment box when commentOn is set.
  function threadEl(versions, { commentOn = null, onDone = null } = {}) {
    const box = el("div", { class: "rv-thread", "data-testid": "rv-thread" });
    const items = [];
    versions.forEach((v, i) => {
      const n = v.version ?? i + 1;
      items.push({ at: v.stored_at, kind: "version", by: v.author,
        text: i === 0 ? `submitted version ${n}` : `submitted version ${n}${v.correction ? `: “${v.correction}”` : ""}` });
      for (const e of v.events || []) {
        if (i === 0 && e.from == null && ["submitted", "detected", "received"].includes(e.to)) continue;
        items.push({ at: e.at, kind: `move-${e.to}`, by: e.by, to: e.to,
          text: `${e.to === "returned" ? "returned it with a question" : e.to === "rejected" ? "rejected it" : `moved version ${n} to “${W.state(e.to)}”`}` +
            `${e.note ? `: “${e.note}”` : ""}` });
      }
      for (const c of v.comments || []) items.push({ at: c.at, kind: "comment", by: c.by, text: `wrote: “${c.text}”` });
    });
    items.sort((a, b) => String(a.at || "").localeCompare(String(b.at || "")));
    const ul = el("ul", { class: "rv-thread-list" });
    for (const it of items) {
      ul.append(el("li", { class: `rv-thread-item ${it.kind}`, "data-testid": "rv-thread-item", dataset: { kind: it.kind } },
        el("span", { class: "rv-when muted small", text: W.timeUTC(it.at) }), " ",
        el("strong", { text: it.by || "someone" }), ` ${it.text}`));
    }
    if (!items.length) ul.append(el("li", { class: "muted small", text: "Nothing yet." }));
    box.append(ul);
    if (commentOn) {
      const ta = el("textarea", { rows: 2, maxlength: 10000, "data-testid": "rv-comment-text", "aria-label": "Your comment or answer" });
      const err = el("p", { class: "error", role: "alert", "data-testid": "rv-comment-error" });
      const send = el("button", { type: "button", class: "secondary", "data-testid": "rv-comment-send", text: "Add the comment" });
      send.addEventListener("click", async () => {
        const text = ta.value.trim();
        if (!text) { err.textContent = "Write the comment first."; return; }
        send.disabled = true;
        try {
          await C().api(`review/record/${encodeURIComponent(commentOn)}/comments`, { method: "POST", body: { text } });
          if (onDone) onDone();
        } catch (exc) {
          err.textContent = `The comment was not added: ${refusal(exc.message, exc.status)}`;
        } finally { send.disabled = false; }
      });
      box.append(el("div", { class: "rv-comment" }, ta, send, err));
    }
    return box;
  }

  const module = {
    tab: "review",
    wide: true,
    start() {
      const may = C().isAnalyst();
      $("tab-review").hidden = !may;
      if (!may) return;
      if (!$("rv-queue")) build();
      st.loaded = false;
    },
    show() {
      if (!st.loaded && $("rv-queue")) { st.loaded = true; load(); }
      if (st.map) setTimeout(() => st.map.invalidateSize(), 0);
    },
  };
  C().register(module);
  window.lwReview = { open, load, threadEl, diff, refusal };
})();
