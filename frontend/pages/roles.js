// The company's job roles (GET /api/roles, paged with "Load more") and adding one (POST /api/roles). Each row
// opens the role (/roles/:id) to change or delete it. Owners and admins both manage roles.

import { api } from "../api.js";
import { h } from "../dom.js";
import { none, pager, recordTable, requireText, roleFields } from "../records.js";
import { session } from "../session.js";
import { handleSubmit, link, messages, pageFrame, timeNode } from "../ui.js";

export const title = "Roles";

const PAGE_SIZE = 25;

export function render({ signal }) {
  const msg = messages("roles");
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);

  // ------------------------------------------------------------------------------------------------ list
  const listTitle = h("h2", { id: "roles-list-title", tabindex: "-1" }, "All roles");
  const { table, body, node: tableNode } = recordTable({
    caption: "Job roles of your company",
    columns: ["Title", "Department", "Level", "Last changed"],
    testid: "roles-table",
    labelledBy: "roles-list-title",
  });
  const list = pager({
    table,
    body,
    msg,
    heading: listTitle,
    colspan: 4,
    label: "Load more roles",
    nouns: ["role", "roles"],
    testid: "roles",
    emptyText: "No roles yet. Add the first one below.",
    emptyTestid: "roles-empty",
    fetchPage: (cursor) => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      return api.get(`/api/roles?${query}`, { signal });
    },
    row: roleRow,
  });

  // ---------------------------------------------------------------------------------------------- create
  const formMsg = messages("role-form");
  const fields = roleFields();
  const form = h(
    "form",
    { class: "form", method: "post", action: "/roles", "aria-labelledby": "role-create-title", "data-testid": "role-form" },
    fields.title.node,
    h("div", { class: "form__pair" }, fields.department.node, fields.level.node),
    fields.description.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "role-save" }, "Add role")),
    ...formMsg.nodes,
  );
  handleSubmit(
    form,
    async () => {
      if (!requireText(fields.title, formMsg, "Enter a title for the role.")) return;
      const values = {
        title: fields.title.input.value.trim(),
        department: fields.department.input.value.trim(),
        level: fields.level.input.value.trim(),
        description: fields.description.input.value.trim(),
      };
      const role = await api.post("/api/roles", values, { signal });
      form.reset();
      formMsg.notice("Added the role ", link(`/roles/${encodeURIComponent(role.id)}`, role.title, { "data-testid": "role-created-link" }), ".");
      fields.title.input.focus();
      await list.load({ reset: true });
    },
    { messages: formMsg, fields },
  );

  list.load({ reset: true });

  return pageFrame(
    { title: "Roles", lead: "The job roles your company hires for. Candidates can be linked to a role.", testid: "roles-page" },
    ...msg.nodes,
    h("section", { class: "card", "aria-labelledby": "roles-list-title", "data-testid": "roles-list" }, listTitle, tableNode, list.more),
    h(
      "section",
      { class: "card", "aria-labelledby": "role-create-title", "data-testid": "role-create" },
      h("h2", { id: "role-create-title" }, "Add a role"),
      form,
    ),
  );
}

function roleRow(role) {
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "role-row", "data-role-id": role.id },
    h(
      "th",
      { scope: "row", class: "records-table__name" },
      link(`/roles/${encodeURIComponent(role.id)}`, role.title, { "data-testid": "role-link" }),
    ),
    h("td", { "data-testid": "role-row-department" }, role.department || none()),
    h("td", { "data-testid": "role-row-level" }, role.level || none()),
    h("td", {}, timeNode(role.updated_at, { testid: "role-row-updated" })),
  );
}
