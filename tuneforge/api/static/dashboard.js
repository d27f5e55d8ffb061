// TuneForge dashboard: polls the API's /dashboard/api/* routes and draws everything with DOM + SVG.
// No dependencies. Text from the server is only ever set as textContent (never parsed as HTML).
"use strict";

(function () {
  const ROOT = document.body.dataset.root || "";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const params = new URLSearchParams(window.location.search);
  const POLL_S = Math.min(60, Math.max(1, Number(params.get("poll")) || 5));
  const ROUNDS_SHOWN = 3;
  const state = { summary: null, latestRound: undefined, selected: params.get("miner"), shownRounds: new Map(),
                  failures: 0, lastOk: 0 };

  // -- small helpers ------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "text") node.textContent = v; else if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, String(v));
    }
    return node;
  }
  const fmt = (x, digits = 3) => (x === null || x === undefined || Number.isNaN(x)) ? "—" : Number(x).toFixed(digits);
  const shortKey = (hk) => (hk && hk.length > 14) ? hk.slice(0, 6) + "…" + hk.slice(-6) : (hk || "—");
  function ago(t, now) {
    if (!t) return "never";
    const s = Math.max(0, (now || Date.now() / 1000) - t);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }
  function setCard(id, value, note, cls) {
    const card = document.getElementById(id);
    const v = card.querySelector(".value");
    v.textContent = value;
    v.className = "value" + (cls ? " " + cls : "");
    card.querySelector(".note").textContent = note || "";
  }
  async function getJSON(path) {
    const response = await fetch(ROOT + path, { headers: { Accept: "application/json" }, cache: "no-cache" });
    if (response.status === 429) {
      const wait = Number(response.headers.get("Retry-After")) || POLL_S;
      const error = new Error("rate limited"); error.retryAfter = wait; throw error;
    }
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    return response.json();
  }

  // -- health cards -------------------------------------------------------------------------------
  function renderHealth(s) {
    const v = s.validator;
    const now = s.now;
    if (v && v.validator) {
      document.getElementById("subtitle").textContent =
        "netuid " + v.validator.netuid + " · validator " + shortKey(v.validator.hotkey) +
        (v.validator.uid === null || v.validator.uid === undefined ? "" : " (uid " + v.validator.uid + ")");
    }
    const last = s.latest_round;
    setCard("card-round", last ? "#" + last.round_id : "none",
            last ? ago(last.finished_at, now) + " · " + last.miners + " miners" : "no round recorded yet");
    const w = v && v.weights;
    if (w && w.outcome) {
      const cls = w.outcome === "set" ? "good" : (w.outcome === "skipped" ? "warn" : "bad");
      const block = w.last_set_block !== null && w.last_set_block !== undefined ? "last set at block " + w.last_set_block : "";
      setCard("card-weights", w.outcome, [ago(w.at, now), w.reason, block].filter(Boolean).join(" · "), cls);
    } else {
      setCard("card-weights", "not yet", v ? "no weight-setting attempt yet" : "no validator status published", "warn");
    }
    setCard("card-block", v && v.chain_block !== null && v.chain_block !== undefined ? String(v.chain_block) : "—",
            v ? "read " + ago(v.block_read_at, now) : "");
    const total = s.jobs.total;
    setCard("card-queue", String(s.queue_depth), total.processing + " processing");
    const day = s.jobs.last_24h;
    setCard("card-jobs", String(total.completed + total.failed + total.pending + total.processing),
            "24 h: " + day.completed + " completed, " + day.failed + " failed, " + (day.pending + day.processing) + " open");
  }

  // -- leaderboard ------------------------------------------------------------------------------------
  function sparkline(values) {
    const w = 90, h = 22;
    const box = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: "sparkline" });
    const n = values.length;
    if (!n) return box;
    const x = (i) => n === 1 ? w / 2 : 2 + i * (w - 4) / (n - 1);
    const y = (v) => h - 2 - v * (h - 4);
    const known = (v) => v !== null && v !== undefined;
    let d = "";
    values.forEach((v, i) => {
      if (!known(v)) return;  // not sampled that round: a gap in the line
      d += (i > 0 && known(values[i - 1]) ? " L" : " M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      box.append(svg("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 1.6, class: "spark-dot" }));
    });
    if (d) box.prepend(svg("path", { d: d.trim(), class: "spark" }));
    box.append(svg("title", { text: "last rounds: " + values.map((v) => fmt(v, 2)).join(", ") }));
    return box;
  }

  function renderLeaderboard(s) {
    const body = document.querySelector("#leaderboard tbody");
    body.replaceChildren();
    if (!s.leaderboard.length) {
      body.append(el("tr", { class: "empty" }, [el("td", { colspan: 10, text: "no miner scored yet" })]));
      return;
    }
    s.leaderboard.forEach((m, i) => {
      const row = el("tr", { "data-hotkey": m.hotkey, "data-uid": m.uid, class: m.hotkey === state.selected ? "selected" : "" }, [
        el("td", { text: String(i + 1) }),
        el("td", { text: String(m.uid) }),
        el("td", { class: "hotkey", title: m.hotkey, text: shortKey(m.hotkey) }),
        el("td", { text: m.model_id || "—" }),
        el("td", { class: "num", text: fmt(m.ema) }),
        el("td", { class: "num", text: m.weight_on_chain === null ? "—" : fmt(m.weight_on_chain) }),
        el("td", { class: "num", text: fmt(m.weight_next) }),
        el("td", { class: "num", text: String(m.rounds) }),
        el("td", { class: "num", text: fmt(m.last_score) }),
        el("td", {}, [sparkline(m.trend)]),
      ]);
      row.addEventListener("click", () => selectMiner(m.hotkey));
      body.append(row);
    });
  }

  // -- a miner's history chart ----------------------------------------------------------------------------
  function selectMiner(hotkey) {
    state.selected = hotkey;
    document.querySelectorAll("#leaderboard tbody tr[data-hotkey]").forEach(
      (r) => r.classList.toggle("selected", r.dataset.hotkey === hotkey));
    loadHistory().catch(reportError);
  }

  async function loadHistory() {
    if (!state.selected) return;
    const hotkey = state.selected;
    const data = await getJSON("/dashboard/api/miners/" + encodeURIComponent(hotkey) + "?limit=50");
    if (hotkey !== state.selected) return;
    const miner = (state.summary && state.summary.leaderboard.find((m) => m.hotkey === hotkey)) || null;
    drawHistory(data.history, miner, hotkey);
  }

  function drawHistory(history, miner, hotkey) {
    const box = document.getElementById("history-chart");
    document.getElementById("history-miner").textContent =
      "— " + (miner ? "uid " + miner.uid + " · " : "") + shortKey(hotkey);
    box.replaceChildren();
    if (!history.length) { box.append(el("p", { class: "empty", text: "no validation clip stored for this miner" })); return; }
    const W = 900, H = 240, L = 40, R = 12, T = 12, B = 28;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "final score per round",
                               "data-points": history.length });
    const t0 = history[0].created_at, t1 = history[history.length - 1].created_at;
    const x = (t) => t1 === t0 ? L + (W - L - R) / 2 : L + (t - t0) / (t1 - t0) * (W - L - R);
    const y = (v) => T + (1 - v) * (H - T - B);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "axis" }));
      chart.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", text: v.toFixed(2) }));
    }
    const d = history.map((p, i) => (i ? "L" : "M") + x(p.created_at).toFixed(1) + " " + y(p.final_score).toFixed(1)).join(" ");
    chart.append(svg("path", { d, class: "score-line" }));
    for (const p of history) {
      const dot = svg("circle", { cx: x(p.created_at).toFixed(1), cy: y(p.final_score).toFixed(1), r: 3.5, class: "point" });
      dot.append(svg("title", { text: "round " + p.round_id + ": " + fmt(p.final_score) }));
      chart.append(dot);
    }
    if (miner) {
      chart.append(svg("line", { x1: L, x2: W - R, y1: y(miner.ema), y2: y(miner.ema), class: "ema-line" }));
      chart.append(svg("text", { x: W - R, y: y(miner.ema) - 4, "text-anchor": "end", class: "label",
                                 text: "EMA " + fmt(miner.ema) }));
    }
    const first = history[0], last = history[history.length - 1];
    chart.append(svg("text", { x: L, y: H - 8, text: "round " + first.round_id }));
    chart.append(svg("text", { x: W - R, y: H - 8, "text-anchor": "end", text: "round " + last.round_id }));
    box.append(chart);
  }

  // -- rounds, clips and breakdowns -----------------------------------------------------------------------
  function breakdownChart(b, signals, penalties) {
    const rowH = 13, labelW = 112, barW = 170, valueW = 42;
    const rows = signals.length + penalties.length + 1;
    const W = labelW + barW + valueW, H = rows * rowH + 4;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "breakdown", role: "img",
                               "aria-label": "score breakdown: signals and penalties" });
    const unavailable = new Set(b.unavailable || []);
    let row = 0;
    const bar = (name, value, cls, note) => {
      const yy = 2 + row * rowH;
      chart.append(svg("text", { x: labelW - 4, y: yy + 10, "text-anchor": "end", text: name }));
      chart.append(svg("rect", { x: labelW, y: yy + 2, width: barW, height: rowH - 4, class: "bar-bg" }));
      const v = value === null || value === undefined ? 0 : Math.max(0, Math.min(1, value));
      const r = svg("rect", { x: labelW, y: yy + 2, width: (v * barW).toFixed(1), height: rowH - 4, class: cls,
                              "data-name": name, "data-value": value === null || value === undefined ? "" : value });
      r.append(svg("title", { text: name + ": " + (value === null || value === undefined ? "unavailable" : fmt(value)) +
                                    (note ? " — " + note : "") }));
      chart.append(r);
      chart.append(svg("text", { x: labelW + barW + 4, y: yy + 10, class: "label",
                                 text: value === null || value === undefined ? "n/a" : fmt(value, 2) }));
      row += 1;
    };
    for (const name of signals) {
      const value = b.signals[name];
      bar(name, value, "signal-bar" + (value === null || value === undefined || unavailable.has(name) ? " unavailable" : ""));
    }
    row += 1;  // a gap between signals and penalty multipliers
    for (const name of penalties) bar(name, b.penalties[name], "penalty-bar", (b.penalty_notes || {})[name]);
    return chart;
  }

  function renderClip(c, signals, penalties) {
    const audio = el("audio", { controls: "", preload: "none", src: ROOT + c.audio_url, "data-track-id": c.track_id,
                                "data-duration": c.duration_seconds });
    const head = el("div", { class: "clip-head" }, [
      el("span", {}, [el("b", { text: "uid " + c.uid }), " ", el("span", { class: "mono", title: c.hotkey, text: shortKey(c.hotkey) })]),
      el("span", { text: (c.model_id || "?") + " · " + fmt(c.duration_seconds, 1) + " s" }),
      el("span", { class: "score", text: fmt(c.final_score) }),
    ]);
    const parts = [head, audio, breakdownChart(c.breakdown, signals, penalties)];
    if (c.breakdown.error) parts.push(el("div", { class: "error", text: c.breakdown.error }));
    return el("div", { class: "clip", "data-hotkey": c.hotkey }, parts);
  }

  function renderRound(r, signals, penalties, now) {
    const ch = r.challenge || {};
    const tags = [ch.genre, ch.mood, ch.tempo_bpm ? ch.tempo_bpm + " BPM" : null, ch.key_signature, ch.time_signature,
                  ch.duration_seconds ? ch.duration_seconds + " s" : null,
                  (ch.instruments || []).length ? ch.instruments.join(", ") : null, ch.vocals_requested ? "vocals" : null]
      .filter(Boolean).join(" · ");
    const when = el("span", { class: "when", "data-finished": r.finished_at, text: ago(r.finished_at, now) });
    return el("article", { class: "round", "data-round-id": r.round_id }, [
      el("div", { class: "round-head" }, [el("h3", { text: "Round " + r.round_id }), when,
                                          el("span", { class: "when", text: r.clips.length + " clips" })]),
      el("p", { class: "prompt", text: ch.prompt || "" }),
      el("div", { class: "tags", text: tags }),
      el("div", { class: "clips" }, r.clips.map((c) => renderClip(c, signals, penalties))),
    ]);
  }

  async function loadRounds() {
    const data = await getJSON("/dashboard/api/rounds?limit=" + ROUNDS_SHOWN);
    const box = document.getElementById("rounds");
    const now = state.summary ? state.summary.now : Date.now() / 1000;
    const wanted = data.rounds.map((r) => r.round_id);
    // Rounds already on the page keep their elements, so a clip that is playing keeps playing.
    for (const [id, node] of state.shownRounds) {
      if (!wanted.includes(id)) { node.remove(); state.shownRounds.delete(id); }
    }
    box.querySelectorAll(".empty").forEach((n) => n.remove());
    if (!data.rounds.length) { box.append(el("p", { class: "empty", text: "no round yet" })); return; }
    let previous = null;
    for (const r of data.rounds) {
      let node = state.shownRounds.get(r.round_id);
      if (!node) { node = renderRound(r, data.signals, data.penalties, now); state.shownRounds.set(r.round_id, node); }
      if (previous === null) box.prepend(node); else previous.after(node);
      previous = node;
    }
  }

  function refreshTimes(now) {
    document.querySelectorAll("#rounds .when[data-finished]").forEach(
      (n) => { n.textContent = ago(Number(n.dataset.finished), now); });
  }

  // -- the poll loop --------------------------------------------------------------------------------------
  function reportError(err) {
    state.failures += 1;
    const live = document.getElementById("live");
    live.className = "live " + (state.failures > 2 ? "down" : "stale");
    live.textContent = "update failed (" + err.message + "); retrying";
    console.warn("dashboard:", err.message);
  }

  async function tick() {
    let wait = POLL_S;
    try {
      const s = await getJSON("/dashboard/api/summary");
      state.summary = s;
      renderHealth(s);
      renderLeaderboard(s);
      const latest = s.latest_round ? s.latest_round.round_id : null;
      if (!state.selected && s.leaderboard.length) state.selected = s.leaderboard[0].hotkey;
      if (latest !== state.latestRound) {
        await loadRounds();
        await loadHistory();
        state.latestRound = latest;
      } else if (state.selected && !document.querySelector("#history-chart svg")) {
        await loadHistory();
      }
      refreshTimes(s.now);
      state.failures = 0;
      state.lastOk = Date.now();
      const live = document.getElementById("live");
      live.className = "live ok";
      live.textContent = "live · updated " + new Date().toLocaleTimeString();
    } catch (err) {
      if (err.retryAfter) wait = Math.max(wait, err.retryAfter);
      reportError(err);
    }
    window.setTimeout(tick, wait * 1000);
  }

  tick();
})();
