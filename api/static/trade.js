// tradefleet dashboard, Trade page: the order form (a group, its brokerages and accounts), the
// confirmation a live order needs, and the placed order's results as they come. Helpers come
// from common.js (the `tradefleet` namespace), the jobs from jobs.js (`tradefleet.jobs`);
// `tradefleet.trade` lets schedules.js send an order "At a time" instead of now.
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, show, labelCells, statusText, call, fieldErrors, state } = tf;
  let orderJob = null; // id of the order placed here
  let pendingOrder = null; // how to send a live order, until it is confirmed or cancelled
  // schedules.js decides whether an order is for later: null (place it now), false (it cannot
  // be sent: it said why) or how to send and confirm it.
  let later = () => null;
  const FIELD_NAMES = {
    action: "Action", symbols: "Symbols", quantity: "Quantity", order_type: "Order type",
    limit_price: "Limit price", brokerages: "Brokerages", accounts: "Accounts", dry_run: "Dry run",
  };

  function activeAccounts(group) {
    return Object.values(state.accounts[group] || {}).filter((a) => a.state === "active");
  }

  function renderOrderTargets() {
    const group = $("order-group").value;
    const accounts = activeAccounts(group);
    const brokerages = [...new Set(accounts.map((a) => a.brokerage))].sort();
    const keep = (name) => new Set([...document.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value));
    const ticked = { b: keep("brokerage"), a: keep("account") };
    $("order-brokerages").replaceChildren(el("legend", { text: "Brokerages (none ticked: all)" }),
      ...brokerages.map((b) => el("label", { class: "inline" }, el("input", { type: "checkbox", name: "brokerage", value: b, checked: ticked.b.has(b) }), ` ${b}`)));
    $("order-accounts").replaceChildren(el("legend", { text: "Accounts (none ticked: all active)" }),
      ...(accounts.length ? accounts.map((a) => el("label", { class: "inline" }, el("input", { type: "checkbox", name: "account", value: a.name, checked: ticked.a.has(a.name) }), ` ${a.name} (${a.brokerage})`)) : [el("p", { text: "No active accounts in this group." })]));
  }

  function readOrder() {
    const form = $("order-form");
    const ticked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
    const orderType = form.querySelector("input[name=order_type]:checked").value;
    const order = {
      action: $("order-action").value,
      symbols: $("order-symbols").value.split(/[\s,]+/).filter(Boolean),
      quantity: $("order-quantity").value.trim(),
      order_type: orderType,
      dry_run: $("order-dry-run").checked,
      brokerages: ticked("brokerage"),
      accounts: ticked("account"),
    };
    if (orderType === "limit") order.limit_price = $("order-limit").value.trim();
    return { group: $("order-group").value, order };
  }

  function targetAccounts(group, order) {
    return activeAccounts(group).filter((a) =>
      (!order.accounts.length || order.accounts.includes(a.name)) &&
      (!order.brokerages.length || order.brokerages.includes(a.brokerage)));
  }

  /** The server's refusal under the form, each field named as its label (or `names`) reads. */
  function showRefusal(error, names) {
    const labels = Object.assign({}, FIELD_NAMES, names);
    const details = Object.entries(fieldErrors(error)).map(([field, messages]) => `${labels[field] || field}: ${tf.messagesOf(messages)}`);
    $("order-error").textContent = [error.message, ...details].join(" — ");
  }

  const orders = tf.latestOnly(); // the result shown is the last order's, whichever answer comes first

  async function submitOrder(group, order) {
    $("order-error").textContent = "";
    const latest = orders();
    try {
      const answer = await call("POST", `/api/v1/groups/${group}/transactions`, order);
      if (!latest()) return;
      orderJob = answer.job_id;
      show($("order-result"), true);
      const known = state.jobs.get(answer.job_id);
      renderOrderResult(known || { id: answer.job_id, state: answer.state, results: [] });
      // Recorded unless the stream told of a newer state meanwhile ("job" then redraws it).
      tf.jobs.fetch(answer.job_id).catch(() => {});
    } catch (error) {
      if (latest()) showRefusal(error);
    }
  }

  function renderOrderResult(job) {
    $("order-result-state").replaceChildren(`Job ${job.id}: `, statusText(job.state));
    $("order-results").tBodies[0].replaceChildren(...tf.jobs.resultRows(job, false));
    labelCells($("order-results"));
  }

  function onOrder(event) {
    event.preventDefault();
    $("order-error").textContent = "";
    const { group, order } = readOrder();
    if (!group) { $("order-error").textContent = "Create a group first (Accounts page)."; return; }
    if (!order.symbols.length) { $("order-error").textContent = "Symbols: enter at least one symbol."; return; }
    if (!order.quantity) { $("order-error").textContent = "Quantity: enter a number (or all, to sell everything)."; return; }
    const plan = later(group, order);
    if (plan === false) return;
    const send = plan ? plan.send : () => submitOrder(group, order);
    if (order.dry_run) { send(); return; }
    const accounts = targetAccounts(group, order);
    pendingOrder = send;
    const each = `${order.action} ${order.quantity} of ${order.symbols.join(", ")}`;
    const price = order.order_type === "limit" ? ` at a limit of ${order.limit_price}` : " at market";
    const total = Number(order.quantity) * accounts.length * order.symbols.length;
    // The total value: at the limit price, or at the latest quotes the page has seen.
    const prices = order.symbols.map((symbol) => Number(order.order_type === "limit"
      ? order.limit_price : (state.quotes.get(symbol.toUpperCase()) || {}).price));
    const value = prices.reduce((sum, p) => sum + p * Number(order.quantity) * accounts.length, 0);
    const worth = Number.isFinite(value) && value > 0
      ? ` (about ${value.toFixed(2)} ${order.order_type === "limit" ? "at the limit price" : "at the latest quotes"})` : "";
    $("order-confirm-text").textContent = plan ? plan.confirmText(`${each}${price}`, group, accounts) :
      `This is a live order: ${each}${price} on each of ${accounts.length} account(s) of group ${group}` +
      (Number.isFinite(total) ? `, ${total} shares in total${worth}.` : ".");
    $("order-confirm-yes").textContent = plan ? "Confirm scheduled order" : "Confirm live order";
    $("order-confirm-accounts").replaceChildren(...accounts.map((a) => el("li", { text: `${a.name} (${a.brokerage})` })));
    show($("order-confirm"), true);
    $("order-confirm-yes").focus();
  }

  const groupChosen = () => tf.emit("trade-group", $("order-group").value);

  tf.trade = {
    showRefusal,
    /** Open the Trade page with an order filled in (the Fleet page's "Sell all"): the person
     *  still reads it, keeps or clears Dry run, and places it. */
    prefill({ group, action, symbols, quantity }) {
      $("order-group").value = group;
      $("order-group").dispatchEvent(new Event("change"));
      $("order-action").value = action;
      $("order-symbols").value = symbols.join(" ");
      $("order-quantity").value = quantity;
      const market = document.querySelector("input[name=order_type][value=market]");
      market.checked = true;
      market.dispatchEvent(new Event("change"));
      $("order-error").textContent = "";
      location.hash = "#trade";
      $("order-quantity").focus();
    },
    /** `decide(group, order)` says whether and how an order is sent later (see `later`). */
    sendLater(decide) { later = decide; },
  };

  tf.on("groups", (groups) => { tf.fillGroupSelect("order-group", groups); groupChosen(); });
  tf.on("group-created", (group) => { $("order-group").value = group; groupChosen(); });
  tf.on("accounts", () => renderOrderTargets());
  tf.on("job", (job) => { if (orderJob === job.id) renderOrderResult(job); });

  document.addEventListener("DOMContentLoaded", () => {
    $("order-form").addEventListener("submit", onOrder);
    $("order-group").addEventListener("change", () => { renderOrderTargets(); groupChosen(); });
    for (const radio of document.querySelectorAll("input[name=order_type]")) {
      radio.addEventListener("change", () => {
        const limit = document.querySelector("input[name=order_type]:checked").value === "limit";
        show($("order-limit"), limit);
        show($("order-limit-label"), limit);
      });
    }
    $("order-confirm-yes").addEventListener("click", () => {
      show($("order-confirm"), false);
      const send = pendingOrder;
      pendingOrder = null;
      if (send) send();
    });
    $("order-confirm-no").addEventListener("click", () => {
      show($("order-confirm"), false);
      pendingOrder = null;
      $("order-error").textContent = "Live order cancelled: nothing was sent or scheduled.";
    });
  });
})();
