// The exports a job prepares (the company's data on /settings, the audit log on /audit), newest first, in a
// recordTable (`table`: its caption, columns and test id; the empty row is <testid>-empty). The list (GET `path`) is asked for again every `watchMs` while one is pending or running: it never
// carries download links, so watching it records nothing in the audit log. When one we watched is done, the status
// region says so. "Download" asks for a fresh link (GET `path`/{id}: each one issued is audited) and the browser goes
// to it; the archive comes as an attachment, so the browser saves it and stays on the page.
//
//   const list = exportList({ signal, msg, path, table: { caption, columns, testid }, row, watchMs, readyText });
//   list.node is the table; row(item, download) builds a row; list.requested(item) puts a new (or the running)
//   export first.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { none, recordTable, sessionEnded } from "../records.js";
import { busy, showError } from "../ui.js";

const WORKING = new Set(["pending", "running"]);
const working = (item) => WORKING.has(item?.status);

export function exportList({ signal, msg, path, table: columns, row, watchMs, readyText }) {
  // The section is named by its heading: the scroll region by the caption.
  const { table, body, node } = recordTable({ ...columns, labelledBy: `${columns.testid}-caption` });
  const empty = () => noExports(`${columns.testid.replace(/-table$/, "")}-empty`, columns.columns.length);
  let items = [];
  let timer = null;

  function show(list) {
    const was = new Map(items.map((item) => [item.id, item]));
    items = list;
    body.replaceChildren(...items.map((item) => row(item, download)));
    if (items.length === 0) body.append(empty());
    table.setAttribute("aria-busy", "false");
    const finished = items.find((item) => working(was.get(item.id)) && !working(item));
    if (finished?.status === "ready") msg.notice(readyText);
    else if (finished) msg.error("The export failed. Ask for a new one; if it fails again, contact support.");
    watch(watchMs);
  }

  function watch(ms) {
    clearTimeout(timer);
    timer = items.some(working) && !signal.aborted ? setTimeout(refresh, ms) : null;
  }

  async function refresh() {
    try {
      show((await api.get(path, { signal })).items);
    } catch (error) {
      if (error?.name === "AbortError" || sessionEnded(error)) return;
      table.setAttribute("aria-busy", "false");
      showError(msg, error);
      watch(watchMs * 2); // passing trouble: keep watching
    }
  }

  async function download(item) {
    msg.clear();
    let found = null;
    try {
      found = await api.get(`${path}/${encodeURIComponent(item.id)}`, { signal });
    } catch (error) {
      const gone = error instanceof ApiError && error.status === 404;
      if (!gone) return sessionEnded(error) ? undefined : showError(msg, error);
    }
    if (!found?.download_url) {
      msg.error(found ? "This export is not ready to download yet." : "This export is gone: exports are kept for 7 days. Ask for a new one.");
      return refresh();
    }
    window.location.assign(found.download_url);
    msg.notice("Your download is starting. The link works for 5 minutes; choose Download again for a new one.");
  }

  // After a request: the answer first in the list (the running one, when one was being prepared already).
  function requested(item) {
    const known = items.some((other) => other.id === item.id);
    show([item, ...items.filter((other) => other.id !== item.id)]);
    msg.notice(
      known
        ? "An export is already being prepared: it is the first one in the list. Ask again when it is done."
        : "Your export is being prepared. It usually takes a minute; the list shows when it is ready.",
    );
  }

  signal.addEventListener("abort", () => clearTimeout(timer));
  refresh();
  return { node, table, refresh, download, requested };
}

const STATUS = {
  pending: ["Waiting to start", null],
  running: ["Being prepared", null],
  ready: ["Ready", "badge--ok"],
  failed: ["Failed", "badge--bad"],
};

// An export's status as a badge (the word always, the colour as a second cue).
export function exportStatus(item, testid) {
  const [text, tone] = STATUS[item.status] ?? [item.status, null];
  return h("span", { class: ["badge", tone], "data-testid": testid, "data-status": item.status }, text);
}

// "Download" for a ready export (`download` is the list's), or `otherwise`.
export function downloadButton(item, download, testid, otherwise = none()) {
  if (item.status !== "ready") return otherwise;
  const button = h("button", { type: "button", class: "button button--secondary button--small", "data-testid": testid }, "Download");
  button.addEventListener("click", () => busy(button, () => download(item)));
  return button;
}

// The row a list without exports shows.
function noExports(testid, colspan) {
  return h("tr", { "data-testid": testid }, h("td", { colspan: String(colspan), class: "records-table__empty" }, "No exports in the last 7 days."));
}
