// tradefleet dashboard, Strategies page, its backtests: run one (one parameter set or a grid),
// follow this tab's runs until they finish, see a run's stats and equity chart, compare runs
// side by side. The form's parameter fields are rendered by the server from the strategy
// registry; helpers come from common.js (the `tradefleet` namespace).
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, show, labelCells, statusText, call, callBlob, fieldErrors, formatNumber } = tf;
  const { short, words, number, say, clearErrors, paramInputs, showParams, placeParamErrors, paramsText } = tf;
  const RUNS_KEY = "tradefleet.backtests"; // ids of this tab's backtests (sessionStorage)
  const FINISHED = ["succeeded", "failed", "missing"];
  const POLL_MS = 1000;
  // Stats where a higher value is better (max_drawdown_pct is negative: closer to 0 is better).
  const HIGHER_IS_BETTER = new Set(["equity_final", "return_pct", "return_ann_pct", "cagr_pct", "sharpe",
    "sortino", "calmar", "max_drawdown_pct", "win_rate_pct", "profit_factor", "expectancy_pct", "sqn"]);
  const STAT_NAMES = {
    trades: "Trades", equity_final: "Final equity", equity_peak: "Peak equity", return_pct: "Return %",
    buy_hold_return_pct: "Buy and hold return %", return_ann_pct: "Annual return %",
    volatility_ann_pct: "Annual volatility %", cagr_pct: "CAGR %", sharpe: "Sharpe ratio",
    sortino: "Sortino ratio", calmar: "Calmar ratio", max_drawdown_pct: "Max drawdown %",
    exposure_time_pct: "Exposure time %", win_rate_pct: "Win rate %", best_trade_pct: "Best trade %",
    worst_trade_pct: "Worst trade %", avg_trade_pct: "Average trade %", profit_factor: "Profit factor",
    expectancy_pct: "Expectancy %", sqn: "SQN", commissions: "Commissions",
  };
  const page = { // the backtests part of the page
    runs: new Map(), // backtest id -> the backtest as GET shows it (or a stand-in until then)
    order: [], // ids, newest first
    compare: new Set(), // ids ticked for the comparison
    shown: null, // id in the detail
    images: new Map(), // id -> object URL of its equity chart
    poller: null,
    polling: false,
    pollAgain: false,
    session: 0, // counts sign-outs: a poll of an earlier session is dropped
  };

  const statName = (key) => STAT_NAMES[key] || key.replace(/_pct$/, " %").replace(/_/g, " ");
  const STAT_ORDER = Object.keys(STAT_NAMES); // as strategies/_stats.py lists them
  const statPlace = (key) => (STAT_ORDER.includes(key) ? STAT_ORDER.indexOf(key) : STAT_ORDER.length);
  const statKeys = (keys) => [...keys].sort((a, b) => statPlace(a) - statPlace(b));

  // --- backtests: start one ---------------------------------------------------------------

  /**
   * The values a backtest field asks for: one ("10"), a list ("5 10 15", "5,10,15") or a range
   * START:STOP[:STEP], both ends included (as the CLI's --grid). Throws an Error in words.
   */
  function values(input) {
    const text = input.value.trim();
    if (input.dataset.kind === "bool") return text === "both" ? [false, true] : [text === "true"];
    if (text === "") return [];
    if (!text.includes(":")) return words(text).map(number);
    const parts = text.split(":").map((p) => Number(p.trim()));
    if (parts.length < 2 || parts.length > 3 || !parts.every(Number.isFinite)) {
      throw new Error("write a range as START:STOP or START:STOP:STEP, e.g. 5:50:5");
    }
    const [start, stop, step = 1] = parts;
    if (step <= 0 || stop < start) throw new Error("a range needs START at most STOP and a STEP above 0");
    if ((stop - start) / step >= 1000) throw new Error("at most 1000 values per parameter");
    const out = [];
    for (let k = 0; start + k * step <= stop + 1e-9; k += 1) out.push(Number((start + k * step).toFixed(10)));
    return out;
  }

  async function readBacktest() {
    const { strategy, inputs } = paramInputs("bt");
    const chosen = {};
    let bad = false;
    for (const input of inputs) {
      try {
        const list = values(input);
        if (list.length) chosen[input.name] = list;
      } catch (error) {
        say(`${input.id}-error`, `${input.name}: ${error.message}`);
        bad = true;
      }
    }
    const body = {
      strategy,
      cash: number($("bt-cash").value.trim() || "10000"),
      commission: number($("bt-commission").value.trim() || "0"),
      spread: number($("bt-spread").value.trim() || "0"),
      margin: number($("bt-margin").value.trim() || "1"),
      finalize_trades: $("bt-finalize_trades").checked,
      rank_by: $("bt-rank_by").value,
    };
    for (const name of ["stop_loss", "take_profit"]) { // empty: off (not sent)
      const text = $(`bt-${name}`).value.trim();
      if (text) body[name] = number(text);
    }
    if (Object.values(chosen).some((list) => list.length > 1)) body.grid = chosen;
    else body.params = Object.fromEntries(Object.entries(chosen).map(([k, list]) => [k, list[0]]));
    const source = document.querySelector("input[name=bars_source]:checked").value;
    if (source === "file") {
      const file = $("bt-data").files[0];
      const limit = Number($("backtest-form").dataset.maxBytes);
      if (!file) { say("bt-data-error", "Bars CSV file: choose a file of bars."); bad = true; }
      else if (file.size > limit) {
        say("bt-data-error", `Bars CSV file: ${(file.size / 1048576).toFixed(1)} MB is over the limit of ${Math.round(limit / 1048576)} MB.`);
        bad = true;
      } else body.data = await file.text();
    } else {
      body.symbol = $("bt-symbol").value.trim();
      body.interval = $("bt-interval").value;
      for (const edge of ["start", "end"]) {
        const day = $(`bt-${edge}`).value;
        if (day) body[edge] = `${day}T00:00:00Z`;
        else { say(`bt-${edge}-error`, `${edge === "start" ? "Start" : "End"}: choose a day.`); bad = true; }
      }
      if (!body.symbol) { say("bt-symbol-error", "Bars symbol: enter a symbol."); bad = true; }
    }
    return bad ? null : body;
  }

  async function onBacktest(event) {
    event.preventDefault();
    const form = $("backtest-form");
    clearErrors(form);
    say("bt-error", "");
    say("bt-done", "");
    const body = await readBacktest();
    if (!body) { say("bt-error", "Not started: see the fields above."); return; }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await call("POST", "/api/v1/backtests", body);
      const kind = body.grid ? "grid" : "single";
      addRun({ id: answer.backtest_id, strategy: body.strategy, kind, params: body.params || {}, grid: body.grid, state: answer.state });
      page.shown = answer.backtest_id;
      say("bt-done", `Backtest ${short(answer.backtest_id)} started (${kind === "grid" ? "a grid" : "one parameter set"}): its results appear below when it is done.`);
      renderDetail();
    } catch (error) {
      const errors = fieldErrors(error);
      if (errors.data && document.querySelector("input[name=bars_source]:checked").value === "store") {
        errors.symbol = errors.symbol || errors.data; // "give either data or symbol": the store's fields
        delete errors.data;
      }
      const placed = placeParamErrors("bt", errors);
      const why = error.status === 503 ? `Market history is not available: ${error.message}` : error.message;
      say("bt-error", placed ? `Not started: ${why.replace(/^invalid input: .*/, "see the fields above")}` : `Not started: ${why}`);
    } finally {
      button.disabled = false;
    }
  }

  // --- backtests: the runs, followed until they finish --------------------------------------

  function saveRuns() { sessionStorage.setItem(RUNS_KEY, JSON.stringify(page.order.slice(0, 50))); }

  // A run only moves forward (queued, running, finished): an answer behind what is known is an
  // older one (the poll's, sent before the lookup's that came back first) and is not shown.
  const stage = (run) => (FINISHED.includes(run.state) ? 2 : run.state === "running" ? 1 : 0);
  const behind = (run, known) => Boolean(known) && stage(run) < stage(known);

  function addRun(run) {
    if (!page.runs.has(run.id)) page.order.unshift(run.id);
    if (behind(run, page.runs.get(run.id))) return;
    page.runs.set(run.id, Object.assign({}, page.runs.get(run.id), run));
    saveRuns();
    renderRuns();
    poll();
  }

  async function onLookup(event) {
    event.preventDefault();
    say("lookup-id-error", "");
    const id = $("lookup-id").value.trim();
    if (!/^[0-9a-zA-Z_-]{1,64}$/.test(id)) { say("lookup-id-error", "Backtest id: paste the backtest_id the API answered."); return; }
    try {
      const run = await call("GET", `/api/v1/backtests/${id}`);
      $("lookup-id").value = "";
      addRun(run);
      page.shown = run.id;
      renderDetail();
    } catch (error) {
      say("lookup-id-error", error.status === 404 ? `Backtest id: no backtest ${id} (records are kept 30 days).` : `Backtest id: ${error.message}`);
    }
  }

  // One poll at a time: asked while one runs, the next starts as soon as it ends.
  async function poll() {
    if (page.polling) { page.pollAgain = true; return; }
    clearTimeout(page.poller);
    page.poller = null;
    if (!tf.state.key) return;
    const session = page.session;
    const open = page.order.filter((id) => !FINISHED.includes((page.runs.get(id) || {}).state));
    page.polling = true;
    try {
      await readRuns(open);
    } finally {
      page.polling = false;
    }
    if (session !== page.session) return; // signed out meanwhile
    renderRuns();
    if (open.includes(page.shown)) renderDetail();
    const again = page.pollAgain;
    page.pollAgain = false;
    if (again || page.order.some((id) => !FINISHED.includes((page.runs.get(id) || {}).state))) {
      page.poller = setTimeout(poll, again ? 0 : POLL_MS);
    }
  }

  async function readRuns(ids) {
    const runs = page.runs;
    await Promise.all(ids.map(async (id) => {
      try {
        const run = await call("GET", `/api/v1/backtests/${id}`);
        if (!behind(run, runs.get(id))) runs.set(id, run);
      } catch (error) {
        const known = runs.get(id) || { id };
        if (error.status === 404) runs.set(id, Object.assign({}, known, { state: "missing", error: "no such backtest (expired after 30 days?)" }));
        else runs.set(id, Object.assign({}, known, { problem: error.message })); // Redis or the server down: said in the row, tried again
      }
    }));
  }

  function stateText(run) {
    const parts = [statusText(run.state)];
    if (run.state === "running" && run.progress) parts.push(` ${formatNumber(run.progress.pct)} %`);
    if (run.state === "failed" || run.state === "missing") parts.push(` ${run.error || ""}`);
    if (run.problem && !FINISHED.includes(run.state)) parts.push(` (not read: ${run.problem})`);
    return parts;
  }

  const rowKey = (run) => JSON.stringify([run.strategy, run.state, run.progress, run.problem, run.best_params, page.compare.has(run.id), page.shown === run.id]);

  function runRow(run) {
    const stats = run.stats || {};
    const done = run.state === "succeeded";
    const box = el("input", { type: "checkbox", "data-id": run.id, disabled: !done, checked: done && page.compare.has(run.id) });
    box.addEventListener("change", () => {
      if (box.checked) page.compare.add(run.id); else page.compare.delete(run.id);
      box.closest("tr").dataset.key = rowKey(run);
    });
    const row = el("tr", { "data-backtest": run.id },
      el("td", { text: short(run.id) }),
      el("td", { text: run.strategy }),
      el("td", { text: run.kind === "grid" ? `grid${run.best_params ? `, best ${paramsText(run.best_params, run.strategy)}` : ""}` : paramsText(run.params, run.strategy) }),
      el("td", {}, ...stateText(run)),
      el("td", { text: done ? formatNumber(stats.trades) : "" }),
      el("td", { text: done ? formatNumber(stats.return_pct) : "" }),
      el("td", { text: done ? formatNumber(stats.sharpe) : "" }),
      el("td", {}, el("label", { class: "inline" }, box, ` Compare ${short(run.id)}`)),
      el("td", {}, el("button", { type: "button", text: `Show ${short(run.id)}`, "aria-pressed": page.shown === run.id ? "true" : "false", onclick: () => { page.shown = run.id; renderRuns(); renderDetail(true); } })));
    row.dataset.key = rowKey(run);
    return row;
  }

  // Rows are replaced only when their run changed: a tick of the poll keeps the focus elsewhere.
  function renderRuns() {
    const body = $("backtests-table").tBodies[0];
    const existing = new Map([...body.rows].map((row) => [row.dataset.backtest, row]));
    const rows = page.order.map((id) => {
      const run = page.runs.get(id);
      const row = existing.get(id);
      return row && row.dataset.key === rowKey(run) ? row : runRow(run);
    });
    rows.forEach((row, index) => {
      const at = body.rows[index];
      if (at !== row) body.insertBefore(row, at || null); // moves a kept row, adds a new one
    });
    for (const row of [...body.rows]) if (!rows.includes(row)) row.remove();
    labelCells($("backtests-table"));
    show($("backtests-none"), rows.length === 0);
  }

  // --- backtests: one run's results ---------------------------------------------------------

  function renderDetail(focus = false) {
    const run = page.runs.get(page.shown);
    show($("backtest-detail"), Boolean(run));
    if (!run) return;
    $("backtest-detail-title").textContent = `Backtest ${short(run.id)}: ${run.strategy} ${run.kind === "grid" ? "grid" : paramsText(run.params, run.strategy)}`;
    const stats = run.stats || {};
    const summary = [`State `, statusText(run.state)];
    if (run.progress && !FINISHED.includes(run.state)) summary.push(` — ${run.progress.done} of ${run.progress.total} parameter sets done`);
    if (run.bars) summary.push(` — ${run.bars} bars${run.source && run.source.symbol ? ` of ${run.source.symbol} ${run.source.interval || ""}` : ""}`);
    if (run.state === "succeeded") {
      summary.push(` — ${formatNumber(stats.trades)} trades, return ${formatNumber(stats.return_pct)} %`);
      if (run.best_params) summary.push(` — best parameters ${paramsText(run.best_params, run.strategy)} (by ${run.rank_by})`);
      if (run.open_trade) summary.push(" — a trade is still open at the last bar (not counted; tick Finalize trades to count it)");
    }
    $("backtest-summary").replaceChildren(...summary);
    say("backtest-detail-error", run.state === "failed" || run.state === "missing" ? `This backtest did not finish: ${run.error || "no reason recorded"}` : "");
    $("backtest-stats").tBodies[0].replaceChildren(...statKeys(run.state === "succeeded" ? Object.keys(stats) : []).map((key) =>
      el("tr", {}, el("th", { scope: "row", text: statName(key) }), el("td", { text: formatNumber(stats[key]) }))));
    labelCells($("backtest-stats"));
    const ranked = run.ranked || [];
    show($("backtest-ranked"), ranked.length > 0);
    $("backtest-ranked-table").tBodies[0].replaceChildren(...ranked.slice(0, 10).map((entry, i) => el("tr", {},
      el("td", { text: String(i + 1) }),
      el("td", { text: paramsText(entry.params, run.strategy) }),
      el("td", { text: formatNumber((entry.stats || {}).trades) }),
      el("td", { text: formatNumber((entry.stats || {}).return_pct) }),
      el("td", { text: formatNumber((entry.stats || {}).sharpe) }))));
    labelCells($("backtest-ranked-table"));
    showEquity(run);
    if (focus) $("backtest-detail-title").focus();
  }

  async function showEquity(run) {
    const figure = $("backtest-figure");
    if (run.state !== "succeeded") { show(figure, false); return; }
    const stats = run.stats || {};
    const caption = `Equity (top) and drawdown of backtest ${short(run.id)}: from ${formatNumber(run.cash)} to ${formatNumber(stats.equity_final)}, max drawdown ${formatNumber(stats.max_drawdown_pct)} %.`;
    let url = page.images.get(run.id);
    if (!url) {
      try {
        url = URL.createObjectURL(await callBlob(`/api/v1/backtests/${run.id}/equity.png`));
        page.images.set(run.id, url);
      } catch (error) {
        if (page.shown === run.id) say("backtest-detail-error", `The equity chart could not be read: ${error.message}`);
        return;
      }
    }
    if (page.shown !== run.id) return;
    $("backtest-equity").src = url;
    $("backtest-equity").alt = caption;
    $("backtest-equity-caption").textContent = caption;
    show(figure, true);
  }

  // --- backtests: side by side ------------------------------------------------------------

  function onCompare() {
    say("compare-error", "");
    const runs = page.order.filter((id) => page.compare.has(id)).map((id) => page.runs.get(id)).filter((r) => r && r.state === "succeeded");
    if (runs.length < 2) {
      show($("backtest-compare"), false);
      say("compare-error", "Tick Compare on two or more finished backtests first.");
      return;
    }
    $("compare-table").tHead.replaceChildren(el("tr", {}, el("th", { scope: "col", text: "Statistic" }),
      ...runs.map((r) => el("th", { scope: "col", text: `${short(r.id)} ${r.strategy}` }))));
    const rows = [
      ["Parameters", runs.map((r) => paramsText(r.best_params || r.params, r.strategy))],
      ["Bars", runs.map((r) => formatNumber(r.bars))],
      ["Cash", runs.map((r) => formatNumber(r.cash))],
      ["Commission", runs.map((r) => formatNumber(r.commission))],
      ["Spread", runs.map((r) => formatNumber(r.spread ?? 0))],
      ["Margin", runs.map((r) => formatNumber(r.margin ?? 1))],
      ["Stop loss", runs.map((r) => (r.stop_loss == null ? "none" : formatNumber(r.stop_loss)))],
      ["Take profit", runs.map((r) => (r.take_profit == null ? "none" : formatNumber(r.take_profit)))],
      ["Finalize trades", runs.map((r) => (r.finalize_trades ? "yes" : "no"))],
    ].map(([name, cells]) => el("tr", {}, el("th", { scope: "row", text: name }), ...cells.map((text) => el("td", { text }))));
    const keys = statKeys(new Set(runs.flatMap((r) => Object.keys(r.stats || {}))));
    for (const key of keys) {
      const numbers = runs.map((r) => (r.stats || {})[key]).map((v) => (v === null || v === undefined ? NaN : Number(v)));
      const finite = numbers.filter(Number.isFinite);
      const best = HIGHER_IS_BETTER.has(key) && finite.length > 1 && new Set(finite).size > 1 ? Math.max(...finite) : null;
      rows.push(el("tr", {}, el("th", { scope: "row", text: statName(key) }), ...runs.map((r, i) => {
        const text = formatNumber((r.stats || {})[key]);
        return numbers[i] === best ? el("td", {}, el("strong", { text: `${text} (best)` })) : el("td", { text });
      })));
    }
    $("compare-table").tBodies[0].replaceChildren(...rows);
    labelCells($("compare-table"));
    show($("backtest-compare"), true);
    $("compare-title").focus();
  }

  // --- page life --------------------------------------------------------------------------

  function onSignedIn() {
    let ids = [];
    try { ids = JSON.parse(sessionStorage.getItem(RUNS_KEY) || "[]"); } catch (error) { ids = []; }
    page.order = ids.filter((id) => typeof id === "string");
    for (const id of page.order) if (!page.runs.has(id)) page.runs.set(id, { id, strategy: "", state: "queued" });
    renderRuns();
    poll();
  }

  function onSignedOut() {
    clearTimeout(page.poller);
    page.poller = null;
    for (const url of page.images.values()) URL.revokeObjectURL(url);
    page.session += 1;
    Object.assign(page, { runs: new Map(), order: [], compare: new Set(), shown: null, images: new Map() });
    renderRuns();
    show($("backtest-detail"), false);
    show($("backtest-compare"), false);
  }

  tf.on("signed-in", onSignedIn);
  tf.on("signed-out", onSignedOut);

  document.addEventListener("DOMContentLoaded", () => {
    $("backtest-form").addEventListener("submit", onBacktest);
    $("backtest-lookup-form").addEventListener("submit", onLookup);
    $("compare-button").addEventListener("click", onCompare);
    $("bt-strategy").addEventListener("change", () => showParams("bt"));
    showParams("bt");
    for (const radio of document.querySelectorAll("input[name=bars_source]")) {
      radio.addEventListener("change", () => {
        const store = document.querySelector("input[name=bars_source]:checked").value === "store";
        show($("bt-source-file"), !store);
        show($("bt-source-store"), store);
      });
    }
  });
})();
