// The parts of ackguard's Chaos tab that a Locust extended table cannot hold: the fire and heal
// buttons, the write counts, the live damage and the verdict with its report link. Locust's page
// renders the tab and its fault-window table; this script adds a panel above that table while
// the tab is open, polling ./chaos/state. It borrows the class names of Locust's own paper and
// table so that it looks like the rest of the UI in light and dark mode alike.
(function () {
  "use strict";
  var POLL_MS = 1500;
  var state = null;
  var panel = null;
  var below = null;
  var actions = null;
  var note = "";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }

  function classOf(selector) {
    var found = document.querySelector(selector);
    return found ? found.className : "";
  }

  function chaosTabOpen() {
    return new URLSearchParams(window.location.search).get("tab") === "chaos";
  }

  function style() {
    if (document.getElementById("ackguard-chaos-style")) return;
    // The theme's primary colour, as Locust paints its selected tab (light and dark alike).
    var tab = document.querySelector(".MuiTab-root.Mui-selected");
    var primary = tab ? getComputedStyle(tab).color : "#15803d";
    var css =
      ".ackguard-panel{margin:16px 0;display:flex;flex-direction:column;gap:16px}" +
      ".ackguard-panel .chaos-card{padding:16px}" +
      ".ackguard-panel h3{margin:0 0 8px;font-size:1.1rem;font-weight:500}" +
      ".ackguard-panel .chaos-muted{opacity:.75}" +
      "#ackguard-chaos .chaos-buttons{display:flex;flex-wrap:wrap;gap:8px}" +
      "#ackguard-chaos button{font:500 0.875rem/1.75 inherit;text-transform:uppercase;" +
      "letter-spacing:0.03em;border:0;border-radius:4px;padding:6px 16px;cursor:pointer;" +
      "color:#fff;background:" + primary + ";box-shadow:0 3px 1px -2px rgba(0,0,0,.2)," +
      "0 2px 2px 0 rgba(0,0,0,.14),0 1px 5px 0 rgba(0,0,0,.12)}" +
      "#ackguard-chaos button.chaos-heal{background:#0288d1}" +
      "#ackguard-chaos button:disabled{opacity:.45;cursor:default}" +
      "#ackguard-chaos .chaos-counts{display:flex;gap:32px;flex-wrap:wrap}" +
      "#ackguard-chaos .chaos-count b{display:block;font-size:1.6rem;font-weight:500}" +
      "#ackguard-chaos .chaos-verdict{font-size:1.8rem;font-weight:700}" +
      "#ackguard-chaos .PASS{color:#2e7d32}#ackguard-chaos .FAIL{color:#d32f2f}" +
      "#ackguard-chaos .UNKNOWN{color:#ed6c02}" +
      "#ackguard-chaos a{color:inherit;font-weight:500}";
    document.head.appendChild(el("style", { id: "ackguard-chaos-style", text: css }));
  }

  function card(id, title, children) {
    // Locust's own paper (its table's container): its classes, and the shadow it sets inline.
    var paper = document.querySelector("main .MuiPaper-root:not(.chaos-card)");
    var node = el("div", { id: id, class: (paper ? paper.className : "") + " chaos-card" },
      [el("h3", { text: title })].concat(children));
    var shadow = paper ? paper.style.getPropertyValue("--Paper-shadow") : "";
    if (shadow) node.style.setProperty("--Paper-shadow", shadow);
    return node;
  }

  function table(headers, rows) {
    var cell = classOf("td.MuiTableCell-root");
    var head = classOf("th.MuiTableCell-root");
    return el("table", { class: classOf("table.MuiTable-root") }, [
      el("thead", {}, [el("tr", {}, headers.map(function (h) { return el("th", { class: head, text: h }); }))]),
      el("tbody", {}, rows.map(function (row) {
        return el("tr", {}, row.map(function (v) { return el("td", { class: cell, text: String(v) }); }));
      })),
    ]);
  }

  function post(path) {
    fetch(path, { method: "POST" })
      .then(function (answer) { return answer.json(); })
      .then(function (body) {
        note = body.error ? body.error : body.fired ? "fired " + body.fired :
          "healed " + ((body.healed || []).join(", ") || "(nothing was active)");
        refresh();
      })
      .catch(function (error) { note = String(error); render(); });
  }

  function statusCard() {
    var phase = {
      ready: "Waiting for Start", running: "Load running", verifying: "Load stopped: verifying",
      done: "Session over",
    }[state.phase] || state.phase;
    var lines = [el("div", { id: "chaos-phase", text: phase + (state.elapsed_s != null &&
      state.phase === "running" ? " (" + Math.round(state.elapsed_s) + " s)" : "") })];
    if (state.stop_reason) lines.push(el("div", { id: "chaos-stop-reason", text: "Stop condition: " + state.stop_reason }));
    if (state.message) lines.push(el("div", { class: "chaos-muted", text: state.message }));
    return card("chaos-status", "ackguard" + (state.scenario ? " · " + state.scenario : ""), lines);
  }

  function verdictCard() {
    var v = state.verdict;
    var counts = Object.keys(v.counts).filter(function (k) { return v.counts[k]; })
      .map(function (k) { return k + " " + v.counts[k]; }).join(", ");
    var parts = [
      el("div", { id: "chaos-verdict-label", class: "chaos-verdict " + v.label, text: v.label }),
      el("div", { text: v.words }),
      v.expected ? el("div", { id: "chaos-expected", text: "expected " + v.expected +
        (v.matched ? " (as expected)" : " (NOT as expected)") }) : null,
      el("div", { class: "chaos-muted", text: "counts: " + (counts || "none") }),
    ];
    if (state.stop_reason) parts.push(el("div", { text: "stopped by: " + state.stop_reason }));
    v.reasons.forEach(function (r) { parts.push(el("div", { class: "chaos-reason", text: "reason: " + r })); });
    if (v.report) parts.push(el("a", { id: "chaos-report-link", href: v.report, target: "_blank", text: "Open the report (report.html)" }));
    parts.push(el("div", { class: "chaos-muted", text: "Run directory: " + v.run_dir }));
    if (state.start_refused) parts.push(el("div", { class: "chaos-muted", text: state.start_refused }));
    return card("chaos-verdict", "Verdict", parts);
  }

  // The buttons are rebuilt only when what they show changes: a button replaced between a
  // press and its release would swallow the click.
  function actionsCard() {
    var key = JSON.stringify([state.phase, state.faults, note]);
    if (actions && actions.key === key) return actions.node;
    actions = { key: key, node: buildActions() };
    return actions.node;
  }

  function buildActions() {
    var running = state.phase === "running";
    var buttons = state.faults.map(function (f) {
      var b = el("button", { type: "button", "data-fault": f.name, title: f.description,
        text: "Fire " + f.name + (f.active ? " (active)" : "") });
      b.disabled = !running || f.active;
      b.addEventListener("click", function () { post("./chaos/fire/" + encodeURIComponent(f.name)); });
      return b;
    });
    var heal = el("button", { type: "button", id: "chaos-heal", class: "chaos-heal", text: "Heal everything" });
    heal.disabled = !running;
    heal.addEventListener("click", function () { post("./chaos/heal"); });
    return card("chaos-actions", "Faults", [
      el("div", { class: "chaos-buttons" }, buttons.concat([heal])),
      el("div", { id: "chaos-note", class: "chaos-muted", text: note }),
    ]);
  }

  function writesCard() {
    var w = state.writes;
    var count = function (label, value, id) {
      return el("div", { class: "chaos-count", id: id }, [el("b", { text: String(value) }), el("span", { text: label })]);
    };
    return card("chaos-writes", "Practitioner writes", [el("div", { class: "chaos-counts" }, [
      count("acknowledged", w.acknowledged, "chaos-acknowledged"),
      count("failed", w.failed, "chaos-failed"),
      count("indeterminate", w.indeterminate, "chaos-indeterminate"),
      count("live damage", state.damage.count, "chaos-damage-count"),
    ])]);
  }

  function damageCard() {
    var d = state.damage;
    var kinds = Object.keys(d.by_kind).map(function (k) { return d.by_kind[k] + " " + k; }).join(", ");
    var rows = d.first.map(function (r) {
      return [r.kind, r.practitioner || "?", r.patient || "?", r.fields.join(", ") || "(whole record)",
        r.acknowledged_s.toFixed(1), r.time_to_detect_s.toFixed(2) + " s"];
    });
    var shown = d.count > d.first.length ? " (the first " + d.first.length + ")" : "";
    return card("chaos-damage", "Live-detected damage", [
      el("div", { text: d.count ? kinds + shown : "none detected so far" }),
      d.count ? table(["Kind", "Practitioner", "Patient", "Fields", "Acknowledged (s since the load started)", "Time to detect"], rows) : null,
    ]);
  }

  // Two panels around Locust's own table of fault windows: above it the session, the buttons
  // and the counts; below it the live damage, which can be long.
  function place() {
    var tabs = document.querySelector(".MuiTabs-root");
    var box = tabs && tabs.parentElement;
    if (!box || !box.parentElement) return false;
    if (!panel) {
      panel = el("div", { id: "ackguard-chaos", class: "ackguard-panel" });
      below = el("div", { id: "ackguard-chaos-below", class: "ackguard-panel" });
    }
    if (panel.previousElementSibling !== box) box.after(panel);
    var anchor = locustTable() || panel;
    if (below.previousElementSibling !== anchor) anchor.after(below);
    return true;
  }

  function follow() {
    var open = chaosTabOpen();
    [panel, below].forEach(function (p) { if (p) p.style.display = open ? "" : "none"; });
    if (open && state && place()) {
      var locust = locustTable(); // remounted by Locust when its tab is opened again
      var stale = locust && locust.style.display !== "none" && state.phase !== "running";
      if (!panel.firstChild || (stale && state.phase !== "ready")) render();
    }
  }

  function render() {
    if (!chaosTabOpen() || !state || !place()) return;
    style();
    var cards = [statusCard()];
    if (state.verdict) cards.push(verdictCard());
    cards.push(writesCard(), actionsCard()); // the buttons sit just above the windows' table
    panel.replaceChildren.apply(panel, cards);
    // Locust refreshes its table only while the load runs: from the stop on, the windows'
    // last states (healed, skipped) are drawn here in its place.
    var locust = locustTable();
    var frozen = state.phase !== "ready" && state.phase !== "running";
    if (locust) locust.style.display = frozen ? "none" : "";
    var after = [damageCard()];
    if (frozen || !locust) after.unshift(windowsCard());
    below.replaceChildren.apply(below, after);
  }

  function locustTable() {
    var tabs = document.querySelector(".MuiTabs-root");
    var parent = tabs && tabs.parentElement && tabs.parentElement.parentElement;
    return parent ? parent.querySelector(":scope > .MuiTableContainer-root") : null;
  }

  function windowsCard() {
    var rows = state.windows.map(function (w) {
      var span = w.start.toFixed(1) + " - " + w.stop.toFixed(1) + (w.fired ? " (fired now)" : "");
      return [w.fault, w.kind, span, w.state, w.error || ""];
    });
    return card("chaos-windows", "Fault windows", [
      table(["Fault", "Kind", "Window (s since the load started)", "State", "Detail"], rows),
    ]);
  }

  function refresh() {
    fetch("./chaos/state")
      .then(function (answer) { return answer.json(); })
      .then(function (body) { state = body; render(); })
      .catch(function () { /* the session may be over: keep what is shown */ });
  }

  refresh();
  setInterval(refresh, POLL_MS);
  setInterval(follow, 400); // follow tab switches (Locust changes ?tab= without a page load)
})();
