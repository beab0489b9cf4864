// One job role (GET /api/roles/{id}): its details, changing it (PATCH with the version it was loaded at; a stale
// version is 409 version_conflict, answered with an offer to load the latest version) and deleting it (DELETE,
// refused with 409 in_use while candidates are linked to it).

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import {
  changes,
  explainRoleInUse,
  fillForm,
  formValues,
  isConflict,
  isRecordId,
  none,
  requireText,
  roleFields,
  sessionEnded,
  showVersionConflict,
} from "../records.js";
import { session } from "../session.js";
import { busy, confirmDialog, describeError, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Role";

export async function render({ params, signal, navigate }) {
  if (!isRecordId(params.id)) return unavailable("There is no role at this address.");
  let role;
  try {
    role = await api.get(path`/api/roles/${params.id}`, { signal });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    if (error instanceof ApiError && error.status === 404) return unavailable("There is no such role. It may have been deleted.");
    if (sessionEnded(error)) return unavailable("Your session ended.");
    return unavailable(describeError(error) ?? "The role could not be loaded.");
  }

  const candidatesHref = `/candidates?role=${encodeURIComponent(role.id)}`;
  const frame = pageFrame(
    { title: role.title, testid: "role-page" },
    h("p", { class: "back-link" }, link("/roles", "All roles", { "data-testid": "role-back" })),
  );
  const heading = frame.querySelector("h1");
  heading.setAttribute("data-testid", "role-heading");

  // Gone meanwhile (deleted in another tab or by someone else): back to the list, which says so.
  async function gone() {
    session.setFlash("That role no longer exists. Someone may have deleted it.", "error");
    await navigate("/roles");
  }

  // --------------------------------------------------------------------------------------------- details
  const details = h("dl", { class: "details", "data-testid": "role-details" });
  function show(current) {
    heading.textContent = current.title;
    details.replaceChildren(
      h("dt", {}, "Department"),
      h("dd", { "data-testid": "role-detail-department" }, current.department || none()),
      h("dt", {}, "Level"),
      h("dd", { "data-testid": "role-detail-level" }, current.level || none()),
      h("dt", {}, "Description"),
      h("dd", { class: "details__text", "data-testid": "role-detail-description" }, current.description || none()),
      h("dt", {}, "Added"),
      h("dd", {}, timeNode(current.created_at, { relative: false })),
      h("dt", {}, "Last changed"),
      h("dd", {}, timeNode(current.updated_at, { testid: "role-detail-updated" })),
    );
  }
  show(role);

  // ------------------------------------------------------------------------------------------------ edit
  const formMsg = messages("role-form");
  const fields = roleFields();
  fillForm(fields, role);
  const form = h(
    "form",
    {
      class: "form",
      method: "post",
      action: `/roles/${encodeURIComponent(role.id)}`,
      "aria-labelledby": "role-edit-title",
      "data-testid": "role-form",
    },
    fields.title.node,
    h("div", { class: "form__pair" }, fields.department.node, fields.level.node),
    fields.description.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "role-save" }, "Save changes")),
    ...formMsg.nodes,
  );

  async function reload() {
    try {
      role = await api.get(path`/api/roles/${role.id}`, { signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return gone();
      return showError(formMsg, error);
    }
    show(role);
    fillForm(fields, role);
    formMsg.notice("This is the latest version of the role. Make your change again.");
    fields.title.input.focus();
  }

  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.title, formMsg, "Enter a title for the role.")) return;
      const patch = changes(formValues(fields), role);
      if (Object.keys(patch).length === 0) {
        formMsg.notice("Nothing to save: the role is unchanged.");
        return;
      }
      try {
        role = await api.patch(path`/api/roles/${role.id}`, { version: role.version, ...patch }, { signal });
      } catch (error) {
        if (isConflict(error, "version_conflict")) return showVersionConflict(formMsg, { noun: "role", reload, testid: "role-reload" });
        if (error instanceof ApiError && error.status === 404) return gone();
        throw error;
      }
      show(role);
      fillForm(fields, role);
      formMsg.notice("Your changes are saved.");
    },
    { messages: formMsg, fields },
  );

  // ---------------------------------------------------------------------------------------------- delete
  const deleteMsg = messages("role-delete");
  const remove = h("button", { type: "button", class: "button button--danger", "data-testid": "role-delete" }, "Delete role");
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete the role ${role.title}?`,
      message: "The role is removed for good. This cannot be undone.",
      confirmLabel: "Delete role",
      danger: true,
    });
    if (!ok) return remove.focus();
    await busy(remove, async () => {
      deleteMsg.clear();
      try {
        await api.delete(path`/api/roles/${role.id}`, { signal });
      } catch (error) {
        if (isConflict(error, "in_use")) return deleteMsg.error(...(await explainRoleInUse(error, role.id, signal)));
        if (error instanceof ApiError && error.status === 404) return gone();
        return showError(deleteMsg, error);
      }
      session.setFlash(`The role ${role.title} was deleted.`);
      await navigate("/roles");
    });
    remove.focus();
  });

  frame.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "role-details-title", "data-testid": "role-about" },
      h("h2", { id: "role-details-title" }, "About this role"),
      details,
      h("p", { class: "card__footer" }, link(candidatesHref, "See the candidates for this role", { "data-testid": "role-candidates-link" })),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "role-edit-title", "data-testid": "role-edit" },
      h("h2", { id: "role-edit-title" }, "Change this role"),
      form,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "role-delete-title", "data-testid": "role-delete-section" },
      h("h2", { id: "role-delete-title" }, "Delete this role"),
      h("p", {}, "A role can be deleted once no candidate (or other record) is linked to it."),
      h("div", { class: "actions" }, remove),
      ...deleteMsg.nodes,
    ),
  );
  return frame;
}

function unavailable(text) {
  return pageFrame(
    { title: "Role not available", testid: "role-page" },
    h("p", { class: "notice notice--error", role: "alert", "data-testid": "role-error" }, text),
    h("p", {}, link("/roles", "Go to all roles")),
  );
}
