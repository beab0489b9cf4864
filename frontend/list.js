// The one list page of a kind of company record (/roles, /candidates, /employees, /teams, /assessments), driven by
// its declaration in kinds.js: the records (GET /api/<collection>, paged with "Load more"), the filters and the
// search (?q=, names and email addresses) which apply as they change and live in the address (/candidates?stage=
// interview&role=<role id>&q=maria) so a reload or a shared link keeps them, and the create form (POST), whose
// message shows at its top. Each row opens the record (<path>/:id). The records other records name (roles, teams,
// employees) are loaded first: their names fill the table, the filters and the form.
//
//   export const { title, render } = listPage("candidates");      // a page module

import { api } from "./api.js";
import { h } from "./dom.js";
import { kindFields, layoutFields } from "./fields.js";
import { badge, enumOptions, KINDS, REF_KEYS, refName } from "./kinds.js";
import { allRecords, fillSelect, none, pager, recordTable, sessionEnded } from "./records.js";
import { schema } from "./schema.js";
import { session } from "./session.js";
import { field, handleSubmit, link, messages, pageFrame, showError, timeNode } from "./ui.js";
import { assessmentBuilder } from "./widgets/assessment-builder.js";

const PAGE_SIZE = 25;
const SEARCH_DELAY_MS = 300;

export function listPage(name) {
  const kind = KINDS[name];
  return { title: kind.title, render: (context) => renderList(kind, context) };
}

async function renderList(kind, { query, signal }) {
  const msg = messages(kind.plural);
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);
  const frame = { title: kind.title, lead: kind.lead, testid: `${kind.plural}-page` };
  // The records this list names load meanwhile; the page waits for the API's schema (cached after the first).
  const refs = refsOf(kind);
  const ready = loadRefs(refs, signal).catch((error) => {
    if (!sessionEnded(error) && error?.name !== "AbortError") showError(msg, error);
    return {};
  });
  let s;
  try {
    s = await schema();
  } catch (error) {
    showError(msg, error);
    return pageFrame(frame, ...msg.nodes);
  }
  const filters = filterBar(kind, s, query);
  const list = recordList(kind, { msg, filters, ready, refs, signal });
  const create = createForm(kind, s, { signal, onCreated: () => list.load({ reset: true }) });
  filters.onChange(({ initial }) => {
    if (!initial) msg.clear(); // keeps a notice the page opened with (e.g. "... was deleted.")
    return list.load({ reset: true });
  });
  ready.then((lists) => {
    filters.fillRefs(lists);
    create.fillRefs(lists);
    filters.apply({ initial: true }); // a ?role= naming no role of the company is dropped from the address
  });

  return pageFrame(
    frame,
    ...msg.nodes,
    list.section,
    h(
      "section",
      { class: "card", "aria-labelledby": `${kind.testid}-create-title`, "data-testid": `${kind.testid}-create` },
      h("h2", { id: `${kind.testid}-create-title` }, kind.list.form.heading),
      create.form,
    ),
  );
}

// ------------------------------------------------------------------------------------------- other records

// The kinds this list names (in its columns, filters and form), each an empty Map until loaded.
function refsOf(kind) {
  const names = new Set([
    ...kind.list.columns.map((column) => column.ref?.[1]),
    ...(kind.list.filters ?? []).map((filter) => filter.ref),
    ...Object.values(kind.fields ?? {}).map((decl) => decl.ref),
    ...(kind.list.form.builder ? ["roles"] : []),
  ]);
  names.delete(undefined);
  return Object.fromEntries([...names].map((name) => [name, new Map()]));
}

// Every record of each kind in `refs` (sorted by name); `refs` maps them by id.
async function loadRefs(refs, signal) {
  const names = Object.keys(refs);
  const lists = await Promise.all(names.map((name) => allRecords(name, REF_KEYS[name], signal)));
  const loaded = {};
  names.forEach((name, n) => {
    loaded[name] = lists[n];
    for (const record of lists[n]) refs[name].set(record.id, record);
  });
  return loaded;
}

// ------------------------------------------------------------------------------------------------ filters

