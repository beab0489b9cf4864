// The public status page: GET /api/health (the overall status and each check, in plain words) and GET /api/status
// (the planned maintenance: start, end, summary of each window announced and not ended).

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";

export const title = "Status";

// The checks of /api/health (protu.http.health) by the names a customer knows them by; a check added later reads
// as its words ("some_check" -> "Some check") until it gets a name here.
const LABELS = new Map([
  ["table", "Company data"],
  ["key_store", "Encryption keys of each company"],
  ["audit_table", "Audit log"],
  ["kms_key", "Master encryption key"],
  ["backup", "Daily backup"],
  ["restore_test", "Daily test of restoring the backup"],
  ["dr_drill", "Disaster recovery drill"],
  ["incident_workflow", "Security incident handling"],
]);

// [words, badge tone] for each status the checks and the whole answer can have.
const STATES = { ok: ["Working", "ok"], pending: ["Not run yet", "unknown"], error: ["Not working", "bad"] };
STATES.degraded = ["Some parts are not working", "bad"];

export function render({ signal }) {
  const result = h("div", { class: "health", "aria-live": "polite", "aria-busy": "true" }, h("p", {}, "Checking…"));
  const refresh = h(
    "button",
    { type: "button", class: "button button--secondary", "data-testid": "status-check-again", onClick: () => load() },
    "Check again",
  );

  async function load() {
    result.setAttribute("aria-busy", "true");
    refresh.disabled = true;
    try {
      result.replaceChildren(report(await fetchHealth(signal)));
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ApiError)) console.error(error);
      const message = error instanceof ApiError ? error.message : "The status could not be shown.";
      result.replaceChildren(h("p", { class: "notice notice--error", role: "alert" }, message));
    } finally {
      result.setAttribute("aria-busy", "false");
      refresh.disabled = false;
    }
  }
  load();
  const planned = h("div", { class: "card", "aria-live": "polite", "data-testid": "maintenance" }, h("p", {}, "Loading…"));
  loadMaintenance(planned, signal);

  return h(
    "section",
    { class: "page", "aria-labelledby": "page-title" },
    h("h1", { id: "page-title" }, "Service status"),
    h("p", { class: "lead" }, "Whether Protu and the services it depends on are working."),
    result,
    refresh,
    h("h2", {}, "Planned maintenance"),
    planned,
  );
}

async function loadMaintenance(region, signal) {
  try {
    const { maintenance } = await api.get("/api/status", { signal });
    region.replaceChildren(
      maintenance.length
        ? h("ul", { class: "checks", "aria-label": "Planned maintenance" }, maintenance.map(windowRow))
        : h("p", { "data-testid": "maintenance-none" }, "No maintenance is planned."),
    );
  } catch (error) {
    if (error.name === "AbortError") return;
    region.replaceChildren(h("p", { class: "notice notice--error" }, "Planned maintenance could not be shown."));
  }
}

// Times in UTC, as the emails give them: "10 December 2026, 02:00 to 03:30 UTC".
function windowRow(window) {
  const start = new Date(window.start);
  const end = new Date(window.end);
  const day = (d) => d.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  const clock = (d) => d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" });
  const until = day(end) === day(start) ? clock(end) : `${day(end)}, ${clock(end)}`;
  return h(
    "li",
    { class: "checks__row", "data-testid": "maintenance-window" },
    h("span", { class: "checks__name" }, `${day(start)}, ${clock(start)} to ${until} UTC`),
    h("span", {}, window.summary),
  );
}

// A degraded service answers 503 with the same report in the body: show it rather than an error.
async function fetchHealth(signal) {
  try {
    return await api.get("/api/health", { signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 503 && error.body?.checks) return error.body;
    throw error;
  }
}

function report(health) {
  const checks = Object.entries(health.checks ?? {});
  return h(
    "div",
    { class: "card" },
    h("p", { class: "health__overall" }, "Overall: ", badge(health.status, { "data-testid": "health-status" })),
    h(
      "ul",
      { class: "checks", "aria-label": "Checks" },
      checks.map(([name, check]) =>
        h(
          "li",
          { class: "checks__row", "data-testid": `health-check-${name}` },
          h("span", { class: "checks__name" }, label(name)),
          badge(check?.status),
        ),
      ),
    ),
    health.version ? h("p", { class: "meta" }, `Version ${health.version}`) : null,
  );
}

function label(name) {
  const words = String(name).replaceAll("_", " ");
  return LABELS.get(name) ?? words.charAt(0).toUpperCase() + words.slice(1);
}

function badge(status, props = {}) {
  const [text, tone] = STATES[status] ?? ["Unknown", "unknown"];
  return h("span", { ...props, class: `badge badge--${tone}`, "data-status": String(status ?? "unknown") }, text);
}
