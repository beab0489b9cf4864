// The account page's "Passkeys" section: the user's passkeys (GET /api/me/passkeys: name, when added, when last
// used, synced across devices or on this device only), "Add a passkey" (POST /api/me/passkeys/options, after
// confirming the password when the API asks for a recent sign-in, then the browser's ceremony and POST
// /api/me/passkeys), Rename (PATCH /api/me/passkeys/{id}) and Remove (a confirmation, then DELETE; when it is the
// last second factor of a company that requires one, the API's reason is shown). `onChanged()` runs after an
// addition or a removal (whether the user has a second factor may have changed). A first passkey (no authenticator
// app) comes with ten recovery codes, shown once here (widgets/recovery-codes.js, as after turning on the app).

import { api, path } from "../api.js";
import { h } from "../dom.js";
import { createPasskey, passkeysSupported } from "../passkeys.js";
import { session } from "../session.js";
import { busy, cardSection, confirmThen, dialog, field, handleSubmit, messages, rowButton, sectionForm, showError, submitButton, timeNode, withReauth } from "../ui.js";
import { recoveryCodesPanel } from "./recovery-codes.js";

const NAME_LIMIT = "100"; // the API's names (protu.schemas.Name)

export function passkeysSection(signal, { onChanged = () => {} } = {}) {
  const msg = messages("passkeys");
  const list = h("ul", { class: "sessions", "data-testid": "passkeys-list", "aria-busy": "true" });
  const codes = h("div", { "data-testid": "passkey-codes-slot" });
  const section = { signal, msg, list, codes, load, onChanged };

  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      const rows = await api.get("/api/me/passkeys", { signal });
      list.replaceChildren(...rows.map((row) => passkeyRow(row, section)));
      if (rows.length === 0) list.append(h("li", { "data-testid": "passkeys-none" }, "You have no passkeys yet."));
    } catch (error) {
      showError(msg, error);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  load();
  return cardSection(
    { titleId: "passkeys-section-title", title: "Passkeys", tone: "account-section", testid: "passkeys-section", focusable: true },
    h(
      "p",
      {},
      "A passkey signs you in with your fingerprint, face or device PIN instead of a password, and cannot be ",
      "phished. ",
      h("strong", {}, "Synced"),
      " passkeys are kept by your password manager or phone account on all your devices; others stay on one ",
      "device or security key.",
    ),
    h(
      "p",
      {},
      "Once you have a passkey, signing in with your password or an email link asks for a second step too: a ",
      "passkey, or a code from your authenticator app if you use one.",
    ),
    list,
    codes,
    passkeysSupported()
      ? addForm(section)
      : h("p", { class: "notice", "data-testid": "passkeys-unsupported" }, "This browser cannot make passkeys. Try a recent browser to add one."),
    ...msg.nodes,
  );
}

function addForm(section) {
  const { msg, signal } = section;
  const name = field({
    id: "passkey-new-name",
    label: "Name of the new passkey",
    hint: "So you can tell your passkeys apart, for example “Work laptop” or “Phone”.",
    value: defaultName(),
    maxlength: NAME_LIMIT,
    autocomplete: "off",
    required: true,
    testid: "passkey-new-name",
  });
  const form = sectionForm({ action: "/account", label: "Add a passkey", testid: "passkey-add-form" }, submitButton("passkey-add", "Add a passkey"), name.node);
  const add = async () => {
    const { ceremony, options } = await withReauth(() => api.post("/api/me/passkeys/options", {}, { signal }), {
      allowCode: session.user?.mfa_enabled,
    });
    const credential = await createPasskey(options, { signal });
    const added = await api.post("/api/me/passkeys", { ceremony, name: name.input.value.trim(), credential }, { signal });
    msg.notice(`Passkey “${added.name}” added. You can sign in with it from now on.`);
    name.input.value = defaultName();
    await section.load();
    section.onChanged();
    if (added.recovery_codes?.length) showCodes(section, added.recovery_codes);
  };
  handleSubmit(form, add, { messages: msg, fields: { name } });
  return form;
}

