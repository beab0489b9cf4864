// The company's employees (GET /api/employees, paged with "Load more"), filtered by status, team and role, and
// adding one (POST /api/employees). The filters apply as soon as they change and live in the address
// (/employees?status=active&team=<team id>&role=<role id>). Each row opens the employee (/employees/:id).

import { api } from "../api.js";
import { h } from "../dom.js";
import {
  STATUSES,
  STATUS_NAMES,
  allRecords,
  checkList,
  employeeFields,
  employeeValues,
  fillSelect,
  isRecordId,
  none,
  pager,
  recordTable,
  requireText,
  sessionEnded,
  statusBadge,
} from "../records.js";
import { session } from "../session.js";
import { field, handleSubmit, link, messages, pageFrame, showError } from "../ui.js";

export const title = "Employees";

const PAGE_SIZE = 25;

export function render({ query, signal }) {
  const msg = messages("employees");
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);

  let roleById = new Map();
  let teamById = new Map();

  // --------------------------------------------------------------------------------------------- filters
  const statusFilter = field({
    id: "employee-filter-status",
    label: "Filter by status",
    tag: "select",
    class: "select",
    options: [["", "Any status"], ...STATUSES],
    testid: "employee-filter-status",
  });
  const teamFilter = field({
    id: "employee-filter-team",
    label: "Filter by team",
    tag: "select",
    class: "select",
    options: [["", "All teams"]],
    disabled: true,
    testid: "employee-filter-team",
  });
  const roleFilter = field({
    id: "employee-filter-role",
    label: "Filter by role",
    tag: "select",
    class: "select",
    options: [["", "All roles"]],
    disabled: true,
    testid: "employee-filter-role",
  });
  const clear = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "data-testid": "employee-filter-clear", hidden: true },
    "Show all employees",
  );
  const wanted = { status: query.get("status"), team: query.get("team"), role: query.get("role") };
  statusFilter.input.value = STATUS_NAMES[wanted.status] ? wanted.status : "";
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter employees", "data-testid": "employee-filters" },
    statusFilter.node,
    teamFilter.node,
    roleFilter.node,
    h("div", { class: "filters__clear" }, clear),
  );
  filters.addEventListener("submit", (event) => event.preventDefault());

  function filtered() {
    return Boolean(statusFilter.input.value || teamFilter.input.value || roleFilter.input.value);
  }

  function applyFilters({ initial = false } = {}) {
    const params = new URLSearchParams();
    if (statusFilter.input.value) params.set("status", statusFilter.input.value);
    if (teamFilter.input.value) params.set("team", teamFilter.input.value);
    if (roleFilter.input.value) params.set("role", roleFilter.input.value);
    const search = params.toString();
    const url = `${window.location.pathname}${search ? `?${search}` : ""}`;
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(window.history.state, "", url);
    clear.hidden = !filtered();
    if (!initial) msg.clear();
    return list.load({ reset: true });
  }
  for (const f of [statusFilter, teamFilter, roleFilter]) f.input.addEventListener("change", () => applyFilters());
  clear.addEventListener("click", () => {
    for (const f of [statusFilter, teamFilter, roleFilter]) f.input.value = "";
    applyFilters();
    statusFilter.input.focus();
  });

  // ------------------------------------------------------------------------------------------------ list
  const listTitle = h("h2", { id: "employees-list-title", tabindex: "-1" }, "All employees");
  const { table, body, node: tableNode } = recordTable({
    caption: "Employees of your company",
    columns: ["Name", "Email", "Role", "Teams", "Status"],
    testid: "employees-table",
    labelledBy: "employees-list-title",
  });
  const list = pager({
    table,
    body,
    msg,
    heading: listTitle,
    colspan: 5,
    label: "Load more employees",
    nouns: ["employee", "employees"],
    testid: "employees",
    emptyText: () => (filtered() ? "No employees match these filters." : "No employees yet. Add the first one below."),
    emptyTestid: "employees-empty",
    fetchPage: async (cursor) => {
      await ready;
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (statusFilter.input.value) params.set("status", statusFilter.input.value);
      if (teamFilter.input.value) params.set("team_id", teamFilter.input.value);
      if (roleFilter.input.value) params.set("job_role_id", roleFilter.input.value);
      if (cursor) params.set("cursor", cursor);
      return api.get(`/api/employees?${params}`, { signal });
    },
    row: (employee) => employeeRow(employee, roleById, teamById),
  });

  // ---------------------------------------------------------------------------------------------- create
  const formMsg = messages("employee-form");
  const fields = employeeFields();
  fields.job_role_id.input.append(h("option", { value: "" }, "No role"));
  fields.job_role_id.input.disabled = true;
  const teams = checkList({ id: "employee-teams", legend: "Teams", emptyText: "No teams yet.", testid: "employee-teams" });
  const form = h(
    "form",
    { class: "form", method: "post", action: "/employees", "aria-labelledby": "employee-create-title", "data-testid": "employee-form" },
    fields.name.node,
    h("div", { class: "form__pair" }, fields.email.node, fields.job_role_id.node),
    h("div", { class: "form__pair" }, fields.status.node, fields.start_date.node),
    teams.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "employee-save" }, "Add employee")),
    ...formMsg.nodes,
  );
  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.name, formMsg, "Enter the employee's name.")) return;
      const employee = await api.post("/api/employees", { ...employeeValues(fields), team_ids: teams.values() }, { signal });
      form.reset();
      teams.set([]);
      formMsg.notice(
        "Added ",
        link(`/employees/${encodeURIComponent(employee.id)}`, employee.name, { "data-testid": "employee-created-link" }),
        ".",
      );
      fields.name.input.focus();
      await list.load({ reset: true });
    },
    { messages: formMsg, fields },
  );

  const ready = Promise.all([allRecords("roles", "title", signal), allRecords("teams", "name", signal)]).then(
    ([roleList, teamList]) => {
      roleById = new Map(roleList.map((role) => [role.id, role]));
      teamById = new Map(teamList.map((team) => [team.id, team]));
      fillSelect(roleFilter.input, roleList, "title", "All roles", isRecordId(wanted.role) ? wanted.role : "");
      fillSelect(teamFilter.input, teamList, "name", "All teams", isRecordId(wanted.team) ? wanted.team : "");
      fillSelect(fields.job_role_id.input, roleList, "title", "No role", "");
      teams.fill(teamList.map((team) => [team.id, team.name]));
      roleFilter.input.disabled = false;
      teamFilter.input.disabled = false;
      fields.job_role_id.input.disabled = false;
    },
    (error) => {
      if (!sessionEnded(error) && error?.name !== "AbortError") showError(msg, error);
    },
  );
  ready.then(() => applyFilters({ initial: true }));

  return pageFrame(
    { title: "Employees", lead: "The people who work at your company, their roles and teams.", testid: "employees-page" },
    ...msg.nodes,
    h(
      "section",
      { class: "card", "aria-labelledby": "employees-list-title", "data-testid": "employees-list" },
      listTitle,
      filters,
      tableNode,
      list.more,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "employee-create-title", "data-testid": "employee-create" },
      h("h2", { id: "employee-create-title" }, "Add an employee"),
      form,
    ),
  );
}

function employeeRow(employee, roleById, teamById) {
  const role = employee.job_role_id ? roleById.get(employee.job_role_id) : null;
  const teamNames = employee.team_ids.map((id) => teamById.get(id)?.name).filter(Boolean);
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "employee-row", "data-employee-id": employee.id, "data-status": employee.status },
    h(
      "th",
      { scope: "row", class: "records-table__name" },
      link(`/employees/${encodeURIComponent(employee.id)}`, employee.name, { "data-testid": "employee-link" }),
    ),
    h("td", { class: "records-table__email", "data-testid": "employee-row-email" }, employee.email || none()),
    h("td", { "data-testid": "employee-row-role" }, role ? role.title : employee.job_role_id ? h("span", { class: "muted" }, "Unknown role") : none()),
    h("td", { "data-testid": "employee-row-teams" }, teamNames.length ? teamNames.join(", ") : none()),
    h("td", {}, statusBadge(employee.status, "employee-row-status")),
  );
}
