// tradefleet dashboard, Market page: the latest quotes (live), the watchlist, a candlestick
// chart of a symbol's stored bars. Helpers come from common.js (the `tradefleet` namespace).
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, show, labelCells, call, fieldErrors, state } = tf;

  function upsertQuote(quote) {
    const known = state.quotes.get(quote.symbol);
    if (known && known.as_of > quote.as_of) return;
    state.quotes.set(quote.symbol, quote);
    renderQuotes();
  }

  function renderQuotes() {
    const symbols = [...state.quotes.keys()].sort();
    $("quotes-table").tBodies[0].replaceChildren(...symbols.map((symbol) => {
      const q = state.quotes.get(symbol);
      return el("tr", { "data-symbol": symbol },
        el("td", { text: symbol }),
        el("td", { text: q.price }),
        el("td", { text: tf.when(q.as_of) }),
        el("td", { text: q.source || "" }));
    }));
    labelCells($("quotes-table"));
  }

  async function loadWatchlist() {
    const typed = $("watchlist-symbols").value;
    try {
      const watchlist = await call("GET", "/api/v1/watchlist");
      // Read each time the page is shown: symbols typed (or saved) meanwhile are not undone.
      if ($("watchlist-symbols").value === typed) $("watchlist-symbols").value = watchlist.symbols.join(" ");
      $("watchlist-intervals").textContent = watchlist.intervals.join(", ") || "none";
    } catch (error) {
      $("watchlist-error").textContent = error.message;
    }
  }

  async function onWatchlist(event) {
    event.preventDefault();
    $("watchlist-error").textContent = "";
    $("watchlist-done").textContent = "";
    const symbols = $("watchlist-symbols").value.split(/[\s,]+/).filter(Boolean);
    try {
      const current = await call("GET", "/api/v1/watchlist");
      const saved = await call("PUT", "/api/v1/watchlist", { symbols, intervals: current.intervals });
      $("watchlist-symbols").value = saved.symbols.join(" ");
      $("watchlist-done").textContent = "Watchlist saved: beat pulls it from its next run.";
    } catch (error) {
      const errors = fieldErrors(error);
      $("watchlist-error").textContent = errors.symbols ? `Watchlist symbols: ${JSON.stringify(errors.symbols)}` : error.message;
    }
  }

  async function onChart(event) {
    event.preventDefault();
    $("chart-error").textContent = "";
    const symbol = $("chart-symbol").value.trim().toUpperCase();
    const interval = $("chart-interval").value;
    if (!symbol) { $("chart-error").textContent = "Chart symbol: enter a symbol."; return; }
    try {
      const bars = await call("GET", `/api/v1/market-data/${encodeURIComponent(symbol)}/bars?interval=${interval}&page_size=500`);
      if (!bars.length) {
        show($("chart-figure"), false);
        $("chart-error").textContent = `No ${interval} bars of ${symbol} stored for the last day.`;
        return;
      }
      drawCandles(bars);
      $("chart-caption").textContent = `${symbol} ${interval}: ${bars.length} bars from ${bars[0].start} to ${bars[bars.length - 1].start}; last close ${bars[bars.length - 1].close}.`;
      show($("chart-figure"), true);
    } catch (error) {
      show($("chart-figure"), false);
      $("chart-error").textContent = error.status === 503 ? `Market history is not available: ${error.message}` : error.message;
    }
  }

  function drawCandles(bars) {
    const NS = "http://www.w3.org/2000/svg";
    const width = 800, height = 300, pad = 4;
    const lows = bars.map((b) => Number(b.low)), highs = bars.map((b) => Number(b.high));
    const min = Math.min(...lows), max = Math.max(...highs);
    const y = (v) => pad + (height - 2 * pad) * (max === min ? 0.5 : (max - v) / (max - min));
    const step = (width - 2 * pad) / bars.length;
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `Candlestick chart, low ${min}, high ${max}`);
    bars.forEach((b, i) => {
      const [o, c] = [Number(b.open), Number(b.close)];
      const x = pad + i * step + step / 2;
      const colour = c >= o ? "#1f6f3a" : "#a3231b";
      const wick = document.createElementNS(NS, "line");
      for (const [k, v] of Object.entries({ x1: x, x2: x, y1: y(Number(b.high)), y2: y(Number(b.low)), stroke: colour })) wick.setAttribute(k, v);
      const body = document.createElementNS(NS, "rect");
      const top = y(Math.max(o, c));
      for (const [k, v] of Object.entries({ x: x - step * 0.35, y: top, width: Math.max(step * 0.7, 1), height: Math.max(y(Math.min(o, c)) - top, 1), fill: c >= o ? "#ffffff" : colour, stroke: colour })) body.setAttribute(k, v);
      const title = document.createElementNS(NS, "title");
      title.textContent = `${b.start}: open ${b.open}, high ${b.high}, low ${b.low}, close ${b.close}, volume ${b.volume}`;
      body.append(title);
      svg.append(wick, body);
    });
    $("chart").replaceChildren(svg);
  }

  tf.on("message", (message) => { if (message.type === "quote") upsertQuote(message.quote); });
  tf.on("page", (page) => { if (page === "market") loadWatchlist(); });

  document.addEventListener("DOMContentLoaded", () => {
    $("watchlist-form").addEventListener("submit", onWatchlist);
    $("chart-form").addEventListener("submit", onChart);
  });
})();
