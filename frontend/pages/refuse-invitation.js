// Landing page of an invitation email's refuse link: <origin>/refuse-invitation#token=... -> a confirmation, then
// POST /api/auth/invitations/refuse {token}: that invitation is declined (its sender is told) and the address gets no
// more invitations from anyone on Protu for a year. A button, not an automatic request on load: mail scanners that
// open links must not refuse on the person's behalf.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { describeError, handleSubmit, link, linkError, messages, pageFrame, takeFragmentToken } from "../ui.js";

export const title = "Refuse invitations";

const DEAD_LINK = new Set(["invalid_token", "token_expired"]);

export function render({ signal }) {
  const token = takeFragmentToken();
  const msg = messages("refuse");

  if (!token) {
    return frame(deadLink("This link is incomplete. Open the link from the email again."));
  }

  const form = h(
    "form",
    { class: "card form", method: "post", action: "/refuse-invitation", "aria-labelledby": "page-title", "data-testid": "refuse-form" },
    h(
      "p",
      {},
      "You will not join the company that invited you, and nobody on Protu can invite this email address for a year. ",
      "The person who invited you is told that you declined.",
    ),
    h("button", { type: "submit", class: "button button--danger", "data-testid": "refuse-submit" }, "Refuse invitations"),
  );
  const body = h("div", {}, form);
  handleSubmit(
    form,
    async () => {
      try {
        await api.post("/api/auth/invitations/refuse", { token }, { signal });
      } catch (error) {
        if (error instanceof ApiError && DEAD_LINK.has(error.code)) {
          body.replaceChildren(deadLink(describeError(error)));
          return;
        }
        throw error;
      }
      body.replaceChildren(
        h(
          "div",
          { class: "card" },
          h("p", { class: "notice", role: "status", "data-testid": "refuse-done" }, "Done. You will get no more invitations to Protu at this address."),
          h("p", {}, "If you change your mind, ask the company to invite another of your addresses, or ", link("/signup", "create your own company"), "."),
        ),
      );
    },
    { messages: msg },
  );

  return frame(...msg.nodes, body);
}

function frame(...children) {
  return pageFrame(
    {
      title: "Refuse invitations to this address",
      lead: "Someone invited this email address to Protu. If you do not want that, refuse it here.",
      testid: "refuse-invitation",
      narrow: true,
    },
    ...children,
  );
}

function deadLink(text) {
  return linkError("refuse-link-error", text, "The invitation may have been withdrawn or refused already. Nothing else is needed.");
}
