// The company's assessments (GET /api/assessments, paged with "Load more"), filtered by job role, and building a new
// one (POST /api/assessments) with the question builder of records.js. The role filter applies as soon as it
// changes and lives in the address (/assessments?role=<role id>), as on the candidates page. Each row opens the
// assessment (/assessments/:id), where responses are recorded. The role names come from GET /api/roles.

import { api } from "../api.js";
import { h } from "../dom.js";
import {
  allRecords,
  assessmentBuilder,
  fillSelect,
  isRecordId,
  none,
  pager,
  questionCount,
  recordTable,
  sessionEnded,
} from "../records.js";
import { session } from "../session.js";
import { field, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Assessments";

const PAGE_SIZE = 25;

export function render({ query, signal }) {
  const msg = messages("assessments");
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);

  let roleById = new Map();

  // --------------------------------------------------------------------------------------------- filters
  const roleFilter = field({
    id: "assessment-filter-role",
    label: "Filter by job role",
    tag: "select",
    class: "select",
    options: [["", "All roles"]],
    disabled: true, // until the roles are loaded
    testid: "assessment-filter-role",
  });
  const clear = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "data-testid": "assessment-filter-clear", hidden: true },
    "Show all assessments",
  );
  const wanted = query.get("role");
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter assessments", "data-testid": "assessment-filters" },
    roleFilter.node,
    h("div", { class: "filters__clear" }, clear),
  );
  filters.addEventListener("submit", (event) => event.preventDefault());

  function filtered() {
    return Boolean(roleFilter.input.value);
  }

  // Keep the address in step with the filter (replacing the history entry: Back leaves the page, as expected).
  function applyFilters({ initial = false } = {}) {
    const params = new URLSearchParams();
    if (roleFilter.input.value) params.set("role", roleFilter.input.value);
    const search = params.toString();
    const url = `${window.location.pathname}${search ? `?${search}` : ""}`;
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(window.history.state, "", url);
    clear.hidden = !filtered();
    if (!initial) msg.clear(); // keeps a notice the page opened with (e.g. "... was deleted.")
    return list.load({ reset: true });
  }
  roleFilter.input.addEventListener("change", () => applyFilters());
  clear.addEventListener("click", () => {
    roleFilter.input.value = "";
    applyFilters();
    roleFilter.input.focus();
  });

  // ------------------------------------------------------------------------------------------------ list
  const listTitle = h("h2", { id: "assessments-list-title", tabindex: "-1" }, "All assessments");
  const { table, body, node: tableNode } = recordTable({
    caption: "Assessments of your company",
    columns: ["Title", "Job role", "Questions", "Last changed"],
    testid: "assessments-table",
    labelledBy: "assessments-list-title",
  });
  const list = pager({
    table,
    body,
    msg,
    heading: listTitle,
    colspan: 4,
    label: "Load more assessments",
    nouns: ["assessment", "assessments"],
    testid: "assessments",
    emptyText: () => (filtered() ? "No assessments for this role." : "No assessments yet. Build the first one below."),
    emptyTestid: "assessments-empty",
    fetchPage: async (cursor) => {
      await rolesReady;
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (roleFilter.input.value) params.set("job_role_id", roleFilter.input.value);
      if (cursor) params.set("cursor", cursor);
      return api.get(`/api/assessments?${params}`, { signal });
    },
    row: (assessment) => assessmentRow(assessment, roleById),
  });

  // ---------------------------------------------------------------------------------------------- create
  const builder = assessmentBuilder({ action: "/assessments", submitLabel: "Add assessment", labelledBy: "assessment-create-title" });
  builder.reset();
  builder.fields.job_role_id.input.disabled = true; // until the roles are loaded
  handleSubmit(
    builder.form,
    async () => {
      if (!builder.check()) return;
      const assessment = await api.post("/api/assessments", builder.values(), { signal });
      builder.reset();
      builder.msg.notice(
        "Added the assessment ",
        link(`/assessments/${encodeURIComponent(assessment.id)}`, assessment.title, { "data-testid": "assessment-created-link" }),
        ". Open it to record responses.",
      );
      builder.fields.title.input.focus();
      await list.load({ reset: true });
    },
    { messages: builder.msg, fields: builder.fields },
  );

  // The roles first (their names fill the table and both selects), then the assessments: ?role= is only kept once
  // it is known to be one of the company's roles.
  const rolesReady = allRecords("roles", "title", signal).then(
    (roles) => {
      roleById = new Map(roles.map((role) => [role.id, role]));
      fillSelect(roleFilter.input, roles, "title", "All roles", isRecordId(wanted) ? wanted : "");
      builder.setRoles(roles, "");
      roleFilter.input.disabled = false;
      builder.fields.job_role_id.input.disabled = false;
    },
    (error) => {
      if (!sessionEnded(error) && error?.name !== "AbortError") showError(msg, error);
    },
  );
  rolesReady.then(() => applyFilters({ initial: true }));

  return pageFrame(
    {
      title: "Assessments",
      lead: "Question sets for interviews and reviews. Open one to record a candidate's or an employee's answers.",
      testid: "assessments-page",
    },
    ...msg.nodes,
    h(
      "section",
      { class: "card", "aria-labelledby": "assessments-list-title", "data-testid": "assessments-list" },
      listTitle,
      filters,
      tableNode,
      list.more,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "assessment-create-title", "data-testid": "assessment-create" },
      h("h2", { id: "assessment-create-title" }, "New assessment"),
      builder.form,
    ),
  );
}

function assessmentRow(assessment, roleById) {
  const role = assessment.job_role_id ? roleById.get(assessment.job_role_id) : null;
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "assessment-row", "data-assessment-id": assessment.id },
    h(
      "th",
      { scope: "row", class: "records-table__name" },
      link(`/assessments/${encodeURIComponent(assessment.id)}`, assessment.title, { "data-testid": "assessment-link" }),
    ),
    h(
      "td",
      { "data-testid": "assessment-row-role" },
      role ? role.title : assessment.job_role_id ? h("span", { class: "muted" }, "Unknown role") : none(),
    ),
    h("td", { "data-testid": "assessment-row-questions" }, questionCount(assessment)),
    h("td", {}, timeNode(assessment.updated_at, { testid: "assessment-row-updated" })),
  );
}