// The filters (selects of enum values or of other records) and the search box, kept in step with the address
// (replacing the history entry: Back leaves the page, as expected). apply() reports each change to onChange.
function filterBar(kind, s, query) {
  let changed = () => {};
  const selects = (kind.list.filters ?? []).map((filter) => filterSelect(kind, s, filter, query.get(filter.param)));
  const search = kind.list.search ? searchBox(kind, s, query.get("q"), () => apply()) : null;
  const controls = search ? [search, ...selects] : selects;
  const clear = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "data-testid": `${kind.testid}-filter-clear`, hidden: true },
    `Show all ${kind.plural}`,
  );
  for (const select of selects) select.input.addEventListener("change", () => apply());
  clear.addEventListener("click", () => {
    for (const control of controls) control.input.value = "";
    apply();
    controls[0].input.focus();
  });

  function apply({ initial = false } = {}) {
    search?.cancel();
    const address = new URLSearchParams();
    for (const control of controls) if (control.value()) address.set(control.param, control.value());
    const url = `${window.location.pathname}${address.toString() ? `?${address}` : ""}`;
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(window.history.state, "", url);
    clear.hidden = !controls.some((control) => control.value());
    return changed({ initial });
  }

  return {
    node: controls.length ? filterForm(kind, controls, clear, apply) : null,
    apply,
    params: () => Object.fromEntries(controls.filter((c) => c.value()).map((c) => [c.api, c.value()])),
    emptyText: () => emptyText(kind, search?.value(), selects.some((select) => select.value())),
    fillRefs: (lists) => selects.forEach((select) => select.fillRefs(lists)),
    onChange: (callback) => {
      changed = callback;
    },
  };
}

function filterForm(kind, controls, clear, apply) {
  const node = h(
    "form",
    { class: "filters", role: "search", "aria-label": `Filter ${kind.plural}`, "data-testid": `${kind.testid}-filters` },
    controls.map((control) => control.node),
    h("div", { class: "filters__clear" }, clear),
  );
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  return node;
}

function emptyText(kind, searched, filtered) {
  if (searched) return `No ${kind.plural} match “${searched}”${filtered ? " with these filters" : ""}.`;
  return filtered ? kind.list.emptyFiltered : kind.list.empty;
}

// A select of enum values (only those the API allows) or of other records (enabled once they are loaded).
// `wanted` (from the address) is kept only when it is one of the choices.
function filterSelect(kind, s, filter, wanted) {
  const id = `${kind.testid}-filter-${filter.param}`;
  const api = filter.api ?? filter.param;
  const options = filter.enum ? enumOptions(filter.enum, s.enum(kind.collection, api)) : [];
  const select = field({ id, label: filter.label, tag: "select", class: "select", options: [["", filter.all], ...options], testid: id });
  select.input.disabled = Boolean(filter.ref);
  if (filter.enum && options.some(([value]) => value === wanted)) select.input.value = wanted;
  return {
    node: select.node,
    input: select.input,
    param: filter.param,
    api,
    value: () => select.input.value,
    fillRefs(lists) {
      if (!filter.ref) return;
      fillSelect(select.input, lists[filter.ref] ?? [], REF_KEYS[filter.ref], filter.all, s.isRecordId(wanted) ? wanted : "");
      select.input.disabled = false;
    },
  };
}

// The search box (?q=): applies a moment after typing stops, or at once on Enter.
function searchBox(kind, s, wanted, apply) {
  const id = `${kind.testid}-search`;
  const limit = s.maxLength(kind.collection, "q");
  const box = field({
    id,
    label: "Search by name or email",
    type: "search",
    maxlength: limit === null ? null : String(limit),
    autocomplete: "off",
    spellcheck: "false",
    testid: id,
  });
  box.input.value = (wanted ?? "").trim().slice(0, limit ?? undefined);
  let timer = null;
  box.input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(apply, SEARCH_DELAY_MS);
  });
  return {
    node: box.node,
    input: box.input,
    param: "q",
    api: "q",
    value: () => box.input.value.trim(),
    cancel: () => clearTimeout(timer),
  };
}

// ------------------------------------------------------------------------------------------------- the list

function recordList(kind, { msg, filters, ready, refs, signal }) {
  const titleId = `${kind.plural}-list-title`;
  const heading = h("h2", { id: titleId, tabindex: "-1" }, `All ${kind.plural}`);
  const columns = kind.list.columns;
  const { table, body, node } = recordTable({
    caption: kind.list.caption,
    columns: columns.map((column) => column.header),
    testid: `${kind.plural}-table`,
    labelledBy: `${kind.plural}-table-caption`, // the section is named by the heading: the scroll region by the caption
  });
  const list = pager({
    table,
    body,
    msg,
    heading,
    colspan: columns.length,
    label: `Load more ${kind.plural}`,
    nouns: [kind.noun, kind.plural],
    testid: kind.plural,
    emptyText: filters.emptyText,
    emptyTestid: `${kind.plural}-empty`,
    fetchPage: async (cursor) => {
      await ready;
      const params = new URLSearchParams({ limit: String(PAGE_SIZE), ...filters.params() });
      if (cursor) params.set("cursor", cursor);
      return api.get(`/api/${kind.collection}?${params}`, { signal });
    },
    row: (record) => recordRow(kind, record, refs),
  });
  const section = h(
    "section",
    { class: "card", "aria-labelledby": titleId, "data-testid": `${kind.plural}-list` },
    heading,
    filters.node,
    node,
    list.more,
  );
  return { load: list.load, section };
}

