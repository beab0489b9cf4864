// The company's plan, for its owners (GET /api/billing): the plan and its status, the period, the limits in use
// (seats, candidates this month), upgrading through Stripe Checkout (POST /api/billing/checkout {plan} -> {url})
// and managing the subscription in Stripe's billing portal (POST /api/billing/portal -> {url}). The browser goes
// to Stripe's page; Stripe sends the owner back to /billing?checkout=success|cancelled, and tells the API what
// changed through its webhooks, so the page may show "confirming" for a moment after a payment. The paid plans'
// prices (GET /api/billing/prices) and the company's invoices (GET /api/billing/invoices) come from Stripe, asked
// for apart: when Stripe is slow or down, the plan still shows. The notice after Checkout shows once (the address
// loses its ?checkout= at once, so a reload does not repeat it).
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
  if (returned) window.history.replaceState(window.history.state, "", "/billing");
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

  const priceSlots = new Map(); // plan -> the element its price goes in
  let priced = null;
  const invoices = h("div", { class: "card", "data-testid": "billing-invoices", "aria-live": "polite" });

  function showPrices() {
    for (const [name, slot] of priceSlots) {
      const price = name === "free" ? { amount: 0 } : priced?.[name];
      if (price) slot.replaceChildren(priceText(price));
    }
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
          h("p", { class: "plan__price", "data-testid": `plan-${plan.name}-price` }),
          h("p", {}, `${plan.seats} seats · ${plan.candidates_per_month} new candidates a month`),
        );
        priceSlots.set(plan.name, card.querySelector(".plan__price"));
        if (plan.name === "free" && subscribed) {
          card.append(
            h(
              "p",
              { class: "field__hint", "data-testid": "plan-free-downgrade" },
              `Moving to Free: cancel in 'Manage billing'; your plan stays until the end of the period you paid for. ` +
                `You keep all your data, but while more than ${plan.seats} people have access or more than ` +
                `${plan.candidates_per_month} candidates were added this month, nobody new can be invited or added.`,
            ),
          );
        }
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
    showPrices();
    if (billing.has_customer) loadInvoices();
    else invoices.replaceChildren(h("h2", {}, "Invoices"), h("p", { "data-testid": "billing-invoices-none" }, "No invoices yet."));
  }

  async function loadInvoices() {
    invoices.replaceChildren(h("h2", {}, "Invoices"), h("p", {}, "Loading your invoices…"));
    try {
      const { items } = await api.get("/api/billing/invoices", { signal });
      invoices.replaceChildren(
        h("h2", {}, "Invoices"),
        items.length ? invoiceTable(items) : h("p", { "data-testid": "billing-invoices-none" }, "No invoices yet."),
      );
    } catch (error) {
      if (error?.name === "AbortError") return;
      const retry = h("button", { type: "button", class: "button button--secondary", onClick: loadInvoices }, "Try again");
      invoices.replaceChildren(
        h("h2", {}, "Invoices"),
        h("p", { class: "notice notice--error", role: "alert" }, "Your invoices could not be loaded from Stripe just now."),
        retry,
      );
    }
  }

  api
    .get("/api/billing/prices", { signal })
    .then(({ plans }) => {
      priced = plans;
      showPrices();
    })
    .catch(() => {}); // without prices the cards still say what each plan allows

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
    invoices,
  );
}

function money(amount, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: amount % 100 ? 2 : 0 }).format(amount / 100);
}

function priceText(price) {
  if (!price.amount) return "Free";
  return `${money(price.amount, price.currency)} a ${price.interval === "year" ? "year" : "month"}`;
}

const INVOICE_STATUS = { paid: "Paid", open: "Due", draft: "Draft", uncollectible: "Uncollectible", void: "Void" };

function invoiceTable(items) {
  const table = h(
    "table",
    { class: "records-table", "data-testid": "billing-invoice-table" },
    h("caption", { class: "sr-only" }, "Your invoices, newest first"),
    h("thead", {}, h("tr", {}, ...["Invoice", "Date", "Total", "Status", "Links"].map((name) => h("th", { scope: "col" }, name)))),
    h(
      "tbody",
      {},
      ...items.map((invoice) =>
        h(
          "tr",
          { "data-testid": "billing-invoice" },
          h("td", {}, invoice.number ?? "—"),
          h("td", {}, timeNode(invoice.created, { relative: false })),
          h("td", {}, money(invoice.total, invoice.currency)),
          h("td", {}, INVOICE_STATUS[invoice.status] ?? invoice.status),
          h(
            "td",
            {},
            invoice.url ? h("a", { href: invoice.url, rel: "noopener noreferrer", target: "_blank" }, "View") : null,
            invoice.url && invoice.pdf ? " · " : null,
            invoice.pdf ? h("a", { href: invoice.pdf, rel: "noopener noreferrer", target: "_blank" }, "PDF") : null,
          ),
        ),
      ),
    ),
  );
  return h("div", { class: "records-table__scroll", tabindex: "0", role: "region", "aria-label": "Invoices" }, table);
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
