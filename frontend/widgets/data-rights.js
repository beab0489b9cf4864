// A person's data-protection rights for their page (candidate, employee), shown to users with the `exports`
// permission (owners; the API refuses everyone else):
//   "Export their data"   POST /api/<kind>/{id}/export -> {exported_at, person, responses}: everything held about
//                         them, opened, saved as <entity>-<id>.json through a blob: link (each read is audited).
//   "Erase permanently"   the person's name typed to confirm, then DELETE /api/<kind>/{id}?erase=true: their key is
//                         destroyed (copies in backups become unreadable), the responses about them and their record
//                         are deleted. 409 in_use (an employee who leads a team): the API's message is shown.
// `current()` answers the record as the page shows it now (its name may have been changed); `onErased(person)` and
// `onGone()` (404: someone deleted them meanwhile) take the page away.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { allows, isConflict, sessionEnded } from "../records.js";
import { session } from "../session.js";
import { busy, dialog, downloadText, field, messages, showError } from "../ui.js";

export function personDataRights({ kind, entity, current, signal, onErased, onGone }) {
  const msg = messages(`${entity}-data`);
  const exportButton = h("button", { type: "button", class: "button button--secondary", "data-testid": `${entity}-export` }, "Export their data");
  const eraseButton = h("button", { type: "button", class: "button button--danger", "data-testid": `${entity}-erase` }, "Erase permanently");
  // What a failure means here: gone meanwhile, the API's reason for refusing an erasure, or an error to show.
  const failed = (error) => {
    if (error instanceof ApiError && error.status === 404) return onGone();
    if (isConflict(error, "in_use")) return msg.error(error.message);
    if (!sessionEnded(error)) showError(msg, error);
  };

  exportButton.addEventListener("click", () =>
    busy(exportButton, async () => {
      msg.clear();
      const person = current();
      let answer;
      try {
        answer = await api.post(path`/api/${kind}/${person.id}/export`, undefined, { signal });
      } catch (error) {
        return failed(error);
      }
      downloadText(`${entity}-${person.id}.json`, `${JSON.stringify(answer, null, 2)}\n`, "application/json");
      msg.notice(`Their data is saved as ${entity}-${person.id}.json. Keep the file safe: it holds their answers in clear.`);
    }),
  );

  eraseButton.addEventListener("click", async () => {
    const person = current();
    if (!(await confirmErasure(entity, person.name))) return eraseButton.focus();
    await busy(eraseButton, async () => {
      msg.clear();
      try {
        await api.delete(`${path`/api/${kind}/${person.id}`}?erase=true`, { signal });
      } catch (error) {
        return failed(error);
      }
      await onErased(person);
    });
    if (eraseButton.isConnected) eraseButton.focus();
  });

  return h(
    "section",
    { class: "card", "aria-labelledby": `${entity}-data-title`, "data-testid": `${entity}-data-section` },
    h("h2", { id: `${entity}-data-title` }, "Their personal data"),
    h(
      "p",
      {},
      `Export everything Protu holds about this ${entity} (their record and every assessment response about them) as a `,
      "JSON file, for example to answer their request for a copy. Each export is recorded in the audit log.",
    ),
    h(
      "p",
      {},
      `Erasing removes this ${entity} and every assessment response about them for good, and destroys the key their `,
      "data was sealed with, so copies in backups can no longer be read either. The audit log keeps that it happened.",
    ),
    h("div", { class: "actions" }, exportButton, eraseButton),
    ...msg.nodes,
  );
}

// The section on a person's page (kinds.js detail.afterEdit), for users who may export (owners); none otherwise.
export function dataRightsWidget(page) {
  if (!allows(session.user, "exports")) return null;
  const onErased = async (person) => {
    session.setFlash(`${person.name} was erased.`);
    await page.navigate(page.kind.path);
  };
  const { collection: kind, noun: entity } = page.kind;
  return { node: personDataRights({ kind, entity, current: page.current, signal: page.signal, onGone: page.gone, onErased }) };
}

// "Erase <name> permanently?" with the name to type: true once typed exactly and confirmed.
export async function confirmErasure(entity, name) {
  const answer = await dialog({
    title: `Erase ${name} permanently?`,
    testid: "erase-person-dialog",
    describedBy: "erase-person-message",
    build: (close) => erasureForm(entity, name, close),
  });
  return answer === true;
}

function erasureForm(entity, name, close) {
  const typed = field({
    id: "erase-person-name",
    label: h("span", {}, "Type their name, ", h("strong", {}, name), ", to confirm"),
    autocomplete: "off",
    spellcheck: "false",
    testid: "erase-person-name",
  });
  const ok = h("button", { type: "submit", class: "button button--danger", "data-testid": "erase-person-ok", disabled: true }, "Erase permanently");
  const matches = () => typed.input.value.trim() === name.trim();
  typed.input.addEventListener("input", () => {
    ok.disabled = !matches();
  });
  const cancel = h(
    "button",
    { type: "button", class: "button button--secondary", "data-testid": "erase-person-cancel", onClick: () => close(false) },
    "Cancel",
  );
  const form = h(
    "form",
    { class: "form", method: "post" },
    h(
      "p",
      { id: "erase-person-message", class: "dialog__text", "data-testid": "erase-person-message" },
      `This ${entity}, every assessment response about them and the key their data was sealed with are deleted. `,
      "This cannot be undone.",
    ),
    typed.node,
    h("div", { class: "dialog__actions" }, cancel, ok),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (matches()) close(true);
  });
  queueMicrotask(() => typed.input.focus());
  return form;
}
