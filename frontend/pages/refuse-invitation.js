// Landing page of an invitation email's refuse link: <origin>/refuse-invitation#token=... -> a confirmation, then
// POST /api/auth/invitations/refuse {token}: that invitation is declined (its sender is told) and the address gets no
// more invitations from anyone on Protu for a year. A button, not an automatic request on load: mail scanners that
// open links must not refuse on the person's behalf.

import { api } from "../api.js";
import { h } from "../dom.js";
import { cardForm, emailedLinkPage, link, linkError, messages, narrowPage, submitButton } from "../ui.js";

export const title = "Refuse invitations";

const FRAME = {
  title: "Refuse invitations to this address",
  lead: "Someone invited this email address to Protu. If you do not want that, refuse it here.",
  testid: "refuse-invitation",
};

export function render({ signal }) {
  const page = {
    frame: (...children) => narrowPage(FRAME, ...children),
    msg: messages("refuse"),
    incomplete: "This link is incomplete. Open the link from the email again.",
    deadLink,
  };
  return emailedLinkPage(page, (token) => ({
    form: cardForm(
      { action: "/refuse-invitation", testid: "refuse-form" },
      h(
        "p",
        {},
        "You will not join the company that invited you, and nobody on Protu can invite this email address for a year. ",
        "The person who invited you is told that you declined.",
      ),
      submitButton("refuse-submit", "Refuse invitations", { danger: true }),
    ),
    send: () => api.post("/api/auth/invitations/refuse", { token }, { signal }),
    done: (answer, body) => body.replaceChildren(refusedCard()),
  }));
}

function refusedCard() {
  return h(
    "div",
    { class: "card" },
    h("p", { class: "notice", role: "status", "data-testid": "refuse-done" }, "Done. You will get no more invitations to Protu at this address."),
    h("p", {}, "If you change your mind, ask the company to invite another of your addresses, or ", link("/signup", "create your own company"), "."),
  );
}

function deadLink(text) {
  return linkError("refuse-link-error", text, "The invitation may have been withdrawn or refused already. Nothing else is needed.");
}
