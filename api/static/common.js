// tradefleet dashboard, shared part: the `tradefleet` namespace every page script uses.
// DOM helpers, the REST client (the API key from sessionStorage, sent as a bearer token),
// the state the pages share, the kill switch, form helpers, and a small event hub between the
// scripts:
//   "signed-in", "signed-out", "page" (name), "message" (a /ws message), "groups" (names),
//   "accounts" (state.accounts changed), "brokerages" (list), "group-created" (name),
//   "job" (a job changed, as recorded), "risk" (group, rules), "unauthorized" (message),
//   "trade-group" (the group chosen in the Trade page's order form, maybe the same again).
// Page scripts add what the others call: dashboard.js `fleet` (add or drop a group or an
// account), jobs.js `jobs` (read and record jobs), trade.js `trade` (the order form).
"use strict";

window.tradefleet = (function () {
  const TERMINAL = ["succeeded", "partial", "failed", "unknown", "cancelled"];
  const state = {
    key: null,
    groups: [], // names, sorted
    accounts: {}, // group -> {name -> account}
    brokerages: [], // from GET /api/v1/brokerages (read with the groups; the Accounts page uses it)
    jobs: new Map(), // id -> job (the Jobs page fills it, the Trade page reads it)
    quotes: new Map(), // symbol -> quote (the Market page fills it, the Trade page reads it)
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

  function statusText(status) {
    return el("span", { class: `status status-${status}`, text: status });
  }

  /** Fill a group <select> with `groups`, keeping its choice while that group exists. */
  function fillGroupSelect(id, groups) {
    const select = $(id);
    const current = select.value;
    // The same groups again (a reload, a reconnection): leave the select alone, so that one
    // the person is choosing in is not redrawn under them.
    if (sameOptions(select, groups)) return;
    select.replaceChildren(...groups.map((g) => el("option", { value: g, text: g })));
    if (groups.includes(current)) select.value = current;
  }

  /** Whether `select` offers exactly `values`, in that order. */
  function sameOptions(select, values) {
    const options = [...select.options];
    return options.length === values.length && options.every((option, i) => option.value === values[i]);
  }

  /**
   * For reads whose answers may come back out of order (a slow one after a quicker, newer one):
   * `const current = reads();` before the call, then `if (!current()) return;` after it. Calling
   * `reads()` alone also retires the reads under way (newer news came another way).
   */
  function latestOnly() {
    let count = 0;
    return () => {
      const mine = ++count;
      return () => mine === count;
    };
  }

  // --- events between the page scripts ----------------------------------------------------

  const listeners = {};
  const on = (name, fn) => { (listeners[name] = listeners[name] || []).push(fn); };
  const emit = (name, ...args) => { for (const fn of listeners[name] || []) fn(...args); };

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

  async function send(method, path, body) {
    try {
      return await fetch(path, {
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
  }

  async function refused(response) {
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch (error) { data = { message: text }; }
    }
    if (response.status === 401 && state.key) emit("unauthorized", "Your API key was refused: sign in again.");
    return new ApiError(response.status, data);
  }

  /** The JSON answer of `method path`, or an ApiError saying in words what went wrong. */
  async function call(method, path, body) {
    const response = await send(method, path, body);
    if (!response.ok) throw await refused(response);
    const text = await response.text();
    if (!text) return null;
    try { return JSON.parse(text); } catch (error) { return { message: text }; }
  }

  /** A binary answer (an image) as a Blob: an <img> cannot send the API key itself. */
  async function callBlob(path) {
    const response = await send("GET", path);
    if (!response.ok) throw await refused(response);
    return response.blob();
  }

  /** A 422's errors by field (`errors.json` of flask-smorest's answer). */
  function fieldErrors(error) {
    const errors = (error.body && error.body.errors) || {};
    return errors.json || errors;
  }

  /** One field's messages as a sentence (a list, a string or a nested mapping). */
  function messagesOf(messages) {
    if (typeof messages === "string") return messages;
    if (Array.isArray(messages)) return messages.map(messagesOf).join(" ");
    if (messages && typeof messages === "object") {
      return Object.entries(messages).map(([k, v]) => `${k}: ${messagesOf(v)}`).join("; ");
    }
    return String(messages);
  }

  function pageError(message) {
    $("page-error").textContent = message || "";
    show($("page-error"), Boolean(message));
  }

  // --- risk rules: the kill switch, one logic for every page -------------------------------

  /**
   * Turn the group's kill switch on or off, keeping its other rules as the server has them now
   * (read just before, so a rule changed on another page or tab is not undone).
   * Returns the rules saved; every page showing the group hears "risk".
   */
  async function setKillSwitch(group, on) {
    const current = await call("GET", `/api/v1/groups/${group}/risk`);
    const saved = await call("PUT", `/api/v1/groups/${group}/risk`, Object.assign({}, current, { kill_switch: on }));
    emit("risk", group, saved);
    return saved;
  }

  /** The kill switch as text and one obvious button; `onError` shows a refusal in words. */
  function killSwitchLine(group, rules, onError) {
    const killed = Boolean(rules && rules.kill_switch);
    const button = el("button", {
      type: "button",
      class: killed ? "" : "danger",
      text: `Turn kill switch ${killed ? "off" : "on"} for ${group}`,
    });
    button.addEventListener("click", async () => {
      button.disabled = true;
      onError("");
      try {
        await setKillSwitch(group, !killed);
      } catch (error) {
        onError(`Kill switch of ${group}: ${error.message}`);
        button.disabled = false;
      }
    });
    return el("p", { class: killed ? "error kill" : "kill" },
      el("strong", { text: `Kill switch: ${killed ? "on" : "off"}` }),
      killed ? " — every new order of this group is refused. " : " — orders are accepted within the risk rules. ",
      button);
  }

  /** Short, readable numbers: whole numbers as they are, others to at most 4 decimals. */
  function formatNumber(value) {
    if (value === null || value === undefined || value === "") return "n/a";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(4)));
  }

  /** An order in words, as the Jobs page says it: "buy 1 AAPL market (dry run)". */
  function orderText(order) {
    const o = order || {};
    const price = o.order_type === "limit" && o.limit_price ? ` ${o.limit_price}` : "";
    return `${o.action} ${o.quantity} ${(o.symbols || []).join(" ")} ${o.order_type}${price}${o.dry_run ? " (dry run)" : " (live)"}`;
  }

  const when = (iso) => (iso || "").replace("T", " ").slice(0, 19);
  const short = (id) => id.slice(0, 8);
  const words = (text) => text.split(/[\s,]+/).filter(Boolean);

  /** A number when the text is one; otherwise the text, so that the server names the problem. */
  function number(text) {
    const value = Number(text);
    return text !== "" && Number.isFinite(value) ? value : text;
  }

  // --- forms: errors next to their fields, a strategy's parameter fields ---------------------

  function say(id, text) { $(id).textContent = text || ""; }

  /**
   * Put a 422's field errors next to their fields: `idFor(field)` names the input, whose error
   * line is `<input id>-error`. Returns whether any was placed.
   */
  function placeErrors(errors, idFor) {
    let placed = false;
    for (const [field, messages] of Object.entries(errors || {})) {
      const id = idFor(field, messages);
      const node = id && $(`${id}-error`);
      if (!node) continue;
      const label = document.querySelector(`label[for="${id}"]`);
      node.textContent = `${label ? label.textContent.trim() : field}: ${messagesOf(messages)}`;
      placed = true;
    }
    return placed;
  }

  function clearErrors(form) {
    for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  }

  // The server renders one fieldset of parameters per strategy in each strategy form (prefix
  // "sub": a subscription, "bt": a backtest); only the chosen strategy's shows.

  /** The parameter fields of the strategy chosen in `prefix`'s form (the others are hidden). */
  function paramInputs(prefix) {
    const strategy = $(`${prefix}-strategy`).value;
    const fieldset = $(`${prefix}-params-${strategy}`);
    return { strategy, inputs: fieldset ? [...fieldset.querySelectorAll("input, select")] : [] };
  }

  function showParams(prefix) {
    const strategy = $(`${prefix}-strategy`).value;
    for (const fieldset of document.querySelectorAll(`fieldset[id^="${prefix}-params-"]`)) {
      show(fieldset, fieldset.dataset.strategy === strategy);
    }
  }

  // Errors of a strategy's parameters sit under their fields; a constraint (a string) under all.
  const paramErrorId = (prefix) => (field, messages) => {
    if (field !== "params" && field !== "grid") return `${prefix}-${field}`;
    if (typeof messages !== "object" || Array.isArray(messages)) return `${prefix}-params`;
    return null;
  };

  function placeParamErrors(prefix, errors) {
    const { strategy } = paramInputs(prefix);
    let placed = placeErrors(errors, paramErrorId(prefix));
    for (const key of ["params", "grid"]) {
      const nested = errors[key];
      if (nested && typeof nested === "object" && !Array.isArray(nested)) {
        placed = placeErrors(nested, (name) => `${prefix}-${strategy}-${name}`) || placed;
      }
    }
    return placed;
  }

  // Parameters in the order the strategy declares them (its fields' order), others after.
  function paramsText(params, strategy) {
    const fieldset = strategy ? $(`bt-params-${strategy}`) : null;
    const declared = fieldset ? [...fieldset.querySelectorAll("[name]")].map((input) => input.name) : [];
    const place = (name) => (declared.includes(name) ? declared.indexOf(name) : declared.length);
    const names = Object.keys(params || {}).sort((a, b) => place(a) - place(b));
    return names.map((name) => `${name} ${params[name]}`).join(", ") || "defaults";
  }

  return {
    TERMINAL, state, $, el, show, labelCells, statusText, fillGroupSelect, latestOnly, on, emit, ApiError,
    describeError, call, callBlob, fieldErrors, messagesOf, pageError, setKillSwitch,
    killSwitchLine, formatNumber, orderText, when, short, words, number, say, placeErrors, clearErrors,
    paramInputs, showParams, placeParamErrors, paramsText,
  };
})();
