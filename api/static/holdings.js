// tradefleet dashboard, Fleet page, holdings across the fleet: the total of each symbol (from
// GET /api/v1/holdings, summed by the server in decimals: a float sum in the page would show
// 0.30000000000000004 shares), and "who holds" a symbol: every holder with where its figure
// comes from and how old it is, and the active accounts that hold none (the accounts a
// sell-all skips, or a buy still has to reach), with a "Sell all" per group that opens the
// Trade page with that order filled in. Helpers come from common.js.
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, show, labelCells, call } = tf;
  let drawing = 0;
  const lookups = tf.latestOnly(); // who holds: only the last symbol asked for is shown

  const money = (value) => (value === null || value === undefined ? "unknown" : value);
  const SOURCES = {
    ledger: () => "live, from the paper ledger",
    last_read: (h) => `last holdings read, ${tf.when(h.as_of)} UTC`,
    none: () => "never read: refresh the group's holdings",
  };
  const age = (holder) => (SOURCES[holder.source] || (() => holder.source))(holder);

  async function refreshTotals() {
    const mine = ++drawing; // only the newest answer is drawn
    try {
      const symbols = await call("GET", "/api/v1/holdings");
      if (mine !== drawing) return;
      $("fleet-totals").tBodies[0].replaceChildren(...symbols.map((s) => el("tr", {},
        el("td", { text: s.symbol }),
        el("td", { text: s.quantity }),
        el("td", { text: money(s.value) }),
        el("td", { text: String(s.holders.length) }))));
      labelCells($("fleet-totals"));
      show($("fleet-totals-none"), symbols.length === 0);
      $("fleet-totals-error").textContent = "";
    } catch (error) {
      $("fleet-totals-error").textContent = `Fleet totals: ${error.message}`;
    }
  }

  async function showHolders(event) {
    event.preventDefault();
    const symbol = $("holders-symbol").value.trim().toUpperCase();
    const latest = lookups(); // an earlier, slower answer must not replace this one's
    $("holders-error").textContent = "";
    show($("holders-result"), false); // an earlier symbol's answer must not pass for this one
    if (!symbol) { $("holders-error").textContent = "Who holds: enter a symbol, e.g. AAPL."; return; }
    try {
      const [found] = await call("GET", `/api/v1/holdings?symbol=${encodeURIComponent(symbol)}`);
      if (!latest()) return;
      const holders = found ? found.holders : [];
      const idle = found ? found.not_holding || [] : [];
      $("holders-summary").textContent = holders.length
        ? `${symbol}: ${found.quantity} held on ${holders.length} account${holders.length === 1 ? "" : "s"}, worth ${money(found.value)}.`
        : `No account holds ${symbol}.`;
      $("holders-table").tBodies[0].replaceChildren(...holders.map((h) => el("tr", {},
        el("td", { text: h.group }),
        el("td", { text: h.account }),
        el("td", { text: h.brokerage }),
        el("td", { text: h.quantity }),
        el("td", { text: money(h.price) }),
        el("td", { text: money(h.value) }),
        el("td", { text: age(h) }))));
      labelCells($("holders-table"));
      show($("holders-table"), holders.length > 0);
      const groups = [...new Set(holders.map((h) => h.group))].sort();
      $("holders-actions").replaceChildren(...groups.map((group) => el("button", {
        type: "button",
        text: `Sell all ${symbol} in ${group}`,
        onclick: () => tf.trade.prefill({ group, action: "sell", symbols: [symbol], quantity: "all" }),
      })));
      $("holders-idle").textContent = idle.length
        ? `Active accounts holding no ${symbol}: ${idle.map((a) => `${a.account} (${a.brokerage}, group ${a.group})`).join(", ")}.`
        : `Every active account holds ${symbol}.`;
      show($("holders-result"), true);
    } catch (error) {
      if (!latest()) return;
      const errors = tf.fieldErrors(error);
      $("holders-error").textContent = errors.symbol ? `Who holds: ${[].concat(errors.symbol).join(" ")}` : error.message;
    }
  }

  tf.holdings = { refresh: refreshTotals };

  tf.on("signed-out", () => {
    drawing++;
    lookups();
    $("fleet-totals").tBodies[0].replaceChildren();
    show($("holders-result"), false);
    $("holders-symbol").value = "";
  });

  document.addEventListener("DOMContentLoaded", () => {
    $("holders-form").addEventListener("submit", showHolders);
  });
})();
