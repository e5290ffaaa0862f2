// tradefleet dashboard, Accounts page: create and delete groups, activate an account (the
// chosen brokerage's credential fields), and the accounts table (deactivate, delete). The
// groups and accounts are kept by dashboard.js (`tradefleet.fleet`); helpers come from
// common.js (the `tradefleet` namespace).
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, labelCells, statusText, call, fieldErrors, state } = tf;

  let brokeragesShown = null; // the list as last drawn

  function renderBrokerageSelect() {
    // Every reload (a reconnection) sends the list again: drawn anew, it would wipe the
    // credentials being typed. Only a list that changed is drawn.
    const seen = JSON.stringify(state.brokerages);
    if (seen === brokeragesShown) return;
    brokeragesShown = seen;
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
      tf.fleet.addGroup(name, false);
      $("account-group").value = name;
      tf.emit("group-created", name); // the Trade page chooses it too
      tf.fleet.accountsChanged();
    } catch (error) {
      const errors = fieldErrors(error);
      $("group-error").textContent = errors.name ? `Group name: ${[].concat(errors.name).join(" ")}` : error.message;
    }
  }

  async function onDeleteGroup(event) {
    event.preventDefault();
    $("group-delete-error").textContent = "";
    $("group-delete-done").textContent = "";
    const name = $("group-delete-name").value;
    if (!name) { $("group-delete-error").textContent = "Group to delete: choose a group."; return; }
    const count = Object.keys(state.accounts[name] || {}).length;
    const accounts = count === 1 ? "its 1 account" : `its ${count} accounts`;
    if (!window.confirm(`Delete group ${name} with ${accounts}? Their credentials and paper ledgers are wiped and the group's schedules, strategy subscriptions, risk rules and notification targets removed.`)) return;
    try {
      await call("DELETE", `/api/v1/groups/${encodeURIComponent(name)}`);
      tf.fleet.dropGroup(name);
      $("group-delete-done").textContent = `Group ${name} deleted; its jobs stay readable for the retention period.`;
    } catch (error) {
      $("group-delete-error").textContent = `Deleting ${name}: ${error.message}`;
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
      tf.fleet.dropAccount(group, name);
    } catch (error) {
      $("accounts-error").textContent = `Deleting ${name}: ${error.message}`;
    }
  }

  tf.on("groups", (groups) => {
    for (const id of ["account-group", "group-delete-name"]) tf.fillGroupSelect(id, groups);
  });
  tf.on("brokerages", () => renderBrokerageSelect());
  tf.on("accounts", () => renderAccounts());

  document.addEventListener("DOMContentLoaded", () => {
    $("group-form").addEventListener("submit", onCreateGroup);
    $("group-delete-form").addEventListener("submit", onDeleteGroup);
    $("account-form").addEventListener("submit", onActivate);
    $("account-brokerage").addEventListener("change", renderCredentialFields);
  });
})();
