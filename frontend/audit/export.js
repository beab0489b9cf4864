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

import { api } from "../api.js";
import { h } from "../dom.js";
import { none, sessionEnded } from "../records.js";
import { downloadButton, exportList, exportStatus } from "../widgets/export-list.js";
import { busy, cardSection, downloadText, field, handleSubmit, messages, showError, timeNode } from "../ui.js";
import { cell, dayEnd, dayStart, formatInstant } from "./format.js";

const WATCH_MS = 3000;
const KB = new Intl.NumberFormat(undefined, { style: "unit", unit: "kilobyte", unitDisplay: "short", maximumFractionDigits: 1 });

export function exportSection({ signal }) {
  const msg = messages("audit-export");
  const columns = ["Requested", "Range", "Status", "Contents", "Download"];
  const list = exportList({
    signal,
    msg,
    path: "/api/audit-events/exports",
    table: { caption: "Your audit log exports of the last 7 days, newest first", columns, testid: "audit-exports-table" },
    row: exportRow,
    watchMs: WATCH_MS,
    readyText: "Your export is ready: download it from the list below.",
  });
  list.table.classList.add("audit-table");
  const heading = { titleId: "audit-export-title", title: "Export for an auditor", focusable: true };
  return cardSection(
    { ...heading, tone: "audit-section", testid: "audit-export" },
    h(
      "p",
      {},
      "Download the log of a range of days with the signed digests that cover it, as JSON Lines. Exports are kept for 7 ",
      "days; a download link works for 5 minutes, and each one is recorded in the log.",
    ),
    requestForm({ signal, msg, onRequested: list.requested }),
    ...msg.nodes,
    list.node,
    publicKey({ signal }),
  );
}

function requestForm({ signal, msg, onRequested }) {
  const from = field({ id: "audit-export-from", label: "From", type: "date", hint: "Empty: from the first event.", testid: "audit-export-from" });
  const to = field({ id: "audit-export-to", label: "To", type: "date", hint: "Empty: up to now.", testid: "audit-export-to" });
  const form = h(
    "form",
    { class: "filters audit-export__form", "aria-label": "Request an export", "data-testid": "audit-export-form" },
    from.node,
    to.node,
    h("div", { class: "filters__clear" }, h("button", { type: "submit", class: "button", "data-testid": "audit-export-request" }, "Request export")),
  );
  const request = async () => {
    const range = {};
    if (from.input.value) range.since = dayStart(from.input.value);
    if (to.input.value) range.until = dayEnd(to.input.value);
    onRequested(await api.post("/api/audit-events/exports", range, { signal }));
  };
  handleSubmit(form, request, { messages: msg, fields: { since: from, until: to } });
  return form;
}

function exportRow(item, download) {
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "audit-export-row", "data-export-id": item.id, "data-status": item.status },
    cell("th", "Requested", { scope: "row" }, timeNode(item.requested_at, { testid: "audit-export-requested" })),
    cell("td", "Range", { "data-testid": "audit-export-range" }, h("span", { class: "nowrap" }, item.since ? formatInstant(item.since) : "The first event"), " – ", h("span", { class: "nowrap" }, formatInstant(item.until) ?? "now")),
    cell("td", "Status", {}, exportStatus(item, "audit-export-status")),
    cell("td", "Contents", { "data-testid": "audit-export-contents" }, contents(item)),
    cell("td", "Download", {}, downloadButton(item, download, "audit-export-download")),
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
