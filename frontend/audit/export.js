// The audit page's Export section: a verifiable export of the log for a range of days, for an auditor
// (docs/audit.md), and the public key that proves it.
//
//   POST /api/audit-events/exports {since?, until?}  -> 202 {id, status: pending|running|ready|failed, ...}; while one
//                                                      is pending or running, asking again answers that one
//   GET  /api/audit-events/exports                   -> {items} newest first (kept 7 days), never a download link:
//                                                      asked again every few seconds while one is being prepared
//   GET  /api/audit-events/exports/{id}              -> the same plus `download_url` (5 minutes; each one issued
//                                                      is audited): asked for only when "Download" is chosen
//   GET  /api/audit-events/public-key                -> {key_id, algorithm, public_key_pem}

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { none, recordTable, sessionEnded } from "../records.js";
import { busy, downloadText, field, handleSubmit, messages, showError, timeNode } from "../ui.js";
import { cell, dayEnd, dayStart, formatInstant } from "./format.js";

const WATCH_MS = 3000;
const STATES = {
  pending: ["Waiting to start", null, true],
  running: ["Being prepared", null, true],
  ready: ["Ready", "badge--ok", false],
  failed: ["Failed", "badge--bad", false],
};
const KB = new Intl.NumberFormat(undefined, { style: "unit", unit: "kilobyte", unitDisplay: "short", maximumFractionDigits: 1 });
const working = (item) => STATES[item.status]?.[2] === true;

export function exportSection({ signal }) {
  const msg = messages("audit-export");
  const heading = h("h2", { id: "audit-export-title", tabindex: "-1" }, "Export for an auditor");
  const { table, body, node: tableNode } = recordTable({
    caption: "Your audit log exports of the last 7 days, newest first",
    columns: ["Requested", "Range", "Status", "Contents", "Download"],
    testid: "audit-exports-table",
    labelledBy: "audit-exports-table-caption", // the section has the heading's name
  });
  table.classList.add("audit-table");
  let items = [];
  let timer = null;
  const download = downloader({ signal, msg, refresh: () => refresh() });

  function show(list) {
    const was = new Map(items.map((item) => [item.id, item]));
    items = list;
    body.replaceChildren(...items.map((item) => exportRow(item, download)));
    if (items.length === 0) {
      body.append(h("tr", { "data-testid": "audit-exports-empty" }, h("td", { colspan: "5", class: "records-table__empty" }, "No exports in the last 7 days.")));
    }
    table.setAttribute("aria-busy", "false");
    const finished = items.find((item) => was.has(item.id) && working(was.get(item.id)) && !working(item));
    if (finished?.status === "ready") msg.notice("Your export is ready: download it from the list below.");
    else if (finished) msg.error("The export failed. Ask for a new one; if it fails again, contact support.");
    clearTimeout(timer);
    timer = items.some(working) && !signal.aborted ? setTimeout(refresh, WATCH_MS) : null;
  }

  async function refresh() {
    try {
      show((await api.get("/api/audit-events/exports", { signal })).items);
    } catch (error) {
      if (error?.name === "AbortError" || sessionEnded(error)) return;
      table.setAttribute("aria-busy", "false");
      showError(msg, error);
      if (items.some(working)) timer = setTimeout(refresh, WATCH_MS * 2); // passing trouble: keep watching
    }
  }

  const form = requestForm({
    signal,
    msg,
    onRequested: (item) => show([item, ...items.filter((other) => other.id !== item.id)]),
    known: (id) => items.some((item) => item.id === id),
  });
  signal.addEventListener("abort", () => clearTimeout(timer));
  refresh();

  return h(
    "section",
    { class: "card audit-section", "aria-labelledby": "audit-export-title", "data-testid": "audit-export" },
    heading,
    h(
      "p",
      {},
      "Download the log of a range of days with the signed digests that cover it, as JSON Lines. Exports are kept for 7 ",
      "days; a download link works for 5 minutes, and each one is recorded in the log.",
    ),
    form,
    ...msg.nodes,
    tableNode,
    publicKey({ signal }),
  );
}

// "Download": a fresh link (GET /api/audit-events/exports/{id}, audited) and the browser goes to it.
function downloader({ signal, msg, refresh }) {
  return async (item) => {
    msg.clear();
    let found = null;
    try {
      found = await api.get(path`/api/audit-events/exports/${item.id}`, { signal });
    } catch (error) {
      const gone = error instanceof ApiError && error.status === 404;
      if (!gone) return sessionEnded(error) ? undefined : showError(msg, error);
    }
    if (!found?.download_url) {
      msg.error(found ? "This export is not ready to download yet." : "This export is gone: exports are kept for 7 days. Ask for a new one.");
      return refresh();
    }
    window.location.assign(found.download_url); // an attachment: the browser saves it and stays here
    msg.notice("Your download is starting. The link works for 5 minutes; choose Download again for a new one.");
  };
}

