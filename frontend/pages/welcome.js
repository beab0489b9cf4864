// A new owner's first steps (GET /api/me/welcome): where an owner's sign-in lands until they put the list away
// (POST /api/me/welcome/done), each step ticked from the company's own state and linked to where it is done.

import { api } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import { busy, link, messages, pageFrame, showError } from "../ui.js";

export const title = "Welcome";

const STEPS = {
  verify_email: ["Verify your email address", null, "Done: you signed in with it."],
  two_factor: ["Turn on two-factor authentication", "/account", "A code from an app on your phone at every sign-in keeps a stolen password useless."],
  invite: ["Invite a colleague", "/users", "Admins manage roles, people and assessments; owners also billing and settings."],
  first_role: ["Add a first job role", "/roles", "The roles you hire for; candidates and assessments refer to them."],
  first_candidate: ["Add a first candidate", "/candidates", "Their notes are encrypted with a key of their own."],
};

export function render({ signal, navigate }) {
  const msg = messages("welcome");
  const summary = h("p", { class: "lead", "data-testid": "welcome-summary", "aria-live": "polite" }, "Loading your first steps…");
  const list = h("ol", { class: "checklist", "data-testid": "welcome-steps", "aria-busy": "true" });
  const done = h("button", { type: "button", class: "button button--secondary", "data-testid": "welcome-done" }, "Hide these steps");
  done.addEventListener("click", () =>
    busy(done, async () => {
      try {
        await api.post("/api/me/welcome/done", undefined, { signal });
      } catch (error) {
        return showError(msg, error);
      }
      if (session.user) session.update({ ...session.user, show_welcome: false });
      await navigate("/account");
    }),
  );

  api
    .get("/api/me/welcome", { signal })
    .then(({ steps }) => {
      list.setAttribute("aria-busy", "false");
      const left = steps.filter((step) => !step.done).length;
      summary.textContent = left ? `${steps.length - left} of ${steps.length} done.` : "You are all set.";
      list.replaceChildren(...steps.map(item));
    })
    .catch((error) => {
      if (error?.name === "AbortError") return;
      list.setAttribute("aria-busy", "false");
      summary.textContent = "";
      showError(msg, error);
    });

  return pageFrame(
    { title: "Welcome to Protu", lead: "A few first steps for your company. Each one links to where it is done.", testid: "welcome-page" },
    ...msg.nodes,
    summary,
    list,
    h("div", { class: "actions" }, done, link("/account", "Go to your account")),
  );
}

function item(step) {
  const [text, where, why] = STEPS[step.id] ?? [step.id, null, ""];
  return h(
    "li",
    { class: ["checklist__item", step.done && "checklist__item--done"], "data-testid": `welcome-step-${step.id}`, "data-done": String(step.done) },
    h("span", { class: "checklist__mark", "aria-hidden": "true" }, step.done ? "✓" : "○"),
    h(
      "span",
      {},
      step.done || !where ? h("strong", {}, text) : link(where, text),
      h("span", { class: "sr-only" }, step.done ? " (done)" : " (to do)"),
      h("br"),
      h("span", { class: "muted" }, why),
    ),
  );
}
