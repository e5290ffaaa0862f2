// tradefleet dashboard, Strategies page: a group's risk rules (the kill switch as one button),
// its strategy subscriptions and the signals; the page's backtests have backtests.js.
// The forms' parameter fields are rendered by the server from the strategy registry;
// helpers come from common.js (the `tradefleet` namespace).
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, show, labelCells, statusText, call, fieldErrors, formatNumber, when } = tf;
  const { short, words, number, say, placeErrors, clearErrors, paramInputs, showParams, placeParamErrors, paramsText } = tf;
  const page = {
    visible: false,
    group: null,
    rules: null, // the selected group's risk rules as last read
    eventsTimer: null,
  };
  // Each list is read again on many occasions (the page shown, a group chosen, a live event, a
  // button): only the latest read's answer is drawn, a slower earlier one is dropped.
  // The risk rules have two: the kill switch (also saved by its button, "risk") and the form
  // (also filled by Save).
  const reads = {
    risk: tf.latestOnly(), form: tf.latestOnly(), events: tf.latestOnly(), subscriptions: tf.latestOnly(), signals: tf.latestOnly(),
  };

  // --- the group --------------------------------------------------------------------------

  function renderGroupSelect(groups) {
    const select = $("strategies-group");
    const current = page.group;
    tf.fillGroupSelect("strategies-group", groups);
    const none = groups.length === 0;
    show($("strategies-no-group"), none);
    for (const id of ["risk-section", "subscriptions-section"]) show($(id), !none);
    page.group = groups.includes(current) ? current : (groups[0] || null);
    if (page.group) select.value = page.group;
    if (page.group !== current && page.visible) loadGroup();
  }

  function loadGroup() {
    if (!page.group) return;
    loadRisk();
    loadRiskEvents();
    loadSubscriptions();
    loadSignals();
  }

  // --- risk rules and the kill switch ------------------------------------------------------

  const RULE_FIELDS = ["allowed_symbols", "blocked_symbols", "max_quantity", "max_notional",
    "max_orders_per_day", "max_daily_loss", "trading_hours"];

  async function loadRisk() {
    const group = page.group;
    const latest = reads.risk();
    const formLatest = reads.form();
    say("kill-error", "");
    try {
      const rules = await call("GET", `/api/v1/groups/${group}/risk`);
      if (group !== page.group) return;
      // Rules saved meanwhile are newer than this answer: the kill switch's button keeps the
      // other rules, so the form may still take them; Save fills the form itself.
      if (latest()) {
        page.rules = rules;
        renderKill();
      }
      if (formLatest()) fillRiskForm(rules);
    } catch (error) {
      if (group !== page.group || !latest()) return;
      $("kill-switch").replaceChildren();
      say("kill-error", `Risk rules of ${group}: ${error.message}`);
    }
  }

  function renderKill() {
    $("kill-switch").replaceChildren(tf.killSwitchLine(page.group, page.rules, (message) => say("kill-error", message)));
  }

  function fillRiskForm(rules) {
    clearErrors($("risk-form"));
    for (const name of RULE_FIELDS) {
      const value = rules[name];
      $(`risk-${name}`).value = Array.isArray(value) ? value.join(" ") : (value === null || value === undefined ? "" : value);
    }
  }

  function readRiskForm() {
    const rules = {};
    for (const name of RULE_FIELDS) {
      const text = $(`risk-${name}`).value.trim();
      if (name.endsWith("_symbols")) rules[name] = words(text);
      else if (name === "trading_hours") rules[name] = text || "always";
      else if (name === "max_orders_per_day") rules[name] = text === "" ? null : (/^\d+$/.test(text) ? Number(text) : text);
      else rules[name] = text === "" ? null : text;
    }
    return rules;
  }

  async function onSaveRisk(event) {
    event.preventDefault();
    const group = page.group;
    clearErrors($("risk-form"));
    say("risk-error", "");
    say("risk-done", "");
    try {
      // The kill switch keeps its state as the server has it now (it has its own button).
      const current = await call("GET", `/api/v1/groups/${group}/risk`);
      const saved = await call("PUT", `/api/v1/groups/${group}/risk`, Object.assign(readRiskForm(), { kill_switch: current.kill_switch }));
      tf.emit("risk", group, saved);
      reads.form(); // a read under way is older than what was saved
      fillRiskForm(saved);
      say("risk-done", `Risk rules of ${group} saved: they apply to every order from now on.`);
    } catch (error) {
      const placed = placeErrors(fieldErrors(error), (field) => (RULE_FIELDS.includes(field) ? `risk-${field}` : null));
      say("risk-error", placed ? `The rules were not saved: ${error.message.replace(/^invalid input: .*/, "see the fields above")}.`
        : `The rules were not saved: ${error.message}`);
    }
  }

  async function loadRiskEvents() {
    const group = page.group;
    const latest = reads.events();
    say("risk-events-error", "");
    try {
      const events = await call("GET", `/api/v1/groups/${group}/risk/events`);
      if (group !== page.group || !latest()) return;
      $("risk-events").tBodies[0].replaceChildren(...events.slice(0, 50).map((e) => el("tr", {},
        el("td", { text: when(e.at) }),
        el("td", { text: e.rule }),
        el("td", { text: e.limit }),
        el("td", { text: e.value }),
        el("td", { text: e.where === "api" ? "when submitted" : "before placing" }),
        el("td", { text: e.message }))));
      labelCells($("risk-events"));
      show($("risk-events-none"), events.length === 0);
    } catch (error) {
      if (group === page.group && latest()) say("risk-events-error", `Refused orders of ${group}: ${error.message}`);
    }
  }

  // --- strategy subscriptions -------------------------------------------------------------

  async function loadSubscriptions() {
    const group = page.group;
    const latest = reads.subscriptions();
    say("subscriptions-error", "");
    try {
      const subscriptions = await call("GET", `/api/v1/groups/${group}/strategies`);
      if (group !== page.group || !latest()) return;
      $("subscriptions-table").tBodies[0].replaceChildren(...subscriptions.map((s) => el("tr", { "data-subscription": s.id },
        el("td", { text: s.strategy }),
        el("td", { text: paramsText(s.params, s.strategy) }),
        el("td", { text: s.symbols.join(" ") }),
        el("td", { text: s.interval }),
        el("td", { text: s.auto_trade ? `auto trade: ${s.quantity} per account${s.dry_run ? " (dry run)" : " (live)"}` : "signals only" }),
        el("td", { text: when(s.created_at) }),
        el("td", {}, el("button", { type: "button", text: `Delete ${s.strategy} ${s.id}`, onclick: () => unsubscribe(group, s) })))));
      labelCells($("subscriptions-table"));
      show($("subscriptions-none"), subscriptions.length === 0);
    } catch (error) {
      if (group === page.group && latest()) say("subscriptions-error", `Subscriptions of ${group}: ${error.message}`);
    }
  }

  async function onSubscribe(event) {
    event.preventDefault();
    const group = page.group;
    clearErrors($("subscription-form"));
    say("sub-error", "");
    say("sub-done", "");
    const { strategy, inputs } = paramInputs("sub");
    const params = {};
    for (const input of inputs) {
      const text = input.value.trim();
      if (text === "") continue; // its default
      params[input.name] = input.dataset.kind === "bool" ? text === "true" : number(text);
    }
    const symbols = words($("sub-symbols").value);
    if (!symbols.length) { say("sub-symbols-error", "Symbols: enter at least one symbol."); return; }
    const body = {
      strategy, params, symbols,
      interval: $("sub-interval").value,
      auto_trade: $("sub-auto_trade").checked,
      quantity: $("sub-quantity").value.trim() || null,
      dry_run: $("sub-dry_run").checked,
    };
    try {
      const made = await call("POST", `/api/v1/groups/${group}/strategies`, body);
      say("sub-done", `${group} follows ${made.strategy} on ${made.symbols.join(" ")} (${made.interval}), subscription ${made.id}.`);
      loadSubscriptions();
    } catch (error) {
      const errors = fieldErrors(error);
      const placed = placeParamErrors("sub", errors);
      say("sub-error", placed ? "Not subscribed: see the fields above." : `Not subscribed: ${error.message}`);
    }
  }

  async function unsubscribe(group, subscription) {
    say("subscriptions-error", "");
    try {
      await call("DELETE", `/api/v1/groups/${group}/strategies/${subscription.id}`);
    } catch (error) {
      say("subscriptions-error", `Deleting ${subscription.strategy} ${subscription.id}: ${error.message}`);
    }
    loadSubscriptions();
  }

  // --- signals ----------------------------------------------------------------------------

  async function loadSignals() {
    say("signals-error", "");
    const all = $("signals-scope").value === "all";
    if (!all && !page.group) return;
    const latest = reads.signals(); // another group's or scope's answer, or an older one, is dropped
    try {
      const signals = await call("GET", `/api/v1/signals?limit=50${all ? "" : `&group=${encodeURIComponent(page.group)}`}`);
      if (!latest()) return;
      $("signals-table").tBodies[0].replaceChildren(...signals.map((s) => el("tr", {},
        el("td", { text: `${when(s.bar)} (${s.interval})` }),
        el("td", { text: s.group }),
        el("td", { text: s.strategy }),
        el("td", { text: s.symbol }),
        el("td", { text: formatNumber(s.close) }),
        el("td", {}, el("strong", { text: s.action })),
        el("td", {}, s.outcome ? statusText(s.outcome) : "", s.job_id ? ` job ${short(s.job_id)}` : ""),
        el("td", { text: s.detail || (s.risk && s.risk.rule ? `refused by ${s.risk.rule} (limit ${s.risk.limit}, value ${s.risk.value})` : "") }))));
      labelCells($("signals-table"));
      show($("signals-none"), signals.length === 0);
    } catch (error) {
      if (latest()) say("signals-error", `Signals: ${error.message}`);
    }
  }

  tf.on("signed-out", () => { page.rules = null; });
  tf.on("groups", renderGroupSelect);
  tf.on("page", (name) => {
    page.visible = name === "strategies";
    if (page.visible) loadGroup();
  });
  tf.on("risk", (group, rules) => {
    if (group !== page.group) return;
    reads.risk(); // these rules were just saved: a read under way may be older
    page.rules = rules;
    renderKill();
    loadRiskEvents();
  });
  tf.on("message", (message) => {
    if (message.type === "signal") {
      // A signal recorded, or its order submitted or refused: read the list again.
      const all = $("signals-scope").value === "all";
      if (!page.visible || !message.signal || (!all && message.signal.group !== page.group)) return;
      clearTimeout(page.signalsTimer);
      page.signalsTimer = setTimeout(loadSignals, 200);
      return;
    }
    // A finished order of the group may have been refused before placing: read the refusals.
    if (!page.visible || message.type !== "job" || !message.job || message.job.group !== page.group) return;
    if (!tf.TERMINAL.includes(message.job.state)) return;
    clearTimeout(page.eventsTimer);
    page.eventsTimer = setTimeout(loadRiskEvents, 200);
  });

  document.addEventListener("DOMContentLoaded", () => {
    $("strategies-group").addEventListener("change", () => { page.group = $("strategies-group").value; loadGroup(); });
    $("risk-form").addEventListener("submit", onSaveRisk);
    $("risk-events-refresh").addEventListener("click", loadRiskEvents);
    $("subscription-form").addEventListener("submit", onSubscribe);
    $("signals-refresh").addEventListener("click", loadSignals);
    $("signals-scope").addEventListener("change", loadSignals);
    $("sub-strategy").addEventListener("change", () => showParams("sub"));
    showParams("sub");
  });
})();
