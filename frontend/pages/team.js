// One team (GET /api/teams/{id}): its lead and members (linked), changing it, including who is in it (PATCH with
// member_ids and the version it was loaded at; the server updates the employees' team_ids too), and deleting it.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import {
  allRecords,
  changes,
  checkList,
  fillForm,
  fillSelect,
  isConflict,
  isRecordId,
  none,
  requireText,
  sameIds,
  sessionEnded,
  showVersionConflict,
  teamFields,
  teamValues,
} from "../records.js";
import { session } from "../session.js";
import { busy, confirmDialog, describeError, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Team";

export async function render({ params, signal, navigate }) {
  if (!isRecordId(params.id)) return unavailable("There is no team at this address.");
  let team;
  let employees;
  try {
    [team, employees] = await Promise.all([api.get(path`/api/teams/${params.id}`, { signal }), allRecords("employees", "name", signal)]);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    if (error instanceof ApiError && error.status === 404) return unavailable("There is no such team. It may have been deleted.");
    if (sessionEnded(error)) return unavailable("Your session ended.");
    return unavailable(describeError(error) ?? "The team could not be loaded.");
  }
  let employeeById = new Map(employees.map((employee) => [employee.id, employee]));

  const frame = pageFrame(
    { title: team.name, testid: "team-page" },
    h("p", { class: "back-link" }, link("/teams", "All teams", { "data-testid": "team-back" })),
  );
  const heading = frame.querySelector("h1");
  heading.setAttribute("data-testid", "team-heading");

  async function gone() {
    session.setFlash("That team no longer exists. Someone may have deleted it.", "error");
    await navigate("/teams");
  }

  function personLink(employee, testid) {
    return link(`/employees/${encodeURIComponent(employee.id)}`, employee.name, { "data-testid": testid });
  }

  // --------------------------------------------------------------------------------------------- details
  const details = h("dl", { class: "details", "data-testid": "team-details" });
  function show(current) {
    heading.textContent = current.name;
    const lead = current.lead_employee_id ? employeeById.get(current.lead_employee_id) : null;
    const members = current.member_ids
      .map((id) => employeeById.get(id))
      .filter(Boolean)
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }))
      .map((employee) => h("li", {}, personLink(employee, "team-detail-member-link")));
    details.replaceChildren(
      h("dt", {}, "Lead"),
      h(
        "dd",
        { "data-testid": "team-detail-lead" },
        lead ? personLink(lead, "team-detail-lead-link") : current.lead_employee_id ? h("span", { class: "muted" }, "Unknown") : none(),
      ),
      h("dt", {}, "Members"),
      h("dd", { "data-testid": "team-detail-members" }, members.length ? h("ul", { class: "name-list" }, members) : none()),
      h("dt", {}, "Description"),
      h("dd", { class: "details__text", "data-testid": "team-detail-description" }, current.description || none()),
      h("dt", {}, "Last changed"),
      h("dd", {}, timeNode(current.updated_at, { testid: "team-detail-updated" })),
    );
  }
  show(team);

  // ------------------------------------------------------------------------------------------------ edit
  const formMsg = messages("team-form");
  const fields = teamFields();
  const memberChecks = checkList({
    id: "team-members",
    legend: "Members",
    hint: "Tick the employees in this team.",
    emptyText: "No employees yet.",
    testid: "team-members",
  });
  function fill(current) {
    fillSelect(fields.lead_employee_id.input, employees, "name", "No lead", current.lead_employee_id ?? "");
    memberChecks.fill(
      employees.map((employee) => [employee.id, employee.name]),
      current.member_ids,
    );
    fillForm(fields, current);
  }
  fill(team);
  const form = h(
    "form",
    {
      class: "form",
      method: "post",
      action: `/teams/${encodeURIComponent(team.id)}`,
      "aria-labelledby": "team-edit-title",
      "data-testid": "team-form",
    },
    h("div", { class: "form__pair" }, fields.name.node, fields.lead_employee_id.node),
    fields.description.node,
    memberChecks.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "team-save" }, "Save changes")),
    ...formMsg.nodes,
  );

  async function reload() {
    try {
      [team, employees] = await Promise.all([api.get(path`/api/teams/${team.id}`, { signal }), allRecords("employees", "name", signal)]);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return gone();
      return showError(formMsg, error);
    }
    employeeById = new Map(employees.map((employee) => [employee.id, employee]));
    show(team);
    fill(team);
    formMsg.notice("This is the latest version of the team. Make your change again.");
    fields.name.input.focus();
  }

  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.name, formMsg, "Enter a name for the team.")) return;
      const patch = changes(teamValues(fields), team);
      const memberIds = memberChecks.values();
      if (!sameIds(memberIds, team.member_ids)) patch.member_ids = memberIds;
      if (Object.keys(patch).length === 0) {
        formMsg.notice("Nothing to save: the team is unchanged.");
        return;
      }
      try {
        team = await api.patch(path`/api/teams/${team.id}`, { version: team.version, ...patch }, { signal });
      } catch (error) {
        if (isConflict(error, "version_conflict")) return showVersionConflict(formMsg, { noun: "team", reload, testid: "team-reload" });
        if (error instanceof ApiError && error.status === 404) return gone();
        throw error;
      }
      show(team);
      fill(team);
      formMsg.notice("Your changes are saved.");
    },
    { messages: formMsg, fields },
  );

  // ---------------------------------------------------------------------------------------------- delete
  const deleteMsg = messages("team-delete");
  const remove = h("button", { type: "button", class: "button button--danger", "data-testid": "team-delete" }, "Delete team");
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete the team ${team.name}?`,
      message: "The team is removed for good; its members stay as employees. This cannot be undone.",
      confirmLabel: "Delete team",
      danger: true,
    });
    if (!ok) return remove.focus();
    await busy(remove, async () => {
      deleteMsg.clear();
      try {
        await api.delete(path`/api/teams/${team.id}`, { signal });
      } catch (error) {
        if (isConflict(error, "in_use")) {
          return deleteMsg.error("This team cannot be deleted because other records still use it. Change or delete those first.");
        }
        if (error instanceof ApiError && error.status === 404) return gone();
        return showError(deleteMsg, error);
      }
      session.setFlash(`The team ${team.name} was deleted.`);
      await navigate("/teams");
    });
    remove.focus();
  });

  frame.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "team-details-title", "data-testid": "team-about" },
      h("h2", { id: "team-details-title" }, "About this team"),
      details,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "team-edit-title", "data-testid": "team-edit" },
      h("h2", { id: "team-edit-title" }, "Change this team"),
      form,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "team-delete-title", "data-testid": "team-delete-section" },
      h("h2", { id: "team-delete-title" }, "Delete this team"),
      h("div", { class: "actions" }, remove),
      ...deleteMsg.nodes,
    ),
  );
  return frame;
}

function unavailable(text) {
  return pageFrame(
    { title: "Team not available", testid: "team-page" },
    h("p", { class: "notice notice--error", role: "alert", "data-testid": "team-error" }, text),
    h("p", {}, link("/teams", "Go to all teams")),
  );
}
