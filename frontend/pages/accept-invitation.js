// Landing page of an invitation email: <origin>/accept-invitation#token=... -> your name and a password,
// POST /api/auth/invitations/accept {token, name, password} -> signed in. A replaced or withdrawn link is dead
// (invalid_token); an address that has its own account meanwhile cannot join (email_in_use: one address, one
// company); a name that is a web address is refused at the name field (name_contains_link).

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { finishSignIn, session } from "../session.js";
import { describeError, field, handleSubmit, link, linkError, messages, pageFrame, passwordRules, takeFragmentToken } from "../ui.js";

export const title = "Accept your invitation";

const DEAD_LINK = new Set(["invalid_token", "token_expired"]);

export function render({ navigate, signal }) {
  const token = takeFragmentToken();
  const msg = messages("accept");

  if (!token) {
    return frame(deadLink("This invitation link is incomplete. Open the link from the email again."));
  }

  const name = field({
    id: "accept-name",
    label: "Your name",
    name: "name",
    autocomplete: "name",
    required: true,
    maxlength: "100",
    testid: "accept-name",
  });
  const password = field({
    id: "accept-password",
    label: "Choose a password",
    type: "password",
    name: "password",
    autocomplete: "new-password",
    required: true,
    minlength: "8",
    maxlength: "128",
    hint: passwordRules("accept-password-hint"),
    testid: "accept-password",
  });
  const form = h(
    "form",
    { class: "card form", method: "post", action: "/accept-invitation", "aria-labelledby": "page-title", "data-testid": "accept-form" },
    name.node,
    password.node,
    h("button", { type: "submit", class: "button", "data-testid": "accept-submit" }, "Join and sign in"),
  );
  const body = h("div", {}, form);
  handleSubmit(
    form,
    async () => {
      let answer;
      try {
        answer = await api.post(
          "/api/auth/invitations/accept",
          { token, name: name.input.value.trim(), password: password.input.value },
          { signal },
        );
      } catch (error) {
        if (error instanceof ApiError && DEAD_LINK.has(error.code)) {
          body.replaceChildren(deadLink(describeError(error)));
          return;
        }
        if (error instanceof ApiError && error.code === "email_in_use") {
          // One address, one company: this address has its own Protu account now.
          body.replaceChildren(
            h(
              "div",
              { class: "card" },
              h("p", { class: "notice notice--error", role: "alert", "data-testid": "accept-link-error" }, describeError(error)),
              h("p", {}, link("/signin", "Sign in", { "data-testid": "accept-signin" })),
            ),
          );
          return;
        }
        throw error;
      }
      if (answer?.user?.company?.name) session.setFlash(`Welcome to ${answer.user.company.name} on Protu.`);
      await finishSignIn(answer, { next: null, navigate });
    },
    { messages: msg, fields: { name, password } },
  );

  return frame(...msg.nodes, body);
}

function frame(...children) {
  return pageFrame(
    {
      title: "Join your team on Protu",
      lead: "You were invited to Protu. Tell us your name and choose a password to finish.",
      testid: "accept-invitation",
      narrow: true,
    },
    ...children,
  );
}

function deadLink(text) {
  return linkError("accept-link-error", text, "Ask the person who invited you to send a new invitation.");
}
