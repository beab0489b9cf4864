// Ten recovery codes, shown once: after turning on two-factor authentication, after adding a first passkey
// (widgets/passkey-list.js), or after making a new set. The list, Copy / Download as .txt / Print (styles.css keeps
// only the codes on paper while <html> has .printing-codes), and "I have saved my codes" (`onDone`). The caller puts
// the panel on the page, then focuses its title (`#<testid>-title`).

import { h } from "../dom.js";
import { session } from "../session.js";
import { copyButton, downloadText } from "../ui.js";

// `intro`: what comes before "They are shown only now"; `instead`: what a code stands in for ("a code from your
// authenticator app", "your passkey").
export function recoveryCodesPanel({ codes, msg, title, intro, instead, onDone, testid = "mfa-recovery" }) {
  const list = h(
    "ol",
    { class: "recovery-codes__list", "data-testid": `${testid}-codes` },
    codes.map((c) => h("li", { "data-testid": `${testid}-code` }, h("code", {}, c))),
  );
  return h(
    "div",
    { class: "recovery-codes", "data-testid": testid },
    h("h3", { id: `${testid}-title`, tabindex: "-1" }, title),
    h("p", {}, ...intro, h("strong", {}, "They are shown only now:"), " keep them somewhere safe, such as your password manager."),
    list,
    h("div", { class: "actions" }, ...codesActions({ codes, list, msg, instead, testid })),
    h("div", { class: "actions" }, button(`${testid}-done`, "I have saved my codes", onDone, { secondary: false })),
  );
}

function button(testid, text, onClick, { secondary = true } = {}) {
  return h("button", { type: "button", class: ["button", secondary && "button--secondary"], "data-testid": testid, onClick }, text);
}

// Copy, download as a text file, print.
function codesActions({ codes, list, msg, instead, testid }) {
  const text =
    `Protu recovery codes for ${session.user?.email ?? "your account"}\n` +
    `Each code works once, in place of ${instead}.\n\n` +
    codes.join("\n") +
    "\n";
  const copy = copyButton({ text: codes.join("\n"), node: list, msg, what: "Recovery codes", testid: `${testid}-copy` });
  copy.className = "button button--secondary";
  const download = button(`${testid}-download`, "Download as .txt", () => downloadText("protu-recovery-codes.txt", text));
  const print = button(`${testid}-print`, "Print", () => {
    const root = document.documentElement;
    root.classList.add("printing-codes");
    window.addEventListener("afterprint", () => root.classList.remove("printing-codes"), { once: true });
    window.print();
  });
  return [copy, download, print];
}
