// The company's candidates (GET /api/candidates, paged with "Load more"), filtered by stage and role, and adding
// one (POST /api/candidates). The filters apply as soon as they change and live in the address
// (/candidates?stage=interview&role=<role id>), so a reload or a shared link keeps them. Each row opens the
// candidate (/candidates/:id). The role names and selects come from GET /api/roles.

import { api } from "../api.js";
import { h } from "../dom.js";
import {
  STAGES,
  STAGE_NAMES,
  allRoles,
  candidateFields,
  candidateValues,
  fillRoleSelect,
  isRecordId,
  none,
  pager,
  recordTable,
  requireText,
  sessionEnded,
  stageBadge,
} from "../records.js";
import { session } from "../session.js";
import { field, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Candidates";

const PAGE_SIZE = 25;

export function render({ query, signal }) {
  const msg = messages("candidates");
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);

  let roleById = new Map();

  // --------------------------------------------------------------------------------------------- filters
  const stageFilter = field({
    id: "candidate-filter-stage",
    label: "Filter by stage",
    tag: "select",
    class: "select",
    options: [["", "All stages"], ...STAGES],
    testid: "candidate-filter-stage",
  });
  const roleFilter = field({
    id: "candidate-filter-role",
    label: "Filter by role",
    tag: "select",
    class: "select",
    options: [["", "All roles"]],
    disabled: true, // until the roles are loaded
    testid: "candidate-filter-role",
  });
  const clear = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "data-testid": "candidate-filter-clear", hidden: true },
    "Show all candidates",
  );
  const wanted = { stage: query.get("stage"), role: query.get("role") };
  stageFilter.input.value = STAGE_NAMES[wanted.stage] ? wanted.stage : "";
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter candidates", "data-testid": "candidate-filters" },
    stageFilter.node,
    roleFilter.node,
    h("div", { class: "filters__clear" }, clear),
  );
  filters.addEventListener("submit", (event) => event.preventDefault());

  function filtered() {
    return Boolean(stageFilter.input.value || roleFilter.input.value);
  }

  // Keep the address in step with the filters (replacing the history entry: Back leaves the page, as expected).
  function applyFilters({ initial = false } = {}) {
    const params = new URLSearchParams();
    if (stageFilter.input.value) params.set("stage", stageFilter.input.value);
    if (roleFilter.input.value) params.set("role", roleFilter.input.value);
    const search = params.toString();
    const url = `${window.location.pathname}${search ? `?${search}` : ""}`;
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(window.history.state, "", url);
    clear.hidden = !filtered();
    if (!initial) msg.clear(); // keeps a notice the page opened with (e.g. "... was deleted.")
    return list.load({ reset: true });
  }
  stageFilter.input.addEventListener("change", () => applyFilters());
  roleFilter.input.addEventListener("change", () => applyFilters());
  clear.addEventListener("click", () => {
    stageFilter.input.value = "";
    roleFilter.input.value = "";
    applyFilters();
    stageFilter.input.focus();
  });

  // ------------------------------------------------------------------------------------------------ list
  const listTitle = h("h2", { id: "candidates-list-title", tabindex: "-1" }, "All candidates");
  const { table, body, node: tableNode } = recordTable({
    caption: "Candidates of your company",
    columns: ["Name", "Email", "Role", "Stage", "Source", "Last changed"],
    testid: "candidates-table",
    labelledBy: "candidates-list-title",
  });

  const list = pager({
    table,
    body,
    msg,
    heading: listTitle,
    colspan: 6,
    label: "Load more candidates",
    nouns: ["candidate", "candidates"],
    testid: "candidates",
    emptyText: () => (filtered() ? "No candidates match these filters." : "No candidates yet. Add the first one below."),
    emptyTestid: "candidates-empty",
    fetchPage: async (cursor) => {
      await rolesReady;
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (stageFilter.input.value) params.set("stage", stageFilter.input.value);
      if (roleFilter.input.value) params.set("job_role_id", roleFilter.input.value);
      if (cursor) params.set("cursor", cursor);
      return api.get(`/api/candidates?${params}`, { signal });
    },
    row: (candidate) => candidateRow(candidate, roleById),
  });

  // ---------------------------------------------------------------------------------------------- create
  const formMsg = messages("candidate-form");
  const fields = candidateFields();
  fields.job_role_id.input.append(h("option", { value: "" }, "No role"));
  fields.job_role_id.input.disabled = true; // until the roles are loaded
  const form = h(
    "form",
    { class: "form", method: "post", action: "/candidates", "aria-labelledby": "candidate-create-title", "data-testid": "candidate-form" },
    fields.name.node,
    h("div", { class: "form__pair" }, fields.email.node, fields.source.node),
    h("div", { class: "form__pair" }, fields.job_role_id.node, fields.stage.node),
    fields.notes.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "candidate-save" }, "Add candidate")),
    ...formMsg.nodes,
  );
  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.name, formMsg, "Enter the candidate's name.")) return;
      const candidate = await api.post("/api/candidates", candidateValues(fields), { signal });
      form.reset();
      formMsg.notice(
        "Added ",
        link(`/candidates/${encodeURIComponent(candidate.id)}`, candidate.name, { "data-testid": "candidate-created-link" }),
        ".",
      );
      fields.name.input.focus();
      await list.load({ reset: true });
    },
    { messages: formMsg, fields },
  );

  // The roles first (their names fill the table and both selects), then the candidates: ?role= may only be kept
  // once it is known to be one of the company's roles.
  const rolesReady = allRoles(signal).then(
    (roles) => {
      roleById = new Map(roles.map((role) => [role.id, role]));
      fillRoleSelect(roleFilter.input, roles, "All roles", isRecordId(wanted.role) ? wanted.role : "");
      fillRoleSelect(fields.job_role_id.input, roles, "No role", "");
      roleFilter.input.disabled = false;
      fields.job_role_id.input.disabled = false;
    },
    (error) => {
      if (!sessionEnded(error) && error?.name !== "AbortError") showError(msg, error);
    },
  );

  rolesReady.then(() => {
    // ?role= naming no role of the company (e.g. deleted meanwhile) is dropped from the address.
    applyFilters({ initial: true });
  });

  return pageFrame(
    {
      title: "Candidates",
      lead: "People applying to your company, and where they are in your hiring process.",
      testid: "candidates-page",
    },
    ...msg.nodes,
    h(
      "section",
      { class: "card", "aria-labelledby": "candidates-list-title", "data-testid": "candidates-list" },
      listTitle,
      filters,
      tableNode,
      list.more,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "candidate-create-title", "data-testid": "candidate-create" },
      h("h2", { id: "candidate-create-title" }, "Add a candidate"),
      form,
    ),
  );
}

function candidateRow(candidate, roleById) {
  const role = candidate.job_role_id ? roleById.get(candidate.job_role_id) : null;
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "candidate-row", "data-candidate-id": candidate.id, "data-stage": candidate.stage },
    h(
      "th",
      { scope: "row", class: "records-table__name" },
      link(`/candidates/${encodeURIComponent(candidate.id)}`, candidate.name, { "data-testid": "candidate-link" }),
    ),
    h("td", { class: "records-table__email", "data-testid": "candidate-row-email" }, candidate.email || none()),
    h(
      "td",
      { "data-testid": "candidate-row-role" },
      role ? role.title : candidate.job_role_id ? h("span", { class: "muted" }, "Unknown role") : none(),
    ),
    h("td", {}, stageBadge(candidate.stage, "candidate-row-stage")),
    h("td", { "data-testid": "candidate-row-source" }, candidate.source || none()),
    h("td", {}, timeNode(candidate.updated_at, { testid: "candidate-row-updated" })),
  );
}