function requestForm({ signal, msg, onRequested, known }) {
  const from = field({ id: "audit-export-from", label: "From", type: "date", hint: "Empty: from the first event.", testid: "audit-export-from" });
  const to = field({ id: "audit-export-to", label: "To", type: "date", hint: "Empty: up to now.", testid: "audit-export-to" });
  const form = h(
    "form",
    { class: "filters audit-export__form", "aria-label": "Request an export", "data-testid": "audit-export-form" },
    from.node,
    to.node,
    h("div", { class: "filters__clear" }, h("button", { type: "submit", class: "button", "data-testid": "audit-export-request" }, "Request export")),
  );
  handleSubmit(
    form,
    async () => {
      const range = {};
      if (from.input.value) range.since = dayStart(from.input.value);
      if (to.input.value) range.until = dayEnd(to.input.value);
      const item = await api.post("/api/audit-events/exports", range, { signal });
      const again = known(item.id);
      onRequested(item);
      msg.notice(
        again
          ? "An export is already being prepared: it is the first one in the list. Ask again when it is done."
          : "Your export is being prepared. It usually takes a minute; the list shows when it is ready.",
      );
    },
    { messages: msg, fields: { since: from, until: to } },
  );
  return form;
}

function exportRow(item, download) {
  const [text, tone] = STATES[item.status] ?? [item.status, null];
  let action = none();
  if (item.status === "ready") {
    action = h("button", { type: "button", class: "button button--secondary button--small", "data-testid": "audit-export-download" }, "Download");
    action.addEventListener("click", () => busy(action, () => download(item)));
  }
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "audit-export-row", "data-export-id": item.id, "data-status": item.status },
    cell("th", "Requested", { scope: "row" }, timeNode(item.requested_at, { testid: "audit-export-requested" })),
    cell("td", "Range", { "data-testid": "audit-export-range" }, h("span", { class: "nowrap" }, item.since ? formatInstant(item.since) : "The first event"), " – ", h("span", { class: "nowrap" }, formatInstant(item.until) ?? "now")),
    cell("td", "Status", {}, h("span", { class: ["badge", tone], "data-testid": "audit-export-status" }, text)),
    cell("td", "Contents", { "data-testid": "audit-export-contents" }, contents(item)),
    cell("td", "Download", {}, action),
  );
}

// "12 events (1 to 12), 2 digests, 5.1 kB" and, when the newest events are not signed yet, which ones are.
function contents(item) {
  if (typeof item.events !== "number") return none();
  const events = item.events === 1 ? "1 event" : `${item.events} events`;
  const range = item.events > 0 ? ` (${item.first_seq} to ${item.last_seq})` : "";
  const digests = item.digests === 1 ? "1 digest" : `${item.digests ?? 0} digests`;
  const size = typeof item.size_bytes === "number" ? h("span", { class: "nowrap" }, KB.format(item.size_bytes / 1000)) : null;
  const unsigned =
    item.events > 0 && (item.signed_through ?? 0) < item.last_seq
      ? h("span", { class: "audit-note" }, `Events after ${item.signed_through ?? 0} are not signed yet.`)
      : null;
  return [h("span", {}, `${events}${range}, ${digests}`, size && ", ", size), unsigned];
}

// The key an auditor checks an export with, to download as a .pem file.
function publicKey({ signal }) {
  const msg = messages("audit-key");
  const keyId = h("code", { "data-testid": "audit-key-id" }, "…");
  let key = null;
  const save = h("button", { type: "button", class: "button button--secondary", "data-testid": "audit-key-download" }, "Download the public key");
  async function load() {
    key = await api.get("/api/audit-events/public-key", { signal });
    keyId.textContent = key.key_id;
  }
  save.addEventListener("click", () =>
    busy(save, async () => {
      msg.clear();
      try {
        if (!key) await load();
        downloadText("protu-audit-public-key.pem", key.public_key_pem, "application/x-pem-file");
      } catch (error) {
        if (!sessionEnded(error)) showError(msg, error);
      }
    }),
  );
  load().catch((error) => {
    keyId.textContent = "not available";
    if (!sessionEnded(error)) showError(msg, error);
  });
  return h(
    "div",
    { class: "audit-key", "data-testid": "audit-key" },
    h("h3", {}, "Public key"),
    h(
      "p",
      {},
      "An auditor verifies an export offline, without trusting Protu’s servers, with this key and ",
      h("code", {}, "tools/verify_audit_export.py"),
      " (see docs/audit.md). Keep its fingerprint: the key is meant never to change.",
    ),
    h("p", {}, "Key id: ", keyId),
    h("div", { class: "actions" }, save),
    ...msg.nodes,
  );
}
