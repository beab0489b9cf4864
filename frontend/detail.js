// The one detail page of a company record (/roles/:id, /candidates/:id, /employees/:id, /teams/:id,
// /assessments/:id), driven by its kind's declaration in kinds.js (`detail`): the record (GET
// /api/<collection>/{id}), its heading and facts, the widgets the kind plugs in (a person's responses, the
// assessment's responses and response form, a person's data rights), the edit form (PATCH with the version the
// record was loaded at) and the delete (DELETE), with a link back to the list.
//
//   export const { title, render } = detailPage("candidates");     // a page module
//
// What goes wrong is said plainly: no such record (404), Protu not reachable (a network error or a 5xx: "Try
// again"), an edit refused because someone changed the record meanwhile (409 version_conflict: what they typed
// stays, the differences are shown, theirs can be saved over the latest version: widgets/conflict.js), a delete of a
// record still in use (checked before asking to confirm; 409 in_use still explained), a record gone meanwhile.
//
// Test ids (<t> is the kind's testid): <t>-page, <t>-heading, <t>-back, <t>-error and <t>-retry (unavailable),
// <t>-about and <t>-details with <t>-detail-<key>, <t>-edit, <t>-form, <t>-save, <t>-form-notice/-error,
// <t>-delete-section, <t>-delete, <t>-delete-error.

import { ApiError, api, path } from "./api.js";
import { h } from "./dom.js";
import { kindFields, layoutFields } from "./fields.js";
import { badge, enumLabel, KINDS, REF_KEYS } from "./kinds.js";
import { allRecords, isConflict, none, sessionEnded } from "./records.js";
import { schema } from "./schema.js";
import { session } from "./session.js";
import { busy, confirmDialog, describeError, handleSubmit, link, messages, pageFrame, showError, timeNode } from "./ui.js";
import { sameIds } from "./widgets/check-list.js";
import { versionConflict } from "./widgets/conflict.js";

