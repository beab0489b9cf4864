// The company's plan, for its owners (GET /api/billing): the plan and its status, the period, the limits in use
// (seats, candidates this month), upgrading through Stripe Checkout (POST /api/billing/checkout {plan} -> {url})
// and managing the subscription in Stripe's billing portal (POST /api/billing/portal -> {url}). The browser goes
// to Stripe's page; Stripe sends the owner back to /billing?checkout=success|cancelled, and tells the API what
// changed through its webhooks, so the page may show "confirming" for a moment after a payment.
// Admins get a short explanation instead (the API answers them 403 anyway).

import { api } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import { busy, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Billing";

const STATUS_TEXT = {
  none: "No subscription",
  active: "Active",
  trialing: "Trial",
  past_due: "Payment overdue",
  unpaid: "Unpaid",
  canceled: "Cancelled",
  incomplete: "Awaiting payment",
  incomplete_expired: "Payment not completed",
  paused: "Paused",
};

export function render({ query, signal }) {
  const user = session.user;
  if (user && !(user.permissions ?? []).includes("billing")) {
    return pageFrame(
      { title: "Billing", testid: "billing-page" },
      h(
        "div",
        { class: "card" },
        h("p", { "data-testid": "billing-not-owner" }, "Only owners can see and change the company's plan. Ask an owner of ", user.company?.name ?? "your company", "."),
        h("p", {}, link("/account", "Go to your account")),
      ),
    );
  }

  const msg = messages("billing");
  const summary = h("div", { class: "card", "data-testid": "billing-summary", "aria-busy": "true" }, h("p", {}, "Loading your plan…"));
  const choices = h("div", { class: "plans", "data-testid": "billing-plans" });
  const returned = query.get("checkout");
  if (returned === "success") msg.notice("Thank you. Stripe has confirmed your payment details; your plan updates as soon as Stripe tells us (usually within seconds).");
  if (returned === "cancelled") msg.notice("Checkout was cancelled. Nothing was charged.");

  async function go(button, path, body) {
    await busy(button, async () => {
      msg.clear();
      try {
        const { url } = await api.post(path, body, { signal });
        window.location.assign(url);
      } catch (error) {
        showError(msg, error);
      }
    });
  }

  function show(billing) {
    summary.setAttribute("aria-busy", "false");
    const current = billing.plans.find((p) => p.name === billing.plan);
    const rows = [
      ["Plan", h("strong", { "data-testid": "billing-plan" }, current?.title ?? billing.plan)],
      ["Status", h("span", { "data-testid": "billing-status", "data-status": billing.status }, STATUS_TEXT[billing.status] ?? billing.status)],
    ];
    if (billing.current_period_end) {
      rows.push([billing.cancel_at_period_end ? "Ends" : "Renews", timeNode(billing.current_period_end, { relative: false, testid: "billing-period-end" })]);
    }
    rows.push(["Seats", usage(billing.seats_used, billing.seats_limit, "billing-seats")]);
    rows.push(["Candidates this month", usage(billing.candidates_this_month, billing.candidates_limit, "billing-candidates")]);
    const notes = [];
    if (billing.payment_failed) {
      notes.push(h("p", { class: "notice notice--error", "data-testid": "billing-payment-failed" }, "Your last payment failed. Update your payment method in 'Manage billing' to keep your plan."));
    }
    if (billing.cancel_at_period_end) {
      notes.push(h("p", { class: "notice", "data-testid": "billing-cancelling" }, "Your subscription ends at the end of this period; you then return to the free plan."));
    }
    const manage = h("button", { type: "button", class: "button button--secondary", "data-testid": "billing-manage" }, "Manage billing");
    manage.addEventListener("click", () => go(manage, "/api/billing/portal"));
    summary.replaceChildren(
      h("h2", {}, "Your plan"),
      h("dl", { class: "details" }, ...rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
      ...notes,
      billing.has_customer ? h("div", { class: "actions" }, manage) : null,
    );

    const subscribed = billing.plan !== "free";
    choices.replaceChildren(
      ...billing.plans.map((plan) => {
        const here = plan.name === billing.plan;
        const card = h(
          "div",
          { class: ["card", "plan", here && "plan--current"], "data-testid": `plan-${plan.name}` },
          h("h3", {}, plan.title),
          h("p", {}, `${plan.seats} seats · ${plan.candidates_per_month} new candidates a month`),
        );
        if (here) card.append(h("p", { class: "badge badge--ok" }, "Your plan"));
        else if (plan.name !== "free" && !subscribed) {
          const choose = h("button", { type: "button", class: "button", "data-testid": `plan-${plan.name}-choose` }, `Choose ${plan.title}`);
          choose.addEventListener("click", () => go(choose, "/api/billing/checkout", { plan: plan.name }));
          card.append(h("div", { class: "actions" }, choose));
        }
        return card;
      }),
    );
    if (subscribed) choices.append(h("p", { class: "field__hint" }, "To change plans or cancel, use 'Manage billing'."));
  }

  api
    .get("/api/billing", { signal })
    .then(show)
    .catch((error) => {
      summary.setAttribute("aria-busy", "false");
      summary.replaceChildren(h("p", {}, "Your plan could not be loaded."));
      showError(msg, error);
    });

  return pageFrame(
    { title: "Billing", lead: "Your company's plan and what it allows. Payments are handled by Stripe.", testid: "billing-page" },
    ...msg.nodes,
    summary,
    h("section", { "aria-labelledby": "plans-title" }, h("h2", { id: "plans-title" }, "Plans"), choices),
  );
}

function usage(used, limit, testid) {
  const full = used >= limit;
  return h(
    "span",
    { "data-testid": testid, class: full ? "usage usage--full" : "usage" },
    `${used} of ${limit}`,
    full ? " — limit reached" : "",
    h("progress", { max: String(limit), value: String(Math.min(used, limit)), "aria-hidden": "true" }),
  );
}
