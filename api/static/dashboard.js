// tradefleet dashboard: plain JavaScript, no dependencies, served by the app.
// The API key lives in sessionStorage only (this tab); every call sends it as a bearer token.
"use strict";

(function () {
  const KEY = "tradefleet.api_key";
  const TERMINAL = ["succeeded", "partial", "failed", "unknown", "cancelled"];
  const state = {
    key: null,
    groups: [], // names
    accounts: {}, // group -> {name -> account}
    brokerages: [], // from GET /api/v1/brokerages
    jobs: new Map(), // id -> job
    openJob: null, // id shown in the job detail
    orderJob: null, // id of the order placed on the Trade page
    ws: null,
    retryDelay: 1000,
    pendingOrder: null,
    quotes: new Map(), // symbol -> quote
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) node.append(child);
    return node;
  };
  const show = (node, visible) => { node.hidden = !visible; };

  // On a phone the table header is hidden: each cell then shows its column's name.
  function labelCells(root) {
    for (const table of root.querySelectorAll ? [root, ...root.querySelectorAll("table")] : []) {
      if (table.tagName !== "TABLE" || !table.tHead) continue;
      const names = [...table.tHead.rows[0].cells].map((cell) => cell.textContent);
      for (const row of table.tBodies[0] ? table.tBodies[0].rows : []) {
        [...row.cells].forEach((cell, i) => cell.setAttribute("data-label", names[i] || ""));
      }
    }
  }

  // --- REST -------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super(describeError(status, body));
      this.status = status;
      this.body = body || {};
    }
  }

  function describeError(status, body) {
    if (status === 0) return "The tradefleet server is not answering. Check that it runs, then try again.";
    if (status === 401) return "That API key is unknown or revoked.";
    if (status === 503) return (body && body.message) || "A service the server needs (Redis or the broker) is down; try again shortly.";
    return (body && body.message) || `The server answered ${status}.`;
  }

  async function call(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: Object.assign(
          { Authorization: `Bearer ${state.key}` },
          body === undefined ? {} : { "Content-Type": "application/json" }
        ),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, null);
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch (error) { data = { message: text }; }
    }
    if (!response.ok) {
      if (response.status === 401 && state.key) signOut("Your API key was refused: sign in again.");
      throw new ApiError(response.status, data);
    }
    return data;
  }

  function fieldErrors(error) {
    const errors = (error.body && error.body.errors) || {};
    return errors.json || errors;
  }

  function pageError(message) {
    $("page-error").textContent = message || "";
    show($("page-error"), Boolean(message));
  }

  // --- sign in / out ----------------------------------------------------------------------

  async function signIn(key) {
    state.key = key;
    try {
      await call("GET", "/api/v1/groups");
    } catch (error) {
      state.key = null;
      throw error;
    }
    sessionStorage.setItem(KEY, key);
    show($("signin"), false);
    show($("nav"), true);
    show($("sign-out"), true);
    show($("stream-status"), true);
    connect();
    await loadAll();
    route();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    state.key = null;
    if (state.ws) {
      state.ws.onclose = null;
      state.ws.close();
      state.ws = null;
    }
    for (const page of document.querySelectorAll(".page")) show(page, false);
    show($("nav"), false);
    show($("sign-out"), false);
    show($("stream-status"), false);
    pageError("");
    show($("signin"), true);
    $("api-key").value = "";
    $("signin-error").textContent = message || "";
    $("api-key").focus();
  }

  // --- WebSocket --------------------------------------------------------------------------

  function streamStatus(text, ok) {
    const node = $("stream-status");
    node.textContent = `Live updates: ${text}`;
    node.className = ok ? "ok" : "error";
  }

  function connect() {
    if (!state.key) return;
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
    const ws = new WebSocket(url);
    state.ws = ws;
    streamStatus("connecting", false);
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", key: state.key }));
    ws.onmessage = (event) => onMessage(JSON.parse(event.data));
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (event.code === 4401) {
        signOut("Your API key was refused by the live stream: sign in again.");
        return;
      }
      const seconds = Math.round(state.retryDelay / 1000);
      streamStatus(`lost, reconnecting in ${seconds} s`, false);
      setTimeout(connect, state.retryDelay);
      state.retryDelay = Math.min(state.retryDelay * 2, 10000);
    };
  }

  function onMessage(message) {
    switch (message.type) {
      case "ready":
        state.retryDelay = 1000;
        state.ws.send(JSON.stringify({ type: "subscribe", groups: ["*"], quotes: ["*"] }));
        break;
      case "subscribed":
        streamStatus("connected", true);
        loadJobs();
        break;
      case "job":
        upsertJob(message.job);
        break;
      case "account":
        upsertAccount(message.group, message.account);
        break;
      case "quote":
        upsertQuote(message.quote);
        break;
      case "error":
        streamStatus(message.message, false);
        break;
      default:
        break;
    }
  }

  // --- data -------------------------------------------------------------------------------

  async function loadAll() {
    pageError("");
    try {
      const [groups, brokerages] = await Promise.all([
        call("GET", "/api/v1/groups?page_size=100"),
        call("GET", "/api/v1/brokerages"),
      ]);
      state.groups = groups.map((g) => g.name).sort();
      state.brokerages = brokerages;
      const lists = await Promise.all(state.groups.map((g) => call("GET", `/api/v1/groups/${g}/accounts`)));
      state.accounts = {};
      state.groups.forEach((g, i) => {
        state.accounts[g] = {};
        for (const account of lists[i]) state.accounts[g][account.name] = account;
      });
    } catch (error) {
      pageError(error.message);
      return;
    }
    renderGroupSelects();
    renderBrokerageSelect();
    renderAccounts();
    renderOrderTargets();
    await Promise.all([renderFleet(), loadJobs()]);
  }

  async function loadJobs() {
    try {
      const lists = await Promise.all(state.groups.map((g) => call("GET", `/api/v1/groups/${g}/jobs?page_size=20`)));
      for (const list of lists) for (const job of list) upsertJob(job, false);
    } catch (error) {
      pageError(error.message);
    }
    renderJobs();
  }

  const rank = (job) => (job.state === "queued" ? 0 : job.state === "running" ? 1 : 2);

  function upsertJob(job, render = true) {
    const known = state.jobs.get(job.id);
    if (known && rank(known) > rank(job)) return; // never back to an earlier state
    if (known && !job.results) job = Object.assign({}, known, job);
    if (TERMINAL.includes(job.state)) job.waiting = [];
    state.jobs.set(job.id, job);
    if (!render) return;
    renderJobs();
    renderWaitingBanner();
    if (state.openJob === job.id) renderJobDetail(job);
    if (state.orderJob === job.id) renderOrderResult(job);
  }

  function upsertAccount(group, account) {
    if (!state.accounts[group]) {
      state.accounts[group] = {};
      if (!state.groups.includes(group)) {
        state.groups.push(group);
        state.groups.sort();
        renderGroupSelects();
      }
    }
    state.accounts[group][account.name] = account;
    renderAccounts();
    renderOrderTargets();
    scheduleFleet();
  }

  // --- Fleet ------------------------------------------------------------------------------

  let fleetTimer = null;
  function scheduleFleet() { // many events come in bursts: draw the fleet once per burst
    clearTimeout(fleetTimer);
    fleetTimer = setTimeout(renderFleet, 100);
  }

  async function renderFleet() {
    const box = $("fleet-groups");
    const totals = {};
    const sections = [];
    const groups = [...state.groups];
    const read = (group) => Promise.all([
      call("GET", `/api/v1/groups/${group}/positions`),
      call("GET", `/api/v1/groups/${group}/risk`),
    ]).catch(() => [null, null]);
    const answers = await Promise.all(groups.map(read)); // every group at once
    for (const [index, group] of groups.entries()) {
      const [positions, risk] = answers[index];
      const held = {};
      for (const entry of positions || []) held[entry.account] = entry;
      const rows = Object.values(state.accounts[group] || {}).map((account) => {
        const entry = held[account.name];
        const list = entry ? entry.positions.map((p) => `${p.symbol} ${p.quantity}`).join(", ") : "";
        for (const p of (entry && entry.positions) || []) {
          totals[p.symbol] = (totals[p.symbol] || 0) + Number(p.quantity);
        }
        return el("tr", {},
          el("td", { text: account.name }),
          el("td", { text: account.brokerage }),
          el("td", {}, statusText(account.state)),
          el("td", { text: account.last_error || "" }),
          el("td", { text: (entry && entry.cash ? `cash ${entry.cash}; ` : "") + (list || "none") }));
      });
      const killed = Boolean(risk && risk.kill_switch);
      sections.push(el("section", { class: "group" },
        el("h3", { text: `Group ${group}` }),
        risk ? el("p", { class: killed ? "error" : "" },
          el("strong", { text: `Kill switch: ${killed ? "on" : "off"}` }),
          killed ? " — every new order of this group is refused. " : " — orders are accepted within the risk rules. ",
          el("button", { type: "button", class: killed ? "" : "danger", text: `Turn kill switch ${killed ? "off" : "on"} for ${group}`, onclick: () => toggleKill(group, risk) })) : "",
        positions === null ? el("p", { class: "error", text: "Holdings could not be read." }) : "",
        rows.length
          ? el("table", {},
            el("thead", {}, el("tr", {}, ...["Account", "Brokerage", "State", "Last error", "Holdings"].map((h) => el("th", { scope: "col", text: h })))),
            el("tbody", {}, ...rows))
          : el("p", { text: "No accounts yet." })));
    }
    box.replaceChildren(...(sections.length ? sections : [el("p", { text: "No groups yet: create one on the Accounts page." })]));
    labelCells(box);
    $("fleet-totals").tBodies[0].replaceChildren(...Object.keys(totals).sort().map((symbol) =>
      el("tr", {}, el("td", { text: symbol }), el("td", { text: String(totals[symbol]) }))));
    labelCells($("fleet-totals"));
  }

  async function toggleKill(group, risk) {
    pageError("");
    try {
      await call("PUT", `/api/v1/groups/${group}/risk`, Object.assign({}, risk, { kill_switch: !risk.kill_switch }));
    } catch (error) {
      pageError(`Kill switch of ${group}: ${error.message}`);
    }
    scheduleFleet();
  }

  function statusText(status) {
    return el("span", { class: `status status-${status}`, text: status });
  }

  // --- Jobs -------------------------------------------------------------------------------

  function describeJob(job) {
    if (job.kind === "transaction" && job.order) {
      const o = job.order;
      return `${o.action} ${o.quantity} ${o.symbols.join(" ")} ${o.order_type}${o.dry_run ? " (dry run)" : " (live)"}`;
    }
    return job.account ? `${job.kind} ${job.account}` : job.kind;
  }

  function renderJobs() {
    const jobs = [...state.jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 100);
    $("jobs-table").tBodies[0].replaceChildren(...jobs.map((job) => el("tr", { "data-job": job.id },
      el("td", { text: (job.created_at || "").replace("T", " ").slice(0, 19) }),
      el("td", { text: job.group }),
      el("td", { text: job.kind }),
      el("td", { text: describeJob(job) }),
      el("td", {}, statusText(job.state), (job.waiting || []).length ? " waiting for you" : ""),
      el("td", {}, el("button", { type: "button", text: `Open ${job.id.slice(0, 8)}`, onclick: () => openJob(job.id) })))));
    labelCells($("jobs-table"));
  }

  async function openJob(id) {
    state.openJob = id;
    show($("job-detail"), true);
    $("job-error").textContent = "";
    $("job-checked").checked = false;
    try {
      const job = await call("GET", `/api/v1/jobs/${id}`);
      upsertJob(job, false);
      renderJobDetail(job);
    } catch (error) {
      $("job-error").textContent = error.message;
    }
    $("job-detail-title").focus();
  }

  function resultRows(job, withBrokerage) {
    return (job.results || []).map((r) => el("tr", {},
      el("td", { text: r.account }),
      withBrokerage ? el("td", { text: r.brokerage }) : "",
      el("td", { text: r.symbol || "" }),
      el("td", {}, statusText(r.status)),
      el("td", { text: r.status === "unknown" ? `Check ${r.brokerage} for account ${r.account}: it may have been placed. ${r.detail || ""}` : (r.detail || "") })));
  }

  function renderJobDetail(job) {
    $("job-detail-title").textContent = `Job ${job.id}`;
    $("job-detail-title").setAttribute("tabindex", "-1");
    $("job-summary").replaceChildren(`${job.group}: ${describeJob(job)} — state `, statusText(job.state), job.error ? ` — ${job.error}` : "");
    $("job-results").tBodies[0].replaceChildren(...resultRows(job, true));
    labelCells($("job-results"));
    const finished = TERMINAL.includes(job.state) && job.kind === "transaction";
    const statuses = (job.results || []).map((r) => r.status);
    show($("job-unknown"), finished && statuses.includes("unknown"));
    $("job-retry-unknown").disabled = !$("job-checked").checked;
    show($("job-retry-failed"), finished && statuses.includes("failed"));
    renderWaiting(job);
  }

  // --- two-factor codes: a login waiting for the person -----------------------------------

  function renderWaitingBanner() {
    const waiting = [...state.jobs.values()].filter((job) => (job.waiting || []).length);
    show($("waiting-banner"), waiting.length > 0);
    $("waiting-banner").replaceChildren(...waiting.map((job) => el("p", {},
      `A login of ${job.waiting.map((w) => `${w.account} (${w.brokerage})`).join(", ")} is waiting for you. `,
      el("button", { type: "button", text: `Answer job ${job.id.slice(0, 8)}`, onclick: () => { location.hash = "#jobs"; openJob(job.id); } }))));
  }

  function renderWaiting(job) {
    const box = $("job-waiting");
    const waiting = job.waiting || [];
    show(box, waiting.length > 0);
    if (box.dataset.job === job.id && box.dataset.waiting === JSON.stringify(waiting)) return; // keep what is typed
    box.dataset.job = job.id;
    box.dataset.waiting = JSON.stringify(waiting);
    box.replaceChildren(...waiting.map((w) => {
      const id = `code-${w.account}`;
      const until = (w.deadline || "").replace("T", " ").slice(0, 19);
      if (w.kind !== "code") {
        return el("p", {}, el("strong", { text: `${w.account} (${w.brokerage}): ` }), `approve the login in the ${w.brokerage} app before ${until} UTC. ${w.prompt || ""}`);
      }
      const message = el("p", { class: "error", id: `${id}-error`, role: "alert" });
      const input = el("input", { id, autocomplete: "one-time-code", maxlength: "16" });
      const send = async () => {
        message.textContent = "";
        try {
          await call("POST", `/api/v1/jobs/${job.id}/codes`, { account: w.account, code: input.value.trim() });
          message.className = "ok";
          message.textContent = `Code sent to ${w.account}'s login.`;
          input.value = "";
        } catch (error) {
          message.className = "error";
          const errors = fieldErrors(error);
          message.textContent = errors.code ? `Code: ${[].concat(errors.code).join(" ")}` : error.message;
        }
      };
      const parts = [
        el("p", {}, el("strong", { text: `${w.account} (${w.brokerage}) asks: ` }), `“${w.prompt}” — answer before ${until} UTC.`),
        el("label", { for: id, text: `Code for ${w.account}` }), input,
        el("button", { type: "button", text: `Send code to ${w.account}`, onclick: send }),
        message,
      ];
      if (w.captcha) {
        const img = el("img", { alt: `Captcha of ${w.account}: read its text and send it as the code` });
        fetch(`/api/v1/jobs/${job.id}/captcha?account=${encodeURIComponent(w.account)}`, { headers: { Authorization: `Bearer ${state.key}` } })
          .then((r) => (r.ok ? r.blob() : Promise.reject(new Error("no captcha"))))
          .then((blob) => { img.src = URL.createObjectURL(blob); })
          .catch(() => { img.alt = "The captcha could not be read (answered already?)."; });
        parts.splice(1, 0, img);
      }
      return el("div", { class: "field" }, ...parts);
    }));
  }

  async function retry(statuses, checked) {
    $("job-error").textContent = "";
    try {
      const answer = await call("POST", `/api/v1/jobs/${state.openJob}/retry`, { statuses, checked_brokerage: checked });
      $("job-error").textContent = "";
      $("job-summary").append(` — retried as ${answer.jobs.map((j) => j.job_id.slice(0, 8)).join(", ")}`);
    } catch (error) {
      $("job-error").textContent = error.message;
    }
  }

  // --- Trade ------------------------------------------------------------------------------

  function renderGroupSelects() {
    for (const id of ["order-group", "account-group"]) {
      const select = $(id);
      const current = select.value;
      select.replaceChildren(...state.groups.map((g) => el("option", { value: g, text: g })));
      if (state.groups.includes(current)) select.value = current;
    }
  }

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

  async function submitOrder(group, order) {
    $("order-error").textContent = "";
    try {
      const answer = await call("POST", `/api/v1/groups/${group}/transactions`, order);
      state.orderJob = answer.job_id;
      show($("order-result"), true);
      const known = state.jobs.get(answer.job_id);
      renderOrderResult(known || { id: answer.job_id, state: answer.state, results: [] });
      call("GET", `/api/v1/jobs/${answer.job_id}`).then((job) => upsertJob(job)).catch(() => {});
    } catch (error) {
      const errors = fieldErrors(error);
      const details = Object.entries(errors).map(([field, messages]) => `${field}: ${[].concat(messages).map((m) => typeof m === "string" ? m : JSON.stringify(m)).join(" ")}`);
      $("order-error").textContent = [error.message, ...details].join(" — ");
    }
  }

  function renderOrderResult(job) {
    $("order-result-state").replaceChildren(`Job ${job.id}: `, statusText(job.state));
    $("order-results").tBodies[0].replaceChildren(...resultRows(job, false));
    labelCells($("order-results"));
  }

  function onOrder(event) {
    event.preventDefault();
    const { group, order } = readOrder();
    if (!group) { $("order-error").textContent = "Create a group first (Accounts page)."; return; }
    if (!order.symbols.length) { $("order-error").textContent = "Symbols: enter at least one symbol."; return; }
    if (!order.quantity) { $("order-error").textContent = "Quantity: enter a number (or all, to sell everything)."; return; }
    if (order.dry_run) { submitOrder(group, order); return; }
    const accounts = targetAccounts(group, order);
    state.pendingOrder = { group, order };
    const each = `${order.action} ${order.quantity} of ${order.symbols.join(", ")}`;
    const price = order.order_type === "limit" ? ` at a limit of ${order.limit_price}` : " at market";
    const total = Number(order.quantity) * accounts.length * order.symbols.length;
    // The total value: at the limit price, or at the latest quotes the page has seen.
    const prices = order.symbols.map((symbol) => Number(order.order_type === "limit"
      ? order.limit_price : (state.quotes.get(symbol.toUpperCase()) || {}).price));
    const value = prices.reduce((sum, p) => sum + p * Number(order.quantity) * accounts.length, 0);
    const worth = Number.isFinite(value) && value > 0
      ? ` (about ${value.toFixed(2)} ${order.order_type === "limit" ? "at the limit price" : "at the latest quotes"})` : "";
    $("order-confirm-text").textContent =
      `This is a live order: ${each}${price} on each of ${accounts.length} account(s) of group ${group}` +
      (Number.isFinite(total) ? `, ${total} shares in total${worth}.` : ".");
    $("order-confirm-accounts").replaceChildren(...accounts.map((a) => el("li", { text: `${a.name} (${a.brokerage})` })));
    show($("order-confirm"), true);
    $("order-confirm-yes").focus();
  }

  // --- Accounts ---------------------------------------------------------------------------

  function renderBrokerageSelect() {
    const select = $("account-brokerage");
    const current = select.value || "paper";
    select.replaceChildren(...state.brokerages.map((b) => el("option", { value: b.name, text: b.display_name })));
    select.value = state.brokerages.some((b) => b.name === current) ? current : (state.brokerages[0] || {}).name;
    renderCredentialFields();
  }

  function renderCredentialFields() {
    const brokerage = state.brokerages.find((b) => b.name === $("account-brokerage").value);
    $("account-brokerage-hint").textContent = brokerage ? brokerage.description : "";
    $("account-fields").replaceChildren(...(brokerage ? brokerage.fields : []).map((field) => {
      const id = `cred-${field.name}`;
      return el("div", { class: "field" },
        el("label", { for: id, text: field.name }),
        el("input", { id, name: field.name, type: field.secret ? "password" : "text", autocomplete: "off", required: field.required, "aria-describedby": `${id}-rule ${id}-error` }),
        el("small", { id: `${id}-rule`, text: field.rule }),
        el("p", { class: "error field-error", id: `${id}-error`, role: "alert" }));
    }));
  }

  async function onCreateGroup(event) {
    event.preventDefault();
    $("group-error").textContent = "";
    $("group-done").textContent = "";
    const name = $("group-name").value.trim();
    try {
      await call("POST", "/api/v1/groups", { name });
      $("group-done").textContent = `Group ${name} created.`;
      $("group-name").value = "";
      if (!state.groups.includes(name)) state.groups.push(name);
      state.groups.sort();
      state.accounts[name] = state.accounts[name] || {};
      renderGroupSelects();
      $("account-group").value = name;
      $("order-group").value = name;
      renderOrderTargets();
      renderAccounts();
      scheduleFleet();
    } catch (error) {
      const errors = fieldErrors(error);
      $("group-error").textContent = errors.name ? `Group name: ${[].concat(errors.name).join(" ")}` : error.message;
    }
  }

  async function onActivate(event) {
    event.preventDefault();
    for (const node of document.querySelectorAll("#account-form .field-error")) node.textContent = "";
    $("account-error").textContent = "";
    $("account-done").textContent = "";
    const group = $("account-group").value;
    const credentials = {};
    for (const input of $("account-fields").querySelectorAll("input")) {
      if (input.value !== "") credentials[input.name] = input.value;
    }
    const body = { name: $("account-name").value.trim(), brokerage: $("account-brokerage").value, credentials };
    try {
      const answer = await call("POST", `/api/v1/groups/${group}/accounts`, body);
      $("account-done").textContent = `Activating ${body.name} (job ${answer.job_id.slice(0, 8)}): its state below changes when it is done.`;
      for (const input of $("account-fields").querySelectorAll("input")) input.value = "";
    } catch (error) {
      const errors = fieldErrors(error);
      let placed = false;
      const creds = errors.credentials;
      if (creds && typeof creds === "object" && !Array.isArray(creds)) {
        for (const [field, messages] of Object.entries(creds)) {
          const node = $(`cred-${field}-error`);
          if (node) { node.textContent = `${field}: ${[].concat(messages).join(" ")}`; placed = true; }
        }
      }
      if (errors.name) { $("account-name-error").textContent = `Account name: ${[].concat(errors.name).join(" ")}`; placed = true; }
      $("account-error").textContent = placed ? `${error.message}: see the fields above.` : error.message;
    }
  }

  function renderAccounts() {
    const rows = [];
    for (const group of state.groups) {
      for (const account of Object.values(state.accounts[group] || {})) {
        rows.push(el("tr", {},
          el("td", { text: group }),
          el("td", { text: account.name }),
          el("td", { text: account.brokerage }),
          el("td", {}, statusText(account.state)),
          el("td", { text: account.last_error || "" }),
          el("td", {},
            account.state === "active" ? el("button", { type: "button", text: `Deactivate ${account.name}`, onclick: () => deactivate(group, account.name) }) : "",
            el("button", { type: "button", text: `Delete ${account.name}`, onclick: () => removeAccount(group, account.name) }))));
      }
    }
    $("accounts-table").tBodies[0].replaceChildren(...rows);
    labelCells($("accounts-table"));
  }

  async function deactivate(group, name) {
    $("accounts-error").textContent = "";
    try {
      await call("POST", `/api/v1/groups/${group}/accounts/${name}/deactivate`);
    } catch (error) {
      $("accounts-error").textContent = `Deactivating ${name}: ${error.message}`;
    }
  }

  async function removeAccount(group, name) {
    if (!window.confirm(`Delete account ${name} of group ${group} and wipe its credentials?`)) return;
    $("accounts-error").textContent = "";
    try {
      await call("DELETE", `/api/v1/groups/${group}/accounts/${name}`);
      delete state.accounts[group][name];
      renderAccounts();
      renderOrderTargets();
      scheduleFleet();
    } catch (error) {
      $("accounts-error").textContent = `Deleting ${name}: ${error.message}`;
    }
  }

  // --- Market -----------------------------------------------------------------------------

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
        el("td", { text: (q.as_of || "").replace("T", " ").slice(0, 19) }),
        el("td", { text: q.source || "" }));
    }));
    labelCells($("quotes-table"));
  }

  async function loadWatchlist() {
    try {
      const watchlist = await call("GET", "/api/v1/watchlist");
      $("watchlist-symbols").value = watchlist.symbols.join(" ");
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

  // --- pages ------------------------------------------------------------------------------

  function route() {
    if (!state.key) return;
    const page = (location.hash || "#fleet").slice(1);
    for (const section of document.querySelectorAll(".page")) show(section, section.id === `page-${page}`);
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.page === page) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (page === "fleet") scheduleFleet();
    if (page === "market") loadWatchlist();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("signin-error").textContent = "";
      const key = $("api-key").value.trim();
      if (!key) { $("signin-error").textContent = "Enter your API key."; return; }
      try {
        await signIn(key);
      } catch (error) {
        $("signin-error").textContent = error.message;
      }
    });
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    $("fleet-refresh").addEventListener("click", loadAll);
    $("group-form").addEventListener("submit", onCreateGroup);
    $("account-form").addEventListener("submit", onActivate);
    $("account-brokerage").addEventListener("change", renderCredentialFields);
    $("order-form").addEventListener("submit", onOrder);
    $("watchlist-form").addEventListener("submit", onWatchlist);
    $("chart-form").addEventListener("submit", onChart);
    $("order-group").addEventListener("change", renderOrderTargets);
    for (const radio of document.querySelectorAll("input[name=order_type]")) {
      radio.addEventListener("change", () => {
        const limit = document.querySelector("input[name=order_type]:checked").value === "limit";
        show($("order-limit"), limit);
        show($("order-limit-label"), limit);
      });
    }
    $("order-confirm-yes").addEventListener("click", () => {
      show($("order-confirm"), false);
      if (state.pendingOrder) submitOrder(state.pendingOrder.group, state.pendingOrder.order);
      state.pendingOrder = null;
    });
    $("order-confirm-no").addEventListener("click", () => {
      show($("order-confirm"), false);
      state.pendingOrder = null;
      $("order-error").textContent = "Live order cancelled: nothing was sent.";
    });
    $("job-checked").addEventListener("change", () => { $("job-retry-unknown").disabled = !$("job-checked").checked; });
    $("job-retry-unknown").addEventListener("click", () => retry(["unknown"], true));
    $("job-retry-failed").addEventListener("click", () => retry(["failed"], false));
    window.addEventListener("hashchange", route);
    const saved = sessionStorage.getItem(KEY);
    if (saved) {
      signIn(saved).catch((error) => signOut(error.message));
    } else {
      $("api-key").focus();
    }
  });
})();