export function detailPage(name) {
  const kind = KINDS[name];
  return { title: capital(kind.noun), render: (context) => renderDetail(kind, context) };
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// "the role Backend engineer" (a person is named by their name alone), and how a record is spoken of.
function named(kind, record) {
  const name = record[kind.nameField];
  return kind.detail.person ? name : `the ${kind.noun} ${name}`;
}

function pronoun(kind) {
  return kind.detail.person ? { they: "They", them: "them" } : { they: "It", them: "it" };
}

// ------------------------------------------------------------------------------------------------ loading

async function renderDetail(kind, { params, signal, navigate }) {
  const ids = await schema().catch(() => null); // the API's id shape (unread: the API judges the address)
  if (ids && !ids.isRecordId(params.id)) return unavailable(kind, `There is no ${kind.noun} at this address.`);
  const page = { kind, signal, navigate, refs: {}, byId: {}, widgets: {} };
  try {
    const loads = [api.get(recordPath(kind, params.id), { signal }), kind.fields ? schema() : null, loadRefs(page)];
    [page.record, page.schema] = await Promise.all(loads);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    return unavailable(kind, loadFailure(kind, error), unreachable(error) ? () => navigate(here(), { replace: true }) : null);
  }
  return detailView(page);
}

function recordPath(kind, id) {
  return path`/api/${kind.collection}/${id}`;
}

function here() {
  return window.location.pathname + window.location.search;
}

// Protu could not be reached, or failed on its side: worth trying again.
function unreachable(error) {
  return error instanceof ApiError && (error.status === 0 || error.status >= 500);
}

function loadFailure(kind, error) {
  if (error instanceof ApiError && error.status === 404) return `There is no such ${kind.noun}. ${pronoun(kind).they} may have been deleted.`;
  if (sessionEnded(error)) return "Your session ended.";
  if (unreachable(error)) return `The ${kind.noun} could not be loaded: ${describeError(error)}`;
  return describeError(error) ?? `The ${kind.noun} could not be loaded.`;
}

// The kinds the record's facts and form name (roles, teams, employees, ...): every record of each, by name.
function refKinds(kind) {
  const names = new Set([...Object.values(kind.fields ?? {}).map((decl) => decl.ref), ...(kind.detail.refs ?? [])]);
  names.delete(undefined);
  return [...names];
}

async function loadRefs(page) {
  const names = refKinds(page.kind);
  const lists = await Promise.all(names.map((name) => allRecords(name, nameKey(name), page.signal)));
  names.forEach((name, n) => {
    page.refs[name] = lists[n];
    page.byId[name] = new Map(lists[n].map((record) => [record.id, record]));
  });
}

function nameKey(kindName) {
  return REF_KEYS[kindName] ?? KINDS[kindName].nameField;
}

// The record (and the records it names) as they are now: after a conflict, the page shows the latest version.
async function refresh(page) {
  const [record] = await Promise.all([api.get(recordPath(page.kind, page.record.id), { signal: page.signal }), loadRefs(page)]);
  page.record = record;
}

function unavailable(kind, text, retry = null) {
  const t = kind.testid;
  const again = retry && h("button", { type: "button", class: "button", "data-testid": `${t}-retry`, onClick: retry }, "Try again");
  return pageFrame(
    { title: `${capital(kind.noun)} not available`, testid: `${t}-page` },
    h("p", { class: "notice notice--error", role: "alert", "data-testid": `${t}-error` }, text),
    again && h("div", { class: "actions" }, again),
    h("p", {}, link(kind.path, `Go to all ${kind.plural}`)),
  );
}

// ------------------------------------------------------------------------------------------------ the page

function detailView(page) {
  const { kind } = page;
  const t = kind.testid;
  page.gone = async () => {
    session.setFlash(`That ${kind.noun} no longer exists. Someone may have deleted ${pronoun(kind).them}.`, "error");
    await page.navigate(kind.path);
  };
  page.current = () => page.record;
  const frame = pageFrame(
    { title: page.record[kind.nameField], testid: `${t}-page` },
    h("p", { class: "back-link" }, link(kind.path, `All ${kind.plural}`, { "data-testid": `${t}-back` })),
  );
  page.heading = frame.querySelector("h1");
  page.heading.setAttribute("data-testid", `${t}-heading`);
  page.details = h("dl", { class: "details", "data-testid": `${t}-details` });
  showRecord(page);
  const widgets = (names) => (names ?? []).map(([name, make]) => (page.widgets[name] = make(page))?.node);
  frame.append(
    card(kind, "about", `About this ${kind.noun}`, page.details, kind.detail.footer?.(page.record)),
    ...widgets(kind.detail.afterAbout),
    card(kind, "edit", `Change this ${kind.noun}`, kind.detail.editHint && h("p", { class: "field__hint" }, kind.detail.editHint), editSection(page)),
    ...widgets(kind.detail.afterEdit),
    deleteSection(page),
  );
  return frame;
}

// A card of the page: "about" (<t>-about, titled <t>-details-title), "edit" (<t>-edit) or "delete"
// (<t>-delete-section).
const CARDS = { about: ["about", "details-title"], edit: ["edit", "edit-title"], delete: ["delete-section", "delete-title"] };

function card(kind, part, heading, ...content) {
  const [testid, titleId] = CARDS[part].map((suffix) => `${kind.testid}-${suffix}`);
  return h("section", { class: "card", "aria-labelledby": titleId, "data-testid": testid }, h("h2", { id: titleId }, heading), ...content);
}

function showRecord(page) {
  page.heading.textContent = page.record[page.kind.nameField];
  page.details.replaceChildren(...page.kind.detail.facts.flatMap((fact) => [h("dt", {}, fact.label), factNode(page, fact)]));
}

// ------------------------------------------------------------------------------------------------ the facts

// A fact of the record (kinds.js detail.facts): `field` (text, a dash when empty; `text` keeps its lines, `mailto`
// links it), `badge` (an enum), `time`, `ref` (a field naming another record, linked), `refs` (a list of them), or
// `cell(record, page)`. Its <dd> is <t>-detail-<key> (key: the fact's `key`, else its field).
function factNode(page, fact) {
  const { kind, record } = page;
  const testid = `${kind.testid}-detail-${fact.key ?? fact.field}`;
  if (fact.badge) return h("dd", {}, badge(fact.badge, record[fact.badge], testid));
  if (fact.time) return h("dd", {}, timeNode(record[fact.time], { relative: fact.relative ?? true, testid }));
  const dd = (content) => h("dd", { class: fact.text ? "details__text" : null, "data-testid": testid }, content);
  if (fact.cell) return dd(fact.cell(record, page));
  if (fact.ref) return dd(refNode(page, fact, record[fact.ref], `${testid}-link`));
  if (fact.refs) {
    const ids = new Set(record[fact.refs]);
    const links = page.refs[refKind(page, fact, fact.refs)].filter((other) => ids.has(other.id));
    const item = (other) => h("li", {}, refLink(page, fact, other, `${kind.testid}-detail-${fact.item}-link`));
    return dd(links.length ? h("ul", { class: "name-list" }, links.map(item)) : none());
  }
  const value = record[fact.field];
  if (!value) return dd(none());
  return dd(fact.mailto ? h("a", { href: `mailto:${value}` }, value) : value);
}

function refKind(page, fact, field) {
  return fact.kind ?? page.kind.fields[field].ref;
}

function refNode(page, fact, id, testid) {
  if (!id) return none();
  const other = page.byId[refKind(page, fact, fact.ref)].get(id);
  return other ? refLink(page, fact, other, testid) : h("span", { class: "muted" }, fact.unknown ?? "Unknown");
}

function refLink(page, fact, other, testid) {
  const target = KINDS[refKind(page, fact, fact.ref ?? fact.refs)];
  return link(`${target.path}/${encodeURIComponent(other.id)}`, other[nameKey(target.collection)], { "data-testid": testid });
}

// ------------------------------------------------------------------------------------------------ editing

// The form of the kind's declared fields (fields.js), or the kind's own editor (kinds.js detail.editor, e.g. the
// assessment builder). Either answers { form, msg, fields, fill(record), values(), check(), focus() }; the message
// is at the top of the form, where a conflict is shown too.
function fieldsEditor(page) {
  const { kind } = page;
  const t = kind.testid;
  const msg = messages(`${t}-form`);
  const built = kindFields(kind, page.schema);
  const layout = kind.detail.layout ?? kind.list.form.layout;
  const form = h(
    "form",
    {
      class: "form",
      method: "post",
      action: `${kind.path}/${encodeURIComponent(page.record.id)}`,
      "aria-labelledby": `${t}-edit-title`,
      "data-testid": `${t}-form`,
    },
    ...msg.nodes,
    ...layoutFields(layout, built.fields, built.checks),
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": `${t}-save` }, "Save changes")),
  );
  function fill(record) {
    built.fillRefs(page.refs);
    for (const [name, f] of Object.entries(built.fields)) {
      f.input.value = record[name] ?? "";
      f.clear();
    }
    for (const [name, checks] of Object.entries(built.checks)) checks.set(record[name]);
  }
  const first = Object.values(built.fields)[0];
  return { form, msg, fields: built.fields, fill, values: built.values, check: () => built.check(msg), focus: () => first.input.focus() };
}

function editSection(page) {
  const editor = (page.kind.detail.editor ?? fieldsEditor)(page);
  const conflict = versionConflict({ noun: page.kind.noun, testid: page.kind.testid });
  page.editor = editor;
  page.conflict = conflict;
  editor.fill(page.record);
  editor.msg.nodes.at(-1).after(conflict.node); // under the message, at the top of the form
  handleSubmit(editor.form, () => save(page), { messages: editor.msg, fields: editor.fields });
  return editor.form;
}

// What differs from `record`: a PATCH body without the version yet. Lists of ids in any order; lists of things
// (the questions) as a whole.
function changes(values, record) {
  return Object.fromEntries(Object.entries(values).filter(([name, value]) => !same(value, record[name])));
}

function same(a, b) {
  if (Array.isArray(a) && a.every((item) => typeof item === "string")) return sameIds(a, b);
  const canonical = (value) =>
    JSON.stringify(value ?? null, (_, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));
  return canonical(a) === canonical(b);
}

async function save(page) {
  const { editor, kind } = page;
  page.conflict.clear();
  if (!editor.check()) return;
  const patch = changes(editor.values(), page.record);
  if (Object.keys(patch).length === 0) return editor.msg.notice(`Nothing to save: the ${kind.noun} is unchanged.`);
  if (await patchRecord(page, page.record.version, patch)) saved(page, "Your changes are saved.");
}

// PATCH the record at `version`; true when saved. A conflict is shown (and answered false), 404 takes the page away.
async function patchRecord(page, version, patch) {
  try {
    page.record = await api.patch(recordPath(page.kind, page.record.id), { version, ...patch }, { signal: page.signal });
    return true;
  } catch (error) {
    if (isConflict(error, "version_conflict")) await conflictFound(page);
    else if (error instanceof ApiError && error.status === 404) await page.gone();
    else throw error;
    return false;
  }
}

function saved(page, text) {
  page.conflict.clear();
  showRecord(page);
  page.editor.fill(page.record);
  for (const widget of Object.values(page.widgets)) widget?.update?.();
  page.editor.msg.notice(text);
  page.editor.msg.nodes[0].scrollIntoView({ block: "nearest" });
}

// The record changed since it was loaded: read the latest version and show, field by field, what the person typed
// next to what is saved now. Their changes (against the version they started from) can then go over the latest.
async function conflictFound(page) {
  const { editor, conflict } = page;
  let latest = null;
  try {
    latest = await api.get(recordPath(page.kind, page.record.id), { signal: page.signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return page.gone();
    if (error?.name === "AbortError") throw error;
  }
  const reload = () => loadLatest(page);
  const overwrite = async () => {
    const patch = changes(editor.values(), page.record);
    if (Object.keys(patch).length === 0) return loadLatest(page);
    if (await patchRecord(page, latest.version, patch)) saved(page, `Your changes are saved over the latest version of the ${page.kind.noun}.`);
  };
  conflict.show(editor.msg, { rows: latest && conflictRows(page, editor.values(), latest), overwrite, reload });
}

function conflictRows(page, values, latest) {
  const rows = [];
  for (const [name, yours] of Object.entries(values)) {
    const mine = !same(yours, page.record[name]);
    if (same(yours, latest[name]) || (!mine && same(page.record[name], latest[name]))) continue;
    const label = (page.kind.fields ?? page.kind.detail.fields)[name]?.label ?? name;
    rows.push({ name, label, mine, yours: describe(page, name, yours), saved: describe(page, name, latest[name]) });
  }
  return rows;
}

// A value as a person reads it: an enum's label, the names of the records an id (or a list) names, the questions.
function describe(page, name, value) {
  const decl = (page.kind.fields ?? page.kind.detail.fields)[name] ?? {};
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) return "(empty)";
  if (decl.enum) return enumLabel(decl.enum, value);
  if (decl.ref) return [value].flat().map((id) => page.byId[decl.ref]?.get(id)?.[nameKey(decl.ref)] ?? "Unknown").join(", ");
  if (Array.isArray(value)) return value.map((item, i) => `${i + 1}. ${item.text ?? item}`).join(" ");
  return String(value);
}

async function loadLatest(page) {
  try {
    await refresh(page);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return page.gone();
    return showError(page.editor.msg, error);
  }
  saved(page, `This is the latest version of the ${page.kind.noun}. Make your change again.`);
  page.editor.focus();
}

// ------------------------------------------------------------------------------------------------ deleting

function deleteSection(page) {
  const { kind } = page;
  const msg = messages(`${kind.testid}-delete`);
  const button = h("button", { type: "button", class: "button button--danger", "data-testid": `${kind.testid}-delete` }, `Delete ${kind.noun}`);
  button.addEventListener("click", () => deleteRecord(page, button, msg));
  const hint = kind.detail.deleteHint && h("p", {}, kind.detail.deleteHint);
  return card(kind, "delete", `Delete this ${kind.noun}`, hint, h("div", { class: "actions" }, button), ...msg.nodes);
}

// What uses the record, asked before the delete is (kinds.js detail.inUse): null when nothing is known to.
async function inUse(page) {
  try {
    return (await page.kind.detail.inUse?.({ ...page, entity: page.kind.noun, record: page.record })) ?? null;
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    return null; // not known here: the API still refuses the delete if it is in use
  }
}

async function deleteRecord(page, button, msg) {
  const { kind } = page;
  msg.clear();
  const reason = await busy(button, () => inUse(page));
  if (reason) {
    msg.error(...reason);
    return button.focus();
  }
  const ok = await confirmDialog({
    title: `Delete ${named(kind, page.record)}?`,
    message: kind.detail.confirm,
    confirmLabel: `Delete ${kind.noun}`,
    danger: true,
  });
  if (!ok) return button.focus();
  await busy(button, async () => {
    try {
      await api.delete(recordPath(kind, page.record.id), { signal: page.signal });
    } catch (error) {
      if (isConflict(error, "in_use")) return msg.error(...((await inUse(page)) ?? inUseAnyway(kind, error)));
      if (error instanceof ApiError && error.status === 404) return page.gone();
      return showError(msg, error);
    }
    session.setFlash(`${capital(named(kind, page.record))} was deleted.`);
    await page.navigate(kind.path);
  });
  if (button.isConnected) button.focus();
}

// Refused as in use although nothing this page can see uses it (409 in_use, details.refs = how many records do).
function inUseAnyway(kind, error) {
  const refs = Number(error?.details?.refs) || 0;
  const users = refs === 1 ? "1 other record" : refs > 1 ? `${refs} other records` : "other records";
  return [`This ${kind.noun} cannot be deleted because ${users} still use ${pronoun(kind).them}. Change or delete those first.`];
}
