// One employee (GET /api/employees/{id}): details with their role and teams (linked), their assessment responses
// (GET /api/employees/{id}/responses, records.js personResponses()), changing them (PATCH with the version it was
// loaded at; 409 version_conflict offers the latest version) and deleting them (DELETE, refused with 409 in_use while
// they lead a team or responses about them exist). Team membership is kept on both sides by the server. Owners (the
// `exports` permission) may also export everything about them or erase them for good (records.js personDataRights()).

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import {
  allows,
  allRecords,
  changes,
  checkList,
  employeeFields,
  employeeValues,
  fillForm,
  fillSelect,
  isConflict,
  isRecordId,
  none,
  personDataRights,
  personResponses,
  requireText,
  sameIds,
  sessionEnded,
  showVersionConflict,
  statusBadge,
} from "../records.js";
import { session } from "../session.js";
import { busy, confirmDialog, describeError, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Employee";

export async function render({ params, signal, navigate }) {
  if (!isRecordId(params.id)) return unavailable("There is no employee at this address.");
  let employee;
  let roles;
  let teams;
  try {
    [employee, roles, teams] = await Promise.all([
      api.get(path`/api/employees/${params.id}`, { signal }),
      allRecords("roles", "title", signal),
      allRecords("teams", "name", signal),
    ]);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    if (error instanceof ApiError && error.status === 404) return unavailable("There is no such employee. They may have been deleted.");
    if (sessionEnded(error)) return unavailable("Your session ended.");
    return unavailable(describeError(error) ?? "The employee could not be loaded.");
  }
  const roleById = new Map(roles.map((role) => [role.id, role]));
  let teamById = new Map(teams.map((team) => [team.id, team]));

  const frame = pageFrame(
    { title: employee.name, testid: "employee-page" },
    h("p", { class: "back-link" }, link("/employees", "All employees", { "data-testid": "employee-back" })),
  );
  const heading = frame.querySelector("h1");
  heading.setAttribute("data-testid", "employee-heading");

  async function gone() {
    session.setFlash("That employee no longer exists. Someone may have deleted them.", "error");
    await navigate("/employees");
  }

  // --------------------------------------------------------------------------------------------- details
  const details = h("dl", { class: "details", "data-testid": "employee-details" });
  function show(current) {
    heading.textContent = current.name;
    const role = current.job_role_id ? roleById.get(current.job_role_id) : null;
    const teamLinks = current.team_ids
      .map((id) => teamById.get(id))
      .filter(Boolean)
      .map((team) => h("li", {}, link(`/teams/${encodeURIComponent(team.id)}`, team.name, { "data-testid": "employee-detail-team-link" })));
    details.replaceChildren(
      h("dt", {}, "Email"),
      h("dd", { "data-testid": "employee-detail-email" }, current.email || none()),
      h("dt", {}, "Role"),
      h(
        "dd",
        { "data-testid": "employee-detail-role" },
        role
          ? link(`/roles/${encodeURIComponent(role.id)}`, role.title, { "data-testid": "employee-detail-role-link" })
          : current.job_role_id
            ? h("span", { class: "muted" }, "Unknown role")
            : none(),
      ),
      h("dt", {}, "Teams"),
      h("dd", { "data-testid": "employee-detail-teams" }, teamLinks.length ? h("ul", { class: "name-list" }, teamLinks) : none()),
      h("dt", {}, "Status"),
      h("dd", {}, statusBadge(current.status, "employee-detail-status")),
      h("dt", {}, "Start date"),
      h("dd", { "data-testid": "employee-detail-start-date" }, current.start_date || none()),
      h("dt", {}, "Last changed"),
      h("dd", {}, timeNode(current.updated_at, { testid: "employee-detail-updated" })),
    );
  }
  show(employee);

  // ------------------------------------------------------------------------------------------------ edit
  const formMsg = messages("employee-form");
  const fields = employeeFields();
  const teamChecks = checkList({ id: "employee-teams", legend: "Teams", emptyText: "No teams yet.", testid: "employee-teams" });
  function fill(current) {
    fillSelect(fields.job_role_id.input, roles, "title", "No role", current.job_role_id ?? "");
    teamChecks.fill(
      teams.map((team) => [team.id, team.name]),
      current.team_ids,
    );
    fillForm(fields, current);
  }
  fill(employee);
  const form = h(
    "form",
    {
      class: "form",
      method: "post",
      action: `/employees/${encodeURIComponent(employee.id)}`,
      "aria-labelledby": "employee-edit-title",
      "data-testid": "employee-form",
    },
    fields.name.node,
    h("div", { class: "form__pair" }, fields.email.node, fields.job_role_id.node),
    h("div", { class: "form__pair" }, fields.status.node, fields.start_date.node),
    teamChecks.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "employee-save" }, "Save changes")),
    ...formMsg.nodes,
  );

  async function refresh() {
    [employee, teams] = await Promise.all([api.get(path`/api/employees/${employee.id}`, { signal }), allRecords("teams", "name", signal)]);
    teamById = new Map(teams.map((team) => [team.id, team]));
  }

  async function reload() {
    try {
      await refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return gone();
      return showError(formMsg, error);
    }
    show(employee);
    fill(employee);
    formMsg.notice("This is the latest version of the employee. Make your change again.");
    fields.name.input.focus();
  }

  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.name, formMsg, "Enter the employee's name.")) return;
      const patch = changes(employeeValues(fields), employee);
      const teamIds = teamChecks.values();
      if (!sameIds(teamIds, employee.team_ids)) patch.team_ids = teamIds;
      if (Object.keys(patch).length === 0) {
        formMsg.notice("Nothing to save: the employee is unchanged.");
        return;
      }
      try {
        employee = await api.patch(path`/api/employees/${employee.id}`, { version: employee.version, ...patch }, { signal });
      } catch (error) {
        if (isConflict(error, "version_conflict")) {
          return showVersionConflict(formMsg, { noun: "employee", reload, testid: "employee-reload" });
        }
        if (error instanceof ApiError && error.status === 404) return gone();
        throw error;
      }
      show(employee);
      fill(employee);
      formMsg.notice("Your changes are saved.");
    },
    { messages: formMsg, fields },
  );

  // ---------------------------------------------------------------------------------------------- delete
  const deleteMsg = messages("employee-delete");
  const remove = h("button", { type: "button", class: "button button--danger", "data-testid": "employee-delete" }, "Delete employee");

  async function explainInUse() {
    let led = [];
    try {
      led = (await allRecords("teams", "name", signal)).filter((team) => team.lead_employee_id === employee.id);
    } catch (failure) {
      if (failure?.name === "AbortError") throw failure;
    }
    if (led.length === 0) {
      // Then it is assessment responses about them (the only other records that name an employee).
      return deleteMsg.error(
        "This employee cannot be deleted because assessment responses about them are recorded (see ",
        h("a", { href: "#person-responses-title", "data-testid": "employee-in-use-responses" }, "Assessment responses"),
        "). Delete those responses on their assessments' pages first.",
      );
    }
    const links = led.flatMap((team, n) => [
      n > 0 ? ", " : "",
      link(`/teams/${encodeURIComponent(team.id)}`, team.name, { "data-testid": "employee-in-use-team" }),
    ]);
    return deleteMsg.error(
      `This employee cannot be deleted because they lead ${led.length === 1 ? "a team" : `${led.length} teams`}: `,
      ...links,
      ". Choose another lead for ",
      led.length === 1 ? "that team" : "those teams",
      " first.",
    );
  }

  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete ${employee.name}?`,
      message: "The employee is removed for good, and from their teams. This cannot be undone.",
      confirmLabel: "Delete employee",
      danger: true,
    });
    if (!ok) return remove.focus();
    await busy(remove, async () => {
      deleteMsg.clear();
      try {
        await api.delete(path`/api/employees/${employee.id}`, { signal });
      } catch (error) {
        if (isConflict(error, "in_use")) return explainInUse();
        if (error instanceof ApiError && error.status === 404) return gone();
        return showError(deleteMsg, error);
      }
      session.setFlash(`${employee.name} was deleted.`);
      await navigate("/employees");
    });
    remove.focus();
  });

  // -------------------------------------------------------------------------- data-protection rights (owners)
  const dataRights = allows(session.user, "exports")
    ? [
        personDataRights({
          kind: "employees",
          entity: "employee",
          current: () => employee,
          signal,
          onGone: gone,
          onErased: async (person) => {
            session.setFlash(`${person.name} was erased.`);
            await navigate("/employees");
          },
        }),
      ]
    : [];

  frame.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "employee-details-title", "data-testid": "employee-about" },
      h("h2", { id: "employee-details-title" }, "About this employee"),
      details,
    ),
    personResponses({ kind: "employees", personId: employee.id, noun: "employee", signal }),
    h(
      "section",
      { class: "card", "aria-labelledby": "employee-edit-title", "data-testid": "employee-edit" },
      h("h2", { id: "employee-edit-title" }, "Change this employee"),
      form,
    ),
    ...dataRights,
    h(
      "section",
      { class: "card", "aria-labelledby": "employee-delete-title", "data-testid": "employee-delete-section" },
      h("h2", { id: "employee-delete-title" }, "Delete this employee"),
      h("p", {}, "An employee can be deleted once they lead no team and no assessment responses about them exist."),
      h("div", { class: "actions" }, remove),
      ...deleteMsg.nodes,
    ),
  );
  return frame;
}

function unavailable(text) {
  return pageFrame(
    { title: "Employee not available", testid: "employee-page" },
    h("p", { class: "notice notice--error", role: "alert", "data-testid": "employee-error" }, text),
    h("p", {}, link("/employees", "Go to all employees")),
  );
}
