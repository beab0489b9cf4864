// Status page: GET /api/health and show the overall status and each check; GET /api/status for the planned
// maintenance (start, end, summary of each window announced and not ended).

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";

export const title = "Status";

const LABELS = { table: "Data table", key_store: "Key store", kms_key: "Encryption key (KMS)" };

export function render({ signal }) {
  const result = h("div", { class: "health", "aria-live": "polite", "aria-busy": "true" }, h("p", {}, "Checking…"));
  const refresh = h("button", { type: "button", class: "button button--secondary", onClick: load }, "Check again");

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
          h("span", { class: "checks__name" }, LABELS[name] ?? name),
          badge(check?.status),
        ),
      ),
    ),
    h(
      "dl",
      { class: "meta" },
      health.version ? [h("dt", {}, "Version"), h("dd", {}, health.version)] : null,
      health.region ? [h("dt", {}, "Region"), h("dd", {}, health.region)] : null,
    ),
  );
}

function badge(status, props = {}) {
  const text = String(status ?? "unknown");
  const tone = text === "ok" ? "ok" : text === "degraded" || text === "error" ? "bad" : "unknown";
  return h("span", { ...props, class: `badge badge--${tone}` }, text);
}