// A row: the record's name (a link to it) as the row's header, then a cell per column. Every cell names its
// column (data-label), so narrow screens can show the rows stacked.
function recordRow(kind, record, refs) {
  const data = Object.fromEntries((kind.list.rowData ?? []).map((name) => [`data-${name}`, record[name]]));
  const [first, ...rest] = kind.list.columns;
  return h(
    "tr",
    { class: "records-table__row", "data-testid": `${kind.testid}-row`, [`data-${kind.noun}-id`]: record.id, ...data },
    h(
      "th",
      { scope: "row", class: "records-table__name", "data-label": first.header },
      link(`${kind.path}/${encodeURIComponent(record.id)}`, record[kind.nameField], { "data-testid": `${kind.testid}-link` }),
    ),
    rest.map((column) => h("td", { class: column.class, "data-label": column.header, ...cellProps(kind, column) }, cellContent(kind, column, record, refs))),
  );
}

function cellProps(kind, column) {
  return column.badge || column.time ? {} : { "data-testid": `${kind.testid}-row-${column.key}` };
}

function cellContent(kind, column, record, refs) {
  const testid = `${kind.testid}-row-${column.key}`;
  if (column.badge) return badge(column.badge, record[column.badge], testid);
  if (column.time) return timeNode(record[column.time], { testid });
  if (column.field) return record[column.field] || none();
  if (column.ref) {
    const [name, other] = column.ref;
    return refName(record[name], refs[other], REF_KEYS[other], column.unknown);
  }
  return column.cell(record, refs);
}

// ---------------------------------------------------------------------------------------------- create form

// The create form: declared fields, or a widget (the assessment builder). Its message shows at its top, where the
// eye is; a record added is linked from there and the list starts over to show it.
function createForm(kind, s, { signal, onCreated }) {
  const form = kind.list.form.builder ? builderForm(kind) : declaredForm(kind, s);
  handleSubmit(
    form.form,
    async () => {
      if (!form.check()) return;
      const record = await api.post(`/api/${kind.collection}`, form.values(), { signal });
      form.reset();
      const [before, after] = kind.list.created;
      const href = `${kind.path}/${encodeURIComponent(record.id)}`;
      form.msg.notice(before, link(href, record[kind.nameField], { "data-testid": `${kind.testid}-created-link` }), after);
      form.first.focus({ preventScroll: true });
      form.msg.nodes[0].scrollIntoView({ block: "nearest" });
      await onCreated();
    },
    { messages: form.msg, fields: form.fields },
  );
  return form;
}

function declaredForm(kind, s) {
  const built = kindFields(kind, s);
  const msg = messages(`${kind.testid}-form`);
  const form = h(
    "form",
    { class: "form", method: "post", action: kind.path, "aria-labelledby": `${kind.testid}-create-title`, "data-testid": `${kind.testid}-form` },
    ...msg.nodes,
    ...layoutFields(kind.list.form.layout, built.fields, built.checks),
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": `${kind.testid}-save` }, kind.list.form.save)),
  );
  return {
    form,
    msg,
    fields: built.fields,
    first: Object.values(built.fields)[0].input,
    check: () => built.check(msg),
    values: built.values,
    reset() {
      form.reset();
      for (const checks of Object.values(built.checks)) checks.set([]);
    },
    fillRefs: built.fillRefs,
  };
}

function builderForm(kind) {
  const builder = assessmentBuilder({ action: kind.path, submitLabel: kind.list.form.save, labelledBy: `${kind.testid}-create-title` });
  builder.reset();
  builder.fields.job_role_id.input.disabled = true; // until the roles are loaded
  builder.form.prepend(...builder.msg.nodes); // the message at the top of the form
  return {
    form: builder.form,
    msg: builder.msg,
    fields: builder.fields,
    first: builder.fields.title.input,
    check: () => builder.check(),
    values: () => builder.values(),
    reset: () => builder.reset(),
    fillRefs(lists) {
      if (!lists.roles) return;
      builder.setRoles(lists.roles ?? [], "");
      builder.fields.job_role_id.input.disabled = false;
    },
  };
}
