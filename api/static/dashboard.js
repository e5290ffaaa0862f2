// tradefleet dashboard: sign in, the live stream, the groups and accounts every page shows
// (`tradefleet.fleet` changes them), the Fleet page, and which page is shown.
// Plain JavaScript, no dependencies, served by the app; shared helpers come from common.js
// (the `tradefleet` namespace), the other pages have their own scripts (jobs.js, trade.js,
// accounts.js, market.js, strategies.js and backtests.js).
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, show, labelCells, statusText, call, pageError } = tf;
  const KEY = "tradefleet.api_key";
  const state = Object.assign(tf.state, {
    ws: null,
    retryDelay: 1000,
    connectedOnce: false, // a later "subscribed" is a reconnection: read the fleet again
  });

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
    state.connectedOnce = false;
    connect();
    await loadAll();
    tf.emit("signed-in");
    route();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    state.key = null;
    loads(); // a load under way is not shown to whoever signs in next
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
    tf.emit("signed-out");
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
        // Back after a loss: what changed meanwhile (a group or account deleted) is read again.
        if (state.connectedOnce) loadAll();
        else tf.jobs.load();
        state.connectedOnce = true;
        break;
      case "account":
        upsertAccount(message.group, message.account);
        break;
      case "group":
        addGroup(message.group.name);
        break;
      case "group_deleted":
        dropGroup(message.group);
        break;
      case "account_deleted":
        dropAccount(message.group, message.account);
        break;
      case "error":
        streamStatus(message.message, false);
        break;
      default:
        break;
    }
    tf.emit("message", message); // jobs for the Jobs and Strategies pages, quotes for the Market page
  }

  // --- data -------------------------------------------------------------------------------

  const loads = tf.latestOnly(); // a reload asked while one runs supersedes it
  let fleetChanges = 0; // groups and accounts changed by the stream or this tab

  /** The groups and their accounts as the server has them now. */
  async function readFleet() {
    const [groups, brokerages] = await Promise.all([
      call("GET", "/api/v1/groups?page_size=100"),
      call("GET", "/api/v1/brokerages"),
    ]);
    const names = groups.map((g) => g.name).sort();
    const lists = await Promise.all(names.map((g) => call("GET", `/api/v1/groups/${g}/accounts`)));
    const accounts = {};
    names.forEach((g, i) => {
      accounts[g] = {};
      for (const account of lists[i]) accounts[g][account.name] = account;
    });
    return { names, brokerages, accounts };
  }

  async function loadAll() {
    pageError("");
    const current = loads();
    let fleet;
    try {
      // A change heard while reading (an account activated, a group created here) may be newer
      // than the answers, which would undo it: read again until a read saw no change meanwhile.
      // Bounded: a fleet that never stops changing shows the fifth answer.
      for (let reads = 0; reads < 5; reads += 1) {
        const changes = fleetChanges;
        fleet = await readFleet();
        if (!current()) return; // a newer load shows its own answer
        if (changes === fleetChanges) break;
      }
    } catch (error) {
      if (current()) pageError(error.message);
      return;
    }
    state.groups = fleet.names;
    state.brokerages = fleet.brokerages;
    state.accounts = fleet.accounts;
    tf.emit("groups", state.groups);
    tf.emit("brokerages", state.brokerages);
    tf.emit("accounts");
    await Promise.all([renderFleet(), tf.jobs.load()]);
  }

  function upsertAccount(group, account) {
    fleetChanges += 1;
    // The state sent on (re)subscribing can be newer than an event still queued behind it:
    // an account only takes a message at least as recent as the one it shows.
    const known = (state.accounts[group] || {})[account.name];
    if (known && Date.parse(account.updated_at) < Date.parse(known.updated_at)) return; // NaN: never older
    addGroup(group, false);
    state.accounts[group][account.name] = account;
    accountsChanged();
  }

  /** A group created (here, in another tab, or by the API): every page shows it. */
  function addGroup(group, render = true) {
    fleetChanges += 1;
    state.accounts[group] = state.accounts[group] || {};
    if (state.groups.includes(group)) return;
    state.groups.push(group);
    state.groups.sort();
    tf.emit("groups", state.groups);
    if (render) accountsChanged();
  }

  /** A group deleted: it leaves every page without a reload. */
  function dropGroup(group) {
    fleetChanges += 1;
    delete state.accounts[group];
    if (!state.groups.includes(group)) return;
    state.groups = state.groups.filter((g) => g !== group);
    tf.emit("groups", state.groups);
    accountsChanged();
  }

  function dropAccount(group, name) {
    fleetChanges += 1;
    if (!state.accounts[group] || !state.accounts[group][name]) return;
    delete state.accounts[group][name];
    accountsChanged();
  }

  function accountsChanged() {
    tf.emit("accounts");
    scheduleFleet();
  }

  tf.fleet = { addGroup, dropGroup, dropAccount, accountsChanged };

  // --- Fleet ------------------------------------------------------------------------------

  let fleetTimer = null;
  function scheduleFleet() { // many events come in bursts: draw the fleet once per burst
    clearTimeout(fleetTimer);
    fleetTimer = setTimeout(renderFleet, 100);
  }

  let fleetDrawing = 0;
  async function renderFleet() {
    const drawing = ++fleetDrawing; // only the latest drawing is shown (an older one may end later)
    const box = $("fleet-groups");
    const sections = [];
    const groups = [...state.groups];
    const read = (group) => Promise.all([
      call("GET", `/api/v1/groups/${group}/positions`),
      call("GET", `/api/v1/groups/${group}/risk`),
    ]).catch(() => [null, null]);
    const answers = await Promise.all(groups.map(read)); // every group at once
    if (drawing !== fleetDrawing) return;
    for (const [index, group] of groups.entries()) {
      const [positions, risk] = answers[index];
      const held = {};
      for (const entry of positions || []) held[entry.account] = entry;
      const rows = Object.values(state.accounts[group] || {}).map((account) => {
        const entry = held[account.name];
        const list = entry ? entry.positions.map((p) => `${p.symbol} ${p.quantity}`).join(", ") : "";
        return el("tr", {},
          el("td", { text: account.name }),
          el("td", { text: account.brokerage }),
          el("td", {}, statusText(account.state)),
          el("td", { text: account.last_error || "" }),
          el("td", { text: (entry && entry.cash ? `cash ${entry.cash}; ` : "") + (list || "none") }));
      });
      sections.push(el("section", { class: "group" },
        el("h3", { text: `Group ${group}` }),
        risk ? tf.killSwitchLine(group, risk, pageError) : "",
        positions === null ? el("p", { class: "error", text: "Holdings could not be read." }) : "",
        rows.length
          ? el("table", {},
            el("thead", {}, el("tr", {}, ...["Account", "Brokerage", "State", "Last error", "Holdings"].map((h) => el("th", { scope: "col", text: h })))),
            el("tbody", {}, ...rows))
          : el("p", { text: "No accounts yet." })));
    }
    box.replaceChildren(...(sections.length ? sections : [el("p", { text: "No groups yet: create one on the Accounts page." })]));
    labelCells(box);
    tf.holdings.refresh(); // the totals per symbol, summed by the server
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
    tf.emit("page", page);
  }

  tf.on("unauthorized", signOut);
  tf.on("risk", () => scheduleFleet());

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
    window.addEventListener("hashchange", route);
    const saved = sessionStorage.getItem(KEY);
    if (saved) {
      signIn(saved).catch((error) => signOut(error.message));
    } else {
      $("api-key").focus();
    }
  });
})();
