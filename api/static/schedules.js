// tradefleet dashboard, Trade page, scheduled orders: the order form's "When" choice (now, at a
// time read in this browser's own time zone, or at the market's open or close, once or every
// session) and the chosen group's scheduled orders with
// their next and last runs, kept current from the live stream. The order form is trade.js's
// (`tradefleet.trade`); helpers come from common.js (the `tradefleet` namespace).
"use strict";

(function () {
  const tf = window.tradefleet;
  const { $, el, show, labelCells, call, fieldErrors, say, short } = tf;
  // The API's names of the scheduling fields, as the form's labels read.
  const NAMES = { at: "Place at", timezone: "Time zone", market_days_only: "Market days only", cron: "Cron", every_session: "Every session" };
  const RETRIES = 5; // looks for a run's record after its job is announced (see onScheduledJob)
  let shown = null; // the group whose schedules the table holds
  let schedules = [];
  const deleted = new Set(); // ids deleted here: a read sent before the deletion still lists them

  // Read each time, not once: the zone may change while the page is open (travel, settings).
  const zone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
  const when = () => document.querySelector("input[name=when]:checked").value; // now, at, session
  const forLater = () => when() !== "now";
  const pad = (n) => String(n).padStart(2, "0");

  /** `moment` as this browser's clock reads it, with its zone, then as UTC (what the API keeps). */
  function timeText(moment) {
    const d = moment instanceof Date ? moment : new Date(moment);
    if (Number.isNaN(d.getTime())) return String(moment);
    const seconds = d.getSeconds() ? `:${pad(d.getSeconds())}` : "";
    const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}${seconds}`;
    const utc = tf.when(d.toISOString()).slice(0, seconds ? 19 : 16);
    return `${local} ${zone()} (${utc} UTC)`;
  }

  // --- the When choice of the order form ---------------------------------------------------

  function renderWhen() {
    const later = forLater();
    show($("order-at-fields"), when() === "at");
    show($("order-session-fields"), when() === "session");
    $("order-submit").textContent = later ? "Schedule order" : "Place order";
    $("order-at-zone").textContent = `In your time zone, ${zone()}`;
    const now = new Date();
    $("order-at").min = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}:${pad(now.getMinutes())}`;
  }

  /** The instant typed in Place at, or null once it said next to the field what is wrong. */
  function readAt() {
    const text = $("order-at").value; // "" until the day and time are both complete
    // A date and time without a zone is read as this browser's local time (ECMAScript).
    const moment = text ? new Date(text) : null;
    let problem = "";
    if (!moment || Number.isNaN(moment.getTime())) problem = "choose the day and the time to place the order.";
    else if (moment.getTime() <= Date.now()) problem = `${timeText(moment)} has passed: choose a later time.`;
    say("order-at-error", problem && `Place at: ${problem}`);
    return problem ? null : moment;
  }

  /** The session moment chosen ("open+1m", "close-10m"), or null once it said what is wrong. */
  function readSession() {
    const minutes = Number($("order-session-minutes").value);
    const ok = $("order-session-minutes").value.trim() !== "" && Number.isInteger(minutes) && Math.abs(minutes) <= 1440;
    say("order-session-error", ok ? "" : "Minutes after it: a whole number of minutes, at most 1440 either way.");
    if (!ok) return null;
    const edge = $("order-session-edge").value;
    return minutes ? `${edge}${minutes > 0 ? "+" : "-"}${Math.abs(minutes)}m` : edge;
  }

  /** The order at a moment of the next session (or of every session), for the schedules. */
  function decideSession(group, order) {
    const session = readSession();
    if (!session) return false;
    const body = Object.assign({}, order, { at: session, every_session: $("order-every-session").checked });
    const moment = body.every_session ? `${session} of every session` : `${session} of the next session`;
    return {
      send: () => createSchedule(group, body),
      confirmText: (what, _group, accounts) =>
        `This is a live order, scheduled for ${moment} (New York Stock Exchange): ${what} on each account of group ` +
        `${group} that is active at that time. Active now: ${accounts.length} account(s).`,
    };
  }

  // trade.js asks before sending each order: one for later goes to the schedules instead.
  function decide(group, order) {
    say("order-at-error", "");
    say("order-session-error", "");
    say("order-scheduled", "");
    if (!forLater()) return null;
    if (when() === "session") return decideSession(group, order);
    const moment = readAt();
    if (!moment) return false;
    const body = Object.assign({}, order, {
      at: moment.toISOString().replace(/\.000Z$/, "Z"),
      // The API checks a market day in this zone: the day as the person typed it.
      timezone: zone(),
      market_days_only: $("order-market-days").checked,
    });
    return {
      send: () => createSchedule(group, body),
      confirmText: (what, _group, accounts) =>
        `This is a live order, scheduled for ${timeText(moment)}: ${what} on each account of group ${group} ` +
        `that is active at that time${body.market_days_only ? " (skipped if the market is closed that day)" : ""}. ` +
        `Active now: ${accounts.length} account(s).`,
    };
  }

  async function createSchedule(group, body) {
    $("order-error").textContent = "";
    try {
      const schedule = await call("POST", `/api/v1/groups/${group}/schedules`, body);
      say("order-scheduled", `Scheduled ${tf.orderText(schedule.order)} for ${timeText(schedule.next_at || schedule.at)} ` +
        `(schedule ${short(schedule.id)}): listed under Scheduled orders.`);
      refresh();
    } catch (error) {
      tf.trade.showRefusal(error, NAMES);
      const session = body.at && !body.at.includes("T"); // "open+1m": the session fields
      tf.placeErrors(fieldErrors(error), (field) =>
        field === "at" || field === "every_session" ? (session ? "order-session" : "order-at") : null);
    }
  }

  // --- the group's scheduled orders --------------------------------------------------------

  function whenText(schedule) {
    const rule = schedule.every_session ? `every session at ${schedule.session}`
      : schedule.session ? `once at ${schedule.session} of the next session, ${timeText(schedule.at)}`
      : schedule.at ? `once at ${timeText(schedule.at)}` : `cron ${schedule.cron} in ${schedule.timezone}`;
    return schedule.market_days_only ? `${rule}, market days only` : rule;
  }

  function lastRun(schedule) {
    const runs = schedule.runs || [];
    if (!runs.length) return ["none yet"];
    const run = runs[0]; // newest first
    const outcome = run.outcome || "unknown";
    // The outcome's first word ("submitted", "refused: ...") picks the style; the text says it all.
    const kind = outcome.split(":")[0].trim().replace(/\s+/g, "-");
    const job = run.job && tf.state.jobs.get(run.job); // as the live stream last told it
    return [
      el("span", { class: `status status-${kind}`, text: outcome }),
      run.job ? ` — job ${run.job}` : "",
      job ? ", " : "", job ? tf.statusText(job.state) : "",
      ` — ${timeText(run.at || run.occurrence)}`,
      runs.length > 1 ? ` (${runs.length} runs)` : "",
    ];
  }

  function render() {
    $("schedules-of").textContent = shown
      ? `Of group ${shown} (the group chosen in the order form); each run is a new job of the group, shown here as it happens.`
      : "Choose a group in the order form.";
    $("schedules-table").tBodies[0].replaceChildren(...schedules.map((s) => el("tr", { "data-schedule": s.id },
      el("td", { text: tf.orderText(s.order) }),
      el("td", { text: whenText(s) }),
      el("td", { text: s.next_at ? timeText(s.next_at) : "none: done" }),
      el("td", {}, ...lastRun(s)),
      el("td", {}, el("button", { type: "button", text: `Delete schedule ${short(s.id)}`, onclick: () => remove(s) })))));
    labelCells($("schedules-table"));
    show($("schedules-table"), schedules.length > 0);
    show($("schedules-none"), Boolean(shown) && schedules.length === 0);
  }

  async function readOnce() {
    const group = $("order-group").value;
    if (group !== shown) say("schedules-done", "");
    if (!group) { shown = null; schedules = []; render(); return; }
    try {
      const list = await call("GET", `/api/v1/groups/${group}/schedules`);
      if (group !== $("order-group").value) return; // another group was chosen meanwhile
      shown = group;
      schedules = list.filter((s) => !deleted.has(s.id));
      say("schedules-error", "");
    } catch (error) {
      shown = group;
      schedules = [];
      say("schedules-error", `Scheduled orders of ${group}: ${error.message}`);
    }
    render();
  }

  // One read at a time: whatever asks meanwhile gets one more read after it, with the same promise.
  let reading = null;
  let readAgain = false;
  function refresh() {
    if (reading) { readAgain = true; return reading; }
    reading = (async () => {
      try {
        do { readAgain = false; await readOnce(); } while (readAgain || ($("order-group").value || null) !== shown);
      } finally {
        reading = null;
      }
    })();
    return reading;
  }

  async function remove(schedule) {
    const what = `${tf.orderText(schedule.order)}, ${whenText(schedule)}`;
    if (!window.confirm(`Delete the scheduled order ${what}? Jobs it already created stay.`)) return;
    say("schedules-error", "");
    try {
      await call("DELETE", `/api/v1/groups/${schedule.group}/schedules/${schedule.id}`);
      say("schedules-done", `Schedule ${short(schedule.id)} deleted: ${what}.`);
    } catch (error) {
      say("schedules-error", `Delete schedule ${short(schedule.id)}: ${error.message}`);
      if (error.status !== 404) return; // gone already (deleted elsewhere): drop it too
    }
    deleted.add(schedule.id);
    schedules = schedules.filter((s) => s.id !== schedule.id);
    render();
    $("schedules-title").focus(); // its button is gone: keep the keyboard in this section
  }

  // A run is a job whose origin names its schedule ("schedule:<id>"); the other jobs of the
  // group change nothing here. Once a run names the job, "job" below keeps its state current;
  // until then the table is read again (the run's next and last run). The job's first event
  // comes a moment before the schedule records the run: while no run names it, look again
  // shortly. A schedule created in another tab is listed on the next read (this page shown, the
  // group chosen again, a run of a listed one).
  const scheduleOf = (job) => {
    const [kind, id] = (job.origin || "").split(":");
    return kind === "schedule" ? schedules.find((s) => s.id === id) : undefined;
  };

  async function onScheduledJob(job, tries = 0) {
    await refresh();
    if (!names(job) && scheduleOf(job) && tries < RETRIES) setTimeout(() => onScheduledJob(job, tries + 1), 1000);
  }

  const tradeShown = () => !$("page-trade").hidden;

  tf.trade.sendLater(decide);
  tf.on("trade-group", (group) => { if (group !== shown && tradeShown()) refresh(); });
  tf.on("page", (page) => { if (page === "trade") refresh(); });
  tf.on("message", (message) => {
    const job = message.type === "job" && message.job;
    if (job && job.group === shown && tradeShown() && scheduleOf(job) && !names(job)) onScheduledJob(job);
  });
  const names = (job) => schedules.some((s) => (s.runs || []).some((r) => r.job === job.id));
  tf.on("job", (job) => { if (names(job)) render(); });
  tf.on("signed-out", () => { shown = null; schedules = []; render(); });

  document.addEventListener("DOMContentLoaded", () => {
    for (const radio of document.querySelectorAll("input[name=when]")) radio.addEventListener("change", renderWhen);
    renderWhen(); // the browser may have kept "At a time" from before a reload
  });
})();
