// The company's teams (GET /api/teams, paged with "Load more") and adding one (POST /api/teams) with its lead and
// members. Each row opens the team (/teams/:id). The employees' names come from GET /api/employees.

import { api } from "../api.js";
import { h } from "../dom.js";
import { allRecords, checkList, fillSelect, none, pager, recordTable, requireText, sessionEnded, teamFields, teamValues } from "../records.js";
import { session } from "../session.js";
import { handleSubmit, link, messages, pageFrame, showError } from "../ui.js";

export const title = "Teams";

const PAGE_SIZE = 25;

export function render({ signal }) {
  const msg = messages("teams");
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);

  let employeeById = new Map();

  // ------------------------------------------------------------------------------------------------ list
  const listTitle = h("h2", { id: "teams-list-title", tabindex: "-1" }, "All teams");
  const { table, body, node: tableNode } = recordTable({
    caption: "Teams of your company",
    columns: ["Name", "Lead", "Members"],
    testid: "teams-table",
    labelledBy: "teams-list-title",
  });
  const list = pager({
    table,
    body,
    msg,
    heading: listTitle,
    colspan: 3,
    label: "Load more teams",
    nouns: ["team", "teams"],
    testid: "teams",
    emptyText: "No teams yet. Add the first one below.",
    emptyTestid: "teams-empty",
    fetchPage: async (cursor) => {
      await ready;
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) params.set("cursor", cursor);
      return api.get(`/api/teams?${params}`, { signal });
    },
    row: (team) => teamRow(team, employeeById),
  });

  // ---------------------------------------------------------------------------------------------- create
  const formMsg = messages("team-form");
  const fields = teamFields();
  fields.lead_employee_id.input.append(h("option", { value: "" }, "No lead"));
  fields.lead_employee_id.input.disabled = true;
  const members = checkList({ id: "team-members", legend: "Members", emptyText: "No employees yet.", testid: "team-members" });
  const form = h(
    "form",
    { class: "form", method: "post", action: "/teams", "aria-labelledby": "team-create-title", "data-testid": "team-form" },
    h("div", { class: "form__pair" }, fields.name.node, fields.lead_employee_id.node),
    fields.description.node,
    members.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "team-save" }, "Add team")),
    ...formMsg.nodes,
  );
  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.name, formMsg, "Enter a name for the team.")) return;
      const team = await api.post("/api/teams", { ...teamValues(fields), member_ids: members.values() }, { signal });
      form.reset();
      members.set([]);
      formMsg.notice("Added the team ", link(`/teams/${encodeURIComponent(team.id)}`, team.name, { "data-testid": "team-created-link" }), ".");
      fields.name.input.focus();
      await list.load({ reset: true });
    },
    { messages: formMsg, fields },
  );

  const ready = allRecords("employees", "name", signal).then(
    (employees) => {
      employeeById = new Map(employees.map((employee) => [employee.id, employee]));
      fillSelect(fields.lead_employee_id.input, employees, "name", "No lead", "");
      members.fill(employees.map((employee) => [employee.id, employee.name]));
      fields.lead_employee_id.input.disabled = false;
    },
    (error) => {
      if (!sessionEnded(error) && error?.name !== "AbortError") showError(msg, error);
    },
  );
  list.load({ reset: true });

  return pageFrame(
    { title: "Teams", lead: "The teams of your company, who leads them and who is in them.", testid: "teams-page" },
    ...msg.nodes,
    h("section", { class: "card", "aria-labelledby": "teams-list-title", "data-testid": "teams-list" }, listTitle, tableNode, list.more),
    h(
      "section",
      { class: "card", "aria-labelledby": "team-create-title", "data-testid": "team-create" },
      h("h2", { id: "team-create-title" }, "Add a team"),
      form,
    ),
  );
}

function teamRow(team, employeeById) {
  const lead = team.lead_employee_id ? employeeById.get(team.lead_employee_id) : null;
  const count = team.member_ids.length;
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "team-row", "data-team-id": team.id },
    h("th", { scope: "row", class: "records-table__name" }, link(`/teams/${encodeURIComponent(team.id)}`, team.name, { "data-testid": "team-link" })),
    h("td", { "data-testid": "team-row-lead" }, lead ? lead.name : team.lead_employee_id ? h("span", { class: "muted" }, "Unknown") : none()),
    h("td", { "data-testid": "team-row-members" }, count === 1 ? "1 member" : `${count} members`),
  );
}
