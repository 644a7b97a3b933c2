/* linewatch dashboard: a report's detail (the Detail tab) and the pieces of it the review pane
 * shows too. Plain words and rounded numbers only (labels.js), never raw JSON; every claim names
 * what produced it: the side of the line names the verification run that placed the report,
 * a party held responsible names the finding's rule, a matched allegation the allegation check.
 *
 * Uses window.lwCore (app.js) at call time; everything is on window.lwDetail.
 */
"use strict";

(function () {
  const W = window.lwLabels;
  const C = () => window.lwCore;
  const TIME_KEYS = /(^|_)(time|start|end|at)$/;

  function el(...a) { return C().el(...a); }

  function partyLabel(id) { return C().partyLabel(id); }

  function fmt(key, v) {
    if (TIME_KEYS.test(key) && typeof v === "string") return W.timeUTC(v);
    if (["party", "side", "alleging_party", "accused_party"].includes(key)) return partyLabel(v);
    return W.value(key, v, { partyLabel });
  }

  // A list of "label: value" rows, in plain words.
  function kv(obj, { testid, skip = [] } = {}) {
    const dl = el("dl", { class: "kv", "data-testid": testid });
    const order = Object.keys(W.FIELDS);
    const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
    const entries = Object.entries(obj || {}).sort((a, b) => rank(a[0]) - rank(b[0]));
    for (const [k, v] of entries) {
      if (k === "ellipse" || skip.includes(k) || v === null || v === undefined || v === "") continue;
      dl.append(el("dt", { text: W.capital(W.field(k)) }), el("dd", { text: fmt(k, v) }));
    }
    return dl;
  }

  // Ids, linked when the report is on the map.
  function idList(ids, testid) {
    const ul = el("ul", { class: "chain", "data-testid": testid });
    const list = Array.isArray(ids) ? ids : [];
    const max = 25;
    const features = C().features();
    for (const raw of list.slice(0, max)) {
      const id = String(raw && typeof raw === "object" ? (raw.id ?? raw.record_id ?? "?") : raw);
      if (features.has(id) && id !== C().selectedId()) {
        ul.append(el("li", {}, el("a", { href: "#", dataset: { id }, text: id,
          onclick: (ev) => { ev.preventDefault(); C().selectReport(id); } })));
      } else {
        ul.append(el("li", { text: id }));
      }
    }
    if (list.length > max) ul.append(el("li", { class: "muted", text: `… and ${list.length - max} more` }));
    return ul;
  }

  function agreementName(list, id) {
    const ag = C().agreement();
    const item = ag && Array.isArray(ag[list]) ? ag[list].find((x) => x.id === id) : null;
    return item && item.name ? item.name : W.plain(id);
  }

  // "P=0.873" in an engine's explanation becomes "probability 87 %".
  function explain(text) {
    return W.sentence(String(text).replace(/\bP\s*=\s*([01](?:\.\d+)?)/g, (_, p) => `probability ${W.prob(p)}`));
  }

  function title(rec) {
    const k = W.capital(W.kind(rec.kind));
    return rec.explosion_type && rec.kind === "explosion" ? `${k} (${W.EXPLOSION_TYPES[rec.explosion_type] || W.plain(rec.explosion_type)})` : k;
  }

  function findingEl(f) {
    const violation = f.verdict === "violation";
    return el("div", { class: "finding", "data-testid": "finding",
      dataset: { verdict: String(f.verdict ?? ""), rule: String(f.rule_id ?? "") } },
    el("div", { class: "f-head" },
      el("span", { text: `Rule “${f.rule_id ?? "?"}”${f.rule_kind ? ` · ${W.plain(f.rule_kind)}` : ""}` }),
      el("span", { class: `badge ${violation ? "violation" : ""}`,
        text: `${W.verdict(f.verdict)} · ${W.prob(f.probability)}` })),
    f.rule_text ? el("p", { class: "f-text", text: f.rule_text }) : null,
    f.party ? el("p", { class: "f-text", "data-testid": "finding-party",
      text: `Party held responsible: ${partyLabel(f.party)} (by this finding of rule “${f.rule_id}”).` }) : null,
    f.explanation ? el("p", { class: "f-expl", text: explain(f.explanation) }) : null,
    Array.isArray(f.evidence) && f.evidence.length
      ? el("div", { class: "small" }, el("span", { class: "muted", text: "Evidence: " }), idList(f.evidence, "finding-evidence")) : null,
    el("p", { class: "f-source muted small", text: f.run !== undefined && f.run !== null
      ? `Finding of verification run ${f.run}.` : "Finding of the latest verification." }));
  }

  // Where the report lies: side of the line, distance, sector, zones; named by its run.
  function placementEl(pl) {
    const box = el("div", { "data-testid": "detail-placement", class: "claims" });
    const by = pl.run !== undefined && pl.run !== null ? `verification run ${pl.run}` : "the latest verification";
    const rows = [];
    if (pl.side) {
      const p = pl.side_probability && typeof pl.side_probability === "object" ? pl.side_probability[pl.side] : null;
      rows.push(["Side of the line", `${partyLabel(pl.side)}'s side${p !== null && p !== undefined ? ` (${W.prob(p)})` : ""}`]);
    } else {
      rows.push(["Side of the line", "on the line or not determined"]);
    }
    if (pl.distance_to_line_m !== null && pl.distance_to_line_m !== undefined) {
      rows.push(["Distance to the line", W.distance(pl.distance_to_line_m)]);
    }
    if (pl.sector) rows.push(["Sector", agreementName("sectors", pl.sector)]);
    const zones = pl.zones && typeof pl.zones === "object" ? Object.entries(pl.zones).filter(([, p]) => Number(p) > 0) : [];
    rows.push(["Inside zones", zones.length
      ? zones.map(([z, p]) => `${agreementName("zones", z)} (${W.prob(p)})`).join("; ") : "none"]);
    if (Array.isArray(pl.rules_in_force) && pl.rules_in_force.length) {
      rows.push(["Rules in force here", pl.rules_in_force.map((r) => `“${r}”`).join(", ")]);
    }
    const dl = el("dl", { class: "kv" });
    for (const [k, v] of rows) dl.append(el("dt", { text: k }), el("dd", { text: v }));
    box.append(dl, el("p", { class: "muted small", text: `Placed against the line and zones by ${by}.` }));
    return box;
  }

  // Who fired or owns it, and the firing point: each with what says so.
  function originClaims(d, rec, findings) {
    const ul = el("ul", { class: "claims-list", "data-testid": "detail-origin-claims" });
    if (rec.party) {
      ul.append(el("li", { text: `Attributed to ${partyLabel(rec.party)}: stated in the report (${W.source(rec.source_kind)}` +
        `${rec.source_id ? ` ${rec.source_id}` : ""}).` }));
    }
    for (const f of findings) {
      if (!f.party) continue;
      ul.append(el("li", { text: `${partyLabel(f.party)} held responsible: finding of rule “${f.rule_id}”` +
        ` (${W.verdict(f.verdict)}, ${W.prob(f.probability)}${f.run !== undefined && f.run !== null ? `, verification run ${f.run}` : ""}).` }));
    }
    const origin = C().originOf(d, rec);
    if (origin) {
      ul.append(el("li", { "data-testid": "detail-origin",
        text: `Firing or launch point: ${W.place(origin.lon, origin.lat)}` +
          `${origin.radius_m ? ` (95 %: ± ${W.distance(origin.radius_m)})` : ""}: ` +
          `${rec.engine ? `estimated by ${rec.engine}` : "as given in the report"}.` }));
    }
    if (!ul.childNodes.length) ul.append(el("li", { class: "muted", text: "No party attributed, no firing point assessed." }));
    return ul;
  }

  function allegationEl(a, recordId) {
    const matches = [...(a.matches || []), ...(a.elsewhere || [])];
    const m = matches.find((x) => x.record_id === recordId);
    const near = m && (a.elsewhere || []).includes(m);
    const lines = [];
    if (m) {
      lines.push(`${near ? "Near it, not matching" : "This report matches it"}: ${W.distance(m.distance_m)} from the alleged place` +
        `${Number(m.offset_s) ? `, ${W.duration(m.offset_s)} ${m.offset_s < 0 ? "before" : "after"} the alleged time` : ", within the alleged time"}` +
        `; ${W.prob(m.space_probability)} that it happened at the alleged place.`);
    }
    if (a.perpetrator) lines.push(`Perpetrator: ${W.plain(a.perpetrator)}.`);
    if (a.detection_probability !== null && a.detection_probability !== undefined) {
      lines.push(`The sensors would have detected such an event with ${W.prob(a.detection_probability)} probability.`);
    }
    return el("div", { class: "finding", "data-testid": "detail-allegation", dataset: { verdict: String(a.verdict ?? "") } },
      el("div", { class: "f-head" },
        el("span", { text: `Allegation ${a.allegation_id ?? a.id ?? "?"}` }),
        el("span", { class: "badge", text: `${W.verdict(a.verdict)}${a.probability !== undefined ? ` · ${W.prob(a.probability)}` : ""}` })),
      el("p", { class: "f-text", text: `${partyLabel(a.alleging_party)} accuses ${a.accused_party ? partyLabel(a.accused_party) : "nobody named"}` +
        `${a.kind ? ` of ${W.kind(a.kind)}` : ""}.` }),
      ...lines.map((t) => el("p", { class: "f-text", text: t })),
      a.explanation ? el("p", { class: "f-expl", text: explain(a.explanation) }) : null,
      el("p", { class: "f-source muted small", text: `Verdict of the allegation check${a.engine ? ` (${a.engine})` : ""}` +
        `${a.agreement_id ? ` against ${a.agreement_id}${a.agreement_version ? ` v${a.agreement_version}` : ""}` : ""}.` }));
  }

  function sourceEl(d, rec, fp) {
    const extra = rec.extra && typeof rec.extra === "object" ? rec.extra : {};
    const rows = [
      ["Source", `${W.capital(W.source(rec.source_kind ?? fp.source_kind))}${(rec.source_id ?? fp.source_id) ? ` · ${rec.source_id ?? fp.source_id}` : ""}`],
      ["Received", rec.received_time ? W.timeUTC(rec.received_time) : null],
      ["Submitted by", d.submitted_by],
      ["Produced by", rec.engine],
      ["Sensors", extra.n_sensors],
      ["Launch and impact pair", extra.pair_id],
      ["Read from", rec.file ? `${rec.file}${rec.line ? `, line ${rec.line}` : ""}` : null],
    ];
    const dl = el("dl", { class: "kv" });
    for (const [k, v] of rows) if (v !== null && v !== undefined && v !== "") dl.append(el("dt", { text: k }), el("dd", { text: String(v) }));
    return dl;
  }

  // The review state and versions the API adds to a report's detail, when it does.
  function reviewEl(review) {
    if (!review || typeof review !== "object") return null;
    const st = review.state ?? review.to;
    const by = review.updated_by ?? review.by, at = review.updated_at ?? review.at;
    return el("p", { class: "small", "data-testid": "detail-review" }, "Review: ",
      el("span", { class: `badge state-${st}`, text: W.state(st) }),
      by ? ` by ${by}` : "", at ? ` · ${W.timeUTC(at)}` : "");
  }

  function versionsEl(versions) {
    if (!Array.isArray(versions) || versions.length < 2) return null;
    const ol = el("ol", { class: "chain", "data-testid": "detail-versions" });
    versions.forEach((v, i) => {
      ol.append(el("li", { text: `Version ${v.version ?? i + 1} (${v.id ?? "?"})${v.author ? ` by ${v.author}` : ""}` +
        `${v.stored_at ? `, ${W.timeUTC(v.stored_at)}` : ""}${v.correction ? `: ${v.correction}` : ""}` +
        `${v.state ? ` · ${W.state(v.state)}` : ""}` +
        `${Array.isArray(v.changes) && v.changes.length ? `. Changed: ${v.changes.slice(0, 8).map((c) =>
          `${W.field(c.field)} ${fmt(c.field, c.old ?? "")} → ${fmt(c.field, c.new ?? "")}`).join("; ")}` : ""}` }));
    });
    return ol;
  }

  function render(box, id, d) {
    const core = C();
    core.clear(box);
    const rec = d.record || (d.feature && d.feature.properties) || {};
    const feature = d.feature || core.features().get(id);
    const fp = (feature && feature.properties) || rec;
    const findings = Array.isArray(d.findings) ? d.findings : [];
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", class: "secondary", text: "Zoom to", "data-testid": "detail-zoom",
        onclick: () => core.zoomTo(feature, core.originOf(d, rec)) }),
      el("button", { type: "button", class: "secondary", text: "Back to the list", onclick: () => core.showTab("map") }));
    if (core.isAnalyst() && window.lwReview) {
      actions.append(el("button", { type: "button", class: "secondary", text: "Review", "data-testid": "detail-open-review",
        onclick: () => window.lwReview.open(id) }));
    }
    box.append(
      el("h2", { "data-testid": "detail-id", text: id }),
      el("p", { class: "muted", "data-testid": "detail-summary" },
        `${title(fp.kind ? fp : rec)} · ${W.timeUTC(fp.time || rec.time)}` +
        `${rec.time_precision && rec.time_precision !== "exact" ? ` (${W.PRECISIONS[rec.time_precision]})` : ""}`),
      reviewEl(d.review),
      actions);

    box.append(el("h3", { text: `What the checks found (${findings.length})` }));
    const fBox = el("div", { "data-testid": "detail-findings", dataset: { count: String(findings.length) } });
    if (!findings.length) fBox.append(el("p", { class: "muted small", text: "No rule of the agreement applies to this report, or it has not been verified yet." }));
    for (const f of findings) fBox.append(findingEl(f));
    box.append(fBox);

    if (d.placement && typeof d.placement === "object") {
      box.append(el("h3", { text: "Where it lies" }), placementEl(d.placement));
    }
    box.append(el("h3", { text: "Who and from where" }), originClaims(d, rec, findings));
    const origin = core.originOf(d, rec);
    if (origin) core.drawOrigin(feature, origin);

    const alls = Array.isArray(d.allegations) ? d.allegations : [];
    box.append(el("h3", { text: `Allegations matched (${alls.length})` }));
    const aBox = el("div", { "data-testid": "detail-allegations" });
    if (!alls.length) aBox.append(el("p", { class: "muted small", text: "No party's allegation was matched to this report." }));
    for (const a of alls) aBox.append(allegationEl(a, id));
    box.append(aBox);

    box.append(el("h3", { text: "Evidence chain" }));
    const chain = el("div", { "data-testid": "detail-evidence" });
    chain.append(sourceEl(d, rec, fp));
    const dets = Array.isArray(d.detections) ? d.detections : [];
    chain.append(el("p", { class: "small", text: dets.length ? `Sensor detections (${dets.length}):` : "Sensor detections: none (not a fused incident)." }));
    if (dets.length) chain.append(idList(dets, "detail-detections"));
    const vEl = versionsEl(d.versions);
    if (vEl) chain.append(el("p", { class: "small", text: "Versions:" }), vEl);
    const audit = d.audit && typeof d.audit === "object" ? d.audit : null;
    chain.append(el("p", { class: "small", "data-testid": "detail-audit",
      text: audit && audit.index !== undefined && audit.index !== null
        ? `Audit log entry #${audit.index} (check it with linewatch audit verify).`
        : "Audit log: no entry." }));
    box.append(chain);

    box.append(el("h3", { text: "What was reported" }), kv(rec, { testid: "detail-properties", skip: ["id"] }));
  }

  function renderAllegation(box, p) {
    const core = C();
    core.clear(box);
    box.dataset.id = String(p.id ?? "");
    box.append(el("h2", { "data-testid": "detail-id", text: `Allegation ${p.id ?? ""}` }),
      el("p", { class: "muted", text: `${partyLabel(p.alleging_party)} accuses ${partyLabel(p.accused_party)}` }),
      el("h3", { text: "Verdict" }),
      el("p", { text: p.verdict ? W.capital(W.verdict(p.verdict)) : "Not judged yet." }),
      el("h3", { text: "What was alleged" }), kv(p, { testid: "detail-properties", skip: ["id", "verdict"] }));
  }

  window.lwDetail = { render, renderAllegation, kv, fmt, findingEl, placementEl, allegationEl, originClaims, idList, title, explain };
})();
