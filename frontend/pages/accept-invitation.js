// Landing page of an invitation email: <origin>/accept-invitation#token=... -> your name and a password,
// POST /api/auth/invitations/accept {token, name, password} -> signed in. A replaced or withdrawn link is dead
// (invalid_token); an address that has its own account meanwhile cannot join (email_in_use: one address, one
// company); a name that is a web address is refused at the name field (name_contains_link).

import { ApiError, api } from "../api.js";
import { finishSignIn, session } from "../session.js";
import { cardForm, describeError, emailedLinkPage, link, linkError, messages, nameField, narrowPage, newPasswordField, submitButton } from "../ui.js";

export const title = "Accept your invitation";

const FRAME = {
  title: "Join your team on Protu",
  lead: "You were invited to Protu. Tell us your name and choose a password to finish.",
  testid: "accept-invitation",
};

export function render({ navigate, signal }) {
  const page = {
    frame: (...children) => narrowPage(FRAME, ...children),
    msg: messages("accept"),
    incomplete: "This invitation link is incomplete. Open the link from the email again.",
    deadLink,
    refused,
  };
  return emailedLinkPage(page, (token) => {
    const name = nameField("accept-name");
    const password = newPasswordField("accept-password", { label: "Choose a password" });
    const form = cardForm(
      { action: "/accept-invitation", testid: "accept-form" },
      name.node,
      password.node,
      submitButton("accept-submit", "Join and sign in"),
    );
    return {
      form,
      fields: { name, password },
      send: () => api.post("/api/auth/invitations/accept", { token, name: name.input.value.trim(), password: password.input.value }, { signal }),
      async done(answer) {
        if (answer?.user?.company?.name) session.setFlash(`Welcome to ${answer.user.company.name} on Protu.`);
        await finishSignIn(answer, { next: null, navigate });
      },
    };
  });
}

// One address, one company: this address has its own Protu account now.
function refused(error) {
  if (!(error instanceof ApiError && error.code === "email_in_use")) return null;
  return linkError("accept-link-error", describeError(error), link("/signin", "Sign in", { "data-testid": "accept-signin" }));
}

function deadLink(text) {
  return linkError("accept-link-error", text, "Ask the person who invited you to send a new invitation.");
}