// The recovery codes that came with a first passkey: each signs in once if the passkey is lost.
function showCodes(section, codes) {
  const intro = ["If you lose this passkey, each of these codes lets you sign in once, in place of it. "];
  const done = () => {
    section.codes.replaceChildren();
    section.msg.notice("Keep your recovery codes safe: each one signs you in once if you lose your passkeys.");
  };
  const panel = recoveryCodesPanel({
    codes,
    msg: section.msg,
    title: "Save your recovery codes",
    intro,
    instead: "your passkey",
    onDone: done,
    testid: "passkey-recovery",
  });
  section.codes.replaceChildren(panel);
  panel.querySelector("#passkey-recovery-title").focus();
}

// "Passkey on Linux" (the system the browser says it runs on), or just "Passkey".
function defaultName() {
  const system = navigator.userAgentData?.platform || "";
  return system ? `Passkey on ${system}` : "Passkey";
}

function passkeyRow(passkey, section) {
  const rename = rowButton({ testid: "passkey-rename", label: `Rename ${passkey.name}` }, "Rename");
  rename.addEventListener("click", () => renamed(rename, passkey, section));
  const remove = confirmThen(rowButton({ testid: "passkey-remove", label: `Remove ${passkey.name}`, danger: true }, "Remove"), {
    question: {
      title: `Remove “${passkey.name}”?`,
      message: "You will no longer be able to sign in with this passkey. Delete it from your device or password manager too.",
      confirmLabel: "Remove passkey",
    },
    msg: section.msg,
    action: async () => {
      await withReauth(() => api.delete(path`/api/me/passkeys/${passkey.id}`, { signal: section.signal }));
      section.msg.notice(`Passkey “${passkey.name}” removed.`);
      await section.load();
      document.getElementById("passkeys-section-title")?.focus(); // its row is gone
      section.onChanged();
    },
  });
  return h(
    "li",
    { class: "sessions__row", "data-testid": "passkey-row", "data-passkey-id": passkey.id },
    h(
      "div",
      { class: "sessions__info" },
      h(
        "p",
        { class: "sessions__device" },
        h("span", { "data-testid": "passkey-name" }, passkey.name),
        " ",
        h("span", { class: ["badge", passkey.synced && "badge--ok"], "data-testid": "passkey-kind" }, passkey.synced ? "Synced" : "This device only"),
      ),
      h(
        "p",
        { class: "sessions__meta" },
        "Added ",
        timeNode(passkey.created_at, { testid: "passkey-created" }),
        " · last used: ",
        timeNode(passkey.last_used_at, { testid: "passkey-last-used" }),
      ),
    ),
    h("div", { class: "actions" }, rename, remove),
  );
}

// Ask for a new name, then PATCH it; the list is drawn again.
async function renamed(button, passkey, section) {
  const name = await dialog({ title: "Rename passkey", testid: "passkey-rename-dialog", build: (close) => renameForm(passkey.name, close) });
  if (name && name !== passkey.name) {
    await busy(button, async () => {
      section.msg.clear();
      try {
        await api.patch(path`/api/me/passkeys/${passkey.id}`, { name }, { signal: section.signal });
        section.msg.notice(`Passkey renamed to “${name}”.`);
        await section.load();
        section.list.querySelector(`[data-passkey-id="${CSS.escape(passkey.id)}"] [data-testid="passkey-rename"]`)?.focus();
      } catch (error) {
        showError(section.msg, error);
      }
    });
  }
  if (button.isConnected) button.focus(); // cancelled, or the list could not be drawn again
}

function renameForm(current, close) {
  const name = field({
    id: "passkey-rename-name",
    label: "Name",
    value: current,
    maxlength: NAME_LIMIT,
    autocomplete: "off",
    required: true,
    testid: "passkey-rename-name",
  });
  const cancel = h(
    "button",
    { type: "button", class: "button button--secondary", "data-testid": "passkey-rename-cancel", onClick: () => close(null) },
    "Cancel",
  );
  const form = h(
    "form",
    { class: "form", method: "post" },
    name.node,
    h("div", { class: "dialog__actions" }, cancel, submitButton("passkey-rename-save", "Save")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    close(name.input.value.trim());
  });
  queueMicrotask(() => name.input.select());
  return form;
}
