// One candidate (GET /api/candidates/{id}): stage, role (linked), contact, source and notes; their assessment
// responses (GET /api/candidates/{id}/responses, records.js personResponses()); changing them (PATCH with the version
// they were loaded at; a stale version is 409 version_conflict, answered with an offer to load the latest version)
// and deleting the candidate (DELETE, refused with 409 in_use while responses about them exist). The role names
// come from GET /api/roles. Owners (the `exports` permission) may also export everything about the candidate or
// erase them for good, responses included (records.js personDataRights()).

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import {
  allows,
  allRoles,
  candidateFields,
  candidateValues,
  changes,
  fillForm,
  fillRoleSelect,
  isConflict,
  isRecordId,
  none,
  personDataRights,
  personResponses,
  requireText,
  sessionEnded,
  showVersionConflict,
  stageBadge,
} from "../records.js";
import { session } from "../session.js";
import { busy, confirmDialog, describeError, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Candidate";

export async function render({ params, signal, navigate }) {
  if (!isRecordId(params.id)) return unavailable("There is no candidate at this address.");
  let candidate;
  let roles = [];
  const rolesLoad = allRoles(signal).catch((error) => error); // the page works without role names
  try {
    candidate = await api.get(path`/api/candidates/${params.id}`, { signal });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    if (error instanceof ApiError && error.status === 404) {
      return unavailable("There is no such candidate. They may have been deleted.");
    }
    if (sessionEnded(error)) return unavailable("Your session ended.");
    return unavailable(describeError(error) ?? "The candidate could not be loaded.");
  }
  const rolesAnswer = await rolesLoad;
  if (signal.aborted) return unavailable("");
  const pageMsg = messages("candidate");
  if (Array.isArray(rolesAnswer)) roles = rolesAnswer;
  else if (!sessionEnded(rolesAnswer)) showError(pageMsg, rolesAnswer);
  const roleById = new Map(roles.map((role) => [role.id, role]));

  const frame = pageFrame(
    { title: candidate.name, testid: "candidate-page" },
    h("p", { class: "back-link" }, link("/candidates", "All candidates", { "data-testid": "candidate-back" })),
    ...pageMsg.nodes,
  );
  const heading = frame.querySelector("h1");
  heading.setAttribute("data-testid", "candidate-heading");

  async function gone() {
    session.setFlash("That candidate no longer exists. Someone may have deleted them.", "error");
    await navigate("/candidates");
  }

  // --------------------------------------------------------------------------------------------- details
  const details = h("dl", { class: "details", "data-testid": "candidate-details" });
  function roleNode(roleId) {
    if (!roleId) return none();
    const role = roleById.get(roleId);
    if (!role) return h("span", { class: "muted" }, "Unknown role");
    return link(`/roles/${encodeURIComponent(role.id)}`, role.title, { "data-testid": "candidate-detail-role-link" });
  }
  function show(current) {
    heading.textContent = current.name;
    details.replaceChildren(
      h("dt", {}, "Stage"),
      h("dd", {}, stageBadge(current.stage, "candidate-detail-stage")),
      h("dt", {}, "Role"),
      h("dd", { "data-testid": "candidate-detail-role" }, roleNode(current.job_role_id)),
      h("dt", {}, "Email"),
      h(
        "dd",
        { "data-testid": "candidate-detail-email" },
        current.email ? h("a", { href: `mailto:${current.email}` }, current.email) : none(),
      ),
      h("dt", {}, "Source"),
      h("dd", { "data-testid": "candidate-detail-source" }, current.source || none()),
      h("dt", {}, "Notes"),
      h("dd", { class: "details__text", "data-testid": "candidate-detail-notes" }, current.notes || none()),
      h("dt", {}, "Added"),
      h("dd", {}, timeNode(current.created_at, { relative: false })),
      h("dt", {}, "Last changed"),
      h("dd", {}, timeNode(current.updated_at, { testid: "candidate-detail-updated" })),
    );
  }
  show(candidate);

  // ------------------------------------------------------------------------------------------------ edit
  const formMsg = messages("candidate-form");
  const fields = candidateFields();
  function fill(current) {
    fillRoleSelect(fields.job_role_id.input, roles, "No role", current.job_role_id ?? "");
    // A role this page does not know (the roles could not be loaded) stays selected, so saving keeps the link.
    if (current.job_role_id && !roleById.has(current.job_role_id)) {
      fields.job_role_id.input.append(h("option", { value: current.job_role_id }, "The current role"));
    }
    fillForm(fields, current);
  }
  fill(candidate);
  const form = h(
    "form",
    {
      class: "form",
      method: "post",
      action: `/candidates/${encodeURIComponent(candidate.id)}`,
      "aria-labelledby": "candidate-edit-title",
      "data-testid": "candidate-form",
    },
    fields.name.node,
    h("div", { class: "form__pair" }, fields.email.node, fields.source.node),
    h("div", { class: "form__pair" }, fields.job_role_id.node, fields.stage.node),
    fields.notes.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "candidate-save" }, "Save changes")),
    ...formMsg.nodes,
  );

  async function reload() {
    try {
      candidate = await api.get(path`/api/candidates/${candidate.id}`, { signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return gone();
      return showError(formMsg, error);
    }
    show(candidate);
    fill(candidate);
    formMsg.notice("This is the latest version of the candidate. Make your change again.");
    fields.name.input.focus();
  }

  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.name, formMsg, "Enter the candidate's name.")) return;
      const patch = changes(candidateValues(fields), candidate);
      if (Object.keys(patch).length === 0) {
        formMsg.notice("Nothing to save: the candidate is unchanged.");
        return;
      }
      try {
        candidate = await api.patch(path`/api/candidates/${candidate.id}`, { version: candidate.version, ...patch }, { signal });
      } catch (error) {
        if (isConflict(error, "version_conflict")) {
          return showVersionConflict(formMsg, { noun: "candidate", reload, testid: "candidate-reload" });
        }
        if (error instanceof ApiError && error.status === 404) return gone();
        throw error;
      }
      show(candidate);
      fill(candidate);
      formMsg.notice("Your changes are saved.");
    },
    { messages: formMsg, fields },
  );

  // ---------------------------------------------------------------------------------------------- delete
  const deleteMsg = messages("candidate-delete");
  const remove = h("button", { type: "button", class: "button button--danger", "data-testid": "candidate-delete" }, "Delete candidate");
  // 409 in_use: assessment responses about the candidate name them (a role or team never does).
  function explainInUse() {
    deleteMsg.error(
      "This candidate cannot be deleted because assessment responses about them are recorded (see ",
      h("a", { href: "#person-responses-title", "data-testid": "candidate-in-use-responses" }, "Assessment responses"),
      "). Delete those responses on their assessments' pages first.",
    );
  }

  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete ${candidate.name}?`,
      message: "The candidate and their notes are removed for good. This cannot be undone.",
      confirmLabel: "Delete candidate",
      danger: true,
    });
    if (!ok) return remove.focus();
    await busy(remove, async () => {
      deleteMsg.clear();
      try {
        await api.delete(path`/api/candidates/${candidate.id}`, { signal });
      } catch (error) {
        if (isConflict(error, "in_use")) return explainInUse();
        if (error instanceof ApiError && error.status === 404) return gone();
        return showError(deleteMsg, error);
      }
      session.setFlash(`${candidate.name} was deleted.`);
      await navigate("/candidates");
    });
    remove.focus();
  });

  // -------------------------------------------------------------------------- data-protection rights (owners)
  const dataRights = allows(session.user, "exports")
    ? [
        personDataRights({
          kind: "candidates",
          entity: "candidate",
          current: () => candidate,
          signal,
          onGone: gone,
          onErased: async (person) => {
            session.setFlash(`${person.name} was erased.`);
            await navigate("/candidates");
          },
        }),
      ]
    : [];

  frame.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "candidate-details-title", "data-testid": "candidate-about" },
      h("h2", { id: "candidate-details-title" }, "About this candidate"),
      details,
    ),
    personResponses({ kind: "candidates", personId: candidate.id, noun: "candidate", signal }),
    h(
      "section",
      { class: "card", "aria-labelledby": "candidate-edit-title", "data-testid": "candidate-edit" },
      h("h2", { id: "candidate-edit-title" }, "Change this candidate"),
      form,
    ),
    ...dataRights,
    h(
      "section",
      { class: "card", "aria-labelledby": "candidate-delete-title", "data-testid": "candidate-delete-section" },
      h("h2", { id: "candidate-delete-title" }, "Delete this candidate"),
      h("p", {}, "Deleting removes the candidate and their notes from Protu. It is refused while assessment responses about them exist."),
      h("div", { class: "actions" }, remove),
      ...deleteMsg.nodes,
    ),
  );
  return frame;
}

function unavailable(text) {
  return pageFrame(
    { title: "Candidate not available", testid: "candidate-page" },
    text ? h("p", { class: "notice notice--error", role: "alert", "data-testid": "candidate-error" }, text) : null,
    h("p", {}, link("/candidates", "Go to all candidates")),
  );
}
