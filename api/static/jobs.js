// tradefleet dashboard, Jobs page: the fleet's jobs (newest first, updated live), one job's
// results, a login waiting for a two-factor code or an approval (a banner on every page too),
// and the retry of failed or unknown orders. Helpers come from common.js (the `tradefleet`
// namespace); `tradefleet.jobs` lets the other scripts read and record jobs.
"use strict";

(function () {
  const tf = window.tradefleet;
  const { TERMINAL, $, el, show, labelCells, statusText, call, callBlob, fieldErrors, pageError, state } = tf;
  let openId = null; // the job shown in the detail

  // --- the jobs, as the server and the stream tell them ----------------------------------

  // What the Show select offers: the fleet query that finds older ones, and the test that
  // keeps the live list to the same jobs.
  const FILTERS = {
    all: { query: "", test: () => true, none: "No jobs yet.", some: "" },
    unfinished: {
      query: "&state=queued&state=running",
      test: (job) => !TERMINAL.includes(job.state),
      none: "No job is waiting or running.",
      some: "waiting or running",
    },
    unknown: {
      query: "&result_status=unknown",
      test: (job) => (job.results || []).some((r) => r.status === "unknown"),
      none: "No job has an unknown result.",
      some: "with an unknown result: open each one and check the brokerage before a retry",
    },
    failed: {
      query: "&state=failed&state=partial",
      test: (job) => job.state === "failed" || job.state === "partial",
      none: "No job failed.",
      some: "failed or partly failed",
    },
  };
  const filter = () => FILTERS[$("jobs-filter").value] || FILTERS.all;

  async function loadJobs() {
    const since = streamTick;
    try {
      const jobs = await call("GET", `/api/v1/jobs?page_size=100${filter().query}`);
      for (const job of jobs) upsertJob(job, false, since);
    } catch (error) {
      pageError(error.message);
    }
    renderJobs();
    renderWaitingBanner(); // a login waiting since before this page was opened
  }

  /** GET one job and record it; the job as recorded (a newer one the stream told stays). */
  async function fetchJob(id) {
    const since = streamTick;
    const job = await call("GET", `/api/v1/jobs/${id}`);
    upsertJob(job, true, since);
    return state.jobs.get(id) || job;
  }

  const rank = (job) => (job.state === "queued" ? 0 : job.state === "running" ? 1 : 2);
  // A job only moves forward: queued, running, finished; while running its results only grow.
  // Compared in that order, an answer behind what is known is an older one.
  const progress = (a, b) => rank(a) - rank(b) || (a.results || []).length - (b.results || []).length;
  let streamTick = 0; // job messages heard from the stream
  const heard = new Map(); // job id -> streamTick when the stream last told of it

  /**
   * Record a job. `since` (a REST answer) is streamTick when its request was sent: a job the
   * stream told of meanwhile may be newer than the answer even at the same progress (a login
   * no longer waiting), so the stream's word stays unless the answer is further along.
   */
  function upsertJob(job, render = true, since = null) {
    const known = state.jobs.get(job.id);
    if (since === null) heard.set(job.id, ++streamTick);
    if (known && !job.results) job = Object.assign({}, known, job); // an event without the record
    if (known && progress(job, known) < 0) return; // never back to an earlier state or fewer results
    if (known && since !== null && progress(job, known) === 0 && (heard.get(job.id) || 0) > since) return;
    if (TERMINAL.includes(job.state)) job.waiting = [];
    state.jobs.set(job.id, job);
    if (!render) return;
    renderJobs();
    renderWaitingBanner();
    if (openId === job.id) renderJobDetail(job);
    tf.emit("job", job); // the Trade page follows the order it placed
  }

  // --- the Jobs page ---------------------------------------------------------------------

  function describeJob(job) {
    if (job.kind === "transaction" && job.order) return tf.orderText(job.order);
    return job.account ? `${job.kind} ${job.account}` : job.kind;
  }

  function renderJobs() {
    const shown = filter();
    const jobs = [...state.jobs.values()].filter(shown.test).sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 100);
    const count = jobs.length === 1 ? "1 job" : `${jobs.length} jobs`;
    $("jobs-count").textContent = jobs.length === 0 ? shown.none : shown.some ? `${count} ${shown.some}.` : "";
    // Every job event draws the table: a row whose job looks the same is kept, so that a click
    // on its Open button (pressed on one row, released on its copy) is not lost in a burst.
    const body = $("jobs-table").tBodies[0];
    const existing = new Map([...body.rows].map((row) => [row.dataset.job, row]));
    const rows = jobs.map((job) => {
      const key = JSON.stringify([job.created_at, job.group, job.kind, describeJob(job), job.state, (job.waiting || []).length > 0]);
      const row = existing.get(job.id);
      if (row && row.dataset.key === key) return row;
      return el("tr", { "data-job": job.id, "data-key": key },
        el("td", { text: tf.when(job.created_at) }),
        el("td", { text: job.group }),
        el("td", { text: job.kind }),
        el("td", { text: describeJob(job) }),
        el("td", {}, statusText(job.state), (job.waiting || []).length ? " waiting for you" : ""),
        el("td", {}, el("button", { type: "button", text: `Open ${job.id.slice(0, 8)}`, onclick: () => openJob(job.id) })));
    });
    rows.forEach((row, index) => {
      if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null); // moves a kept row, adds a new one
    });
    for (const row of [...body.rows]) if (!rows.includes(row)) row.remove();
    labelCells($("jobs-table"));
  }

  async function openJob(id) {
    openId = id;
    show($("job-detail"), true);
    $("job-error").textContent = "";
    $("job-checked").checked = false;
    try {
      const job = await fetchJob(id); // renders the detail if it is newer than what is shown
      if (openId !== id) return; // another job was opened meanwhile: its detail stays
      renderJobDetail(job);
    } catch (error) {
      if (openId === id) $("job-error").textContent = error.message;
    }
    if (openId === id) $("job-detail-title").focus();
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
    // Drawn on every job event: the same logins waiting keep their buttons (a click is not lost).
    const key = JSON.stringify(waiting.map((job) => [job.id, job.waiting]));
    if ($("waiting-banner").dataset.key === key) return;
    $("waiting-banner").dataset.key = key;
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
        callBlob(`/api/v1/jobs/${job.id}/captcha?account=${encodeURIComponent(w.account)}`)
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
      const answer = await call("POST", `/api/v1/jobs/${openId}/retry`, { statuses, checked_brokerage: checked });
      $("job-error").textContent = "";
      $("job-summary").append(` — retried as ${answer.jobs.map((j) => j.job_id.slice(0, 8)).join(", ")}`);
    } catch (error) {
      $("job-error").textContent = error.message;
    }
  }

  tf.jobs = { load: loadJobs, fetch: fetchJob, upsert: upsertJob, resultRows };

  tf.on("message", (message) => { if (message.type === "job") upsertJob(message.job); });

  document.addEventListener("DOMContentLoaded", () => {
    $("jobs-filter").addEventListener("change", loadJobs);
    $("job-checked").addEventListener("change", () => { $("job-retry-unknown").disabled = !$("job-checked").checked; });
    $("job-retry-unknown").addEventListener("click", () => retry(["unknown"], true));
    $("job-retry-failed").addEventListener("click", () => retry(["failed"], false));
  });
})();
