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
import { busy, messages, ownersOnlyCard, pageFrame, showError, timeNode } from "../ui.js";

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
    const text = ["Only owners can see and change the company's plan. Ask an owner of ", user.company?.name ?? "your company", "."];
    return pageFrame({ title: "Billing", testid: "billing-page" }, ownersOnlyCard({ testid: "billing-not-owner" }, ...text));
  }

  const page = {
    signal,
    msg: messages("billing"),
    summary: h("div", { class: "card", "data-testid": "billing-summary", "aria-busy": "true" }, h("p", {}, "Loading your plan…")),
    choices: h("div", { class: "plans", "data-testid": "billing-plans" }),
    invoices: h("div", { class: "card", "data-testid": "billing-invoices", "aria-live": "polite" }),
    priceSlots: new Map(), // plan -> the element its price goes in
    priced: null,
  };
  const returned = query.get("checkout");
  if (returned) window.history.replaceState(window.history.state, "", "/billing");
  if (returned === "success") page.msg.notice("Thank you. Stripe has confirmed your payment details; your plan updates as soon as Stripe tells us (usually within seconds).");
  if (returned === "cancelled") page.msg.notice("Checkout was cancelled. Nothing was charged.");

  api
    .get("/api/billing/prices", { signal })
    .then(({ plans }) => {
      page.priced = plans;
      showPrices(page);
    })
    .catch(() => {}); // without prices the cards still say what each plan allows
  api
    .get("/api/billing", { signal })
    .then((billing) => showBilling(page, billing))
    .catch((error) => {
      page.summary.setAttribute("aria-busy", "false");
      page.summary.replaceChildren(h("p", {}, "Your plan could not be loaded."));
      showError(page.msg, error);
    });

  return pageFrame(
    { title: "Billing", lead: "Your company's plan and what it allows. Payments are handled by Stripe.", testid: "billing-page" },
    ...page.msg.nodes,
    page.summary,
    h("section", { "aria-labelledby": "plans-title" }, h("h2", { id: "plans-title" }, "Plans"), page.choices),
    page.invoices,
  );
}

// A button that sends the browser to a page of Stripe's (Checkout, the billing portal) the API asks for.
function stripeButton(page, { testid, text, secondary = false, path, body }) {
  const button = h("button", { type: "button", class: ["button", secondary && "button--secondary"], "data-testid": testid }, text);
  button.addEventListener("click", () =>
    busy(button, async () => {
      page.msg.clear();
      try {
        const { url } = await api.post(path, body, { signal: page.signal });
        window.location.assign(url);
      } catch (error) {
        showError(page.msg, error);
      }
    }),
  );
  return button;
}

function showPrices(page) {
  for (const [name, slot] of page.priceSlots) {
    const price = name === "free" ? { amount: 0 } : page.priced?.[name];
    if (price) slot.replaceChildren(priceText(price));
  }
}

function showBilling(page, billing) {
  page.summary.setAttribute("aria-busy", "false");
  page.summary.replaceChildren(...summary(page, billing));
  const subscribed = billing.plan !== "free";
  page.choices.replaceChildren(...billing.plans.map((plan) => planCard(page, plan, billing)));
  if (subscribed) page.choices.append(h("p", { class: "field__hint" }, "To change plans or cancel, use 'Manage billing'."));
  showPrices(page);
  if (billing.has_customer) loadInvoices(page);
  else page.invoices.replaceChildren(h("h2", {}, "Invoices"), h("p", { "data-testid": "billing-invoices-none" }, "No invoices yet."));
}

function summary(page, billing) {
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
  const manage = () => stripeButton(page, { testid: "billing-manage", text: "Manage billing", secondary: true, path: "/api/billing/portal" });
  return [
    h("h2", {}, "Your plan"),
    h("dl", { class: "details" }, ...rows.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    ...notes,
    billing.has_customer ? h("div", { class: "actions" }, manage()) : null,
  ];
}

function planCard(page, plan, billing) {
  const here = plan.name === billing.plan;
  const subscribed = billing.plan !== "free";
  const card = h(
    "div",
    { class: ["card", "plan", here && "plan--current"], "data-testid": `plan-${plan.name}` },
    h("h3", {}, plan.title),
    h("p", { class: "plan__price", "data-testid": `plan-${plan.name}-price` }),
    h("p", {}, `${plan.seats} seats · ${plan.candidates_per_month} new candidates a month`),
  );
  page.priceSlots.set(plan.name, card.querySelector(".plan__price"));
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
    const choose = stripeButton(page, { testid: `plan-${plan.name}-choose`, text: `Choose ${plan.title}`, path: "/api/billing/checkout", body: { plan: plan.name } });
    card.append(h("div", { class: "actions" }, choose));
  }
  return card;
}

async function loadInvoices(page) {
  const { invoices } = page;
  invoices.replaceChildren(h("h2", {}, "Invoices"), h("p", {}, "Loading your invoices…"));
  try {
    const { items } = await api.get("/api/billing/invoices", { signal: page.signal });
    invoices.replaceChildren(
      h("h2", {}, "Invoices"),
      items.length ? invoiceTable(items) : h("p", { "data-testid": "billing-invoices-none" }, "No invoices yet."),
    );
  } catch (error) {
    if (error?.name === "AbortError") return;
    const retry = h("button", { type: "button", class: "button button--secondary", onClick: () => loadInvoices(page) }, "Try again");
    invoices.replaceChildren(
      h("h2", {}, "Invoices"),
      h("p", { class: "notice notice--error", role: "alert" }, "Your invoices could not be loaded from Stripe just now."),
      retry,
    );
  }
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
          h("td", { "data-label": "Invoice" }, invoice.number ?? "—"),
          h("td", { "data-label": "Date" }, timeNode(invoice.created, { relative: false })),
          h("td", { "data-label": "Total" }, money(invoice.total, invoice.currency)),
          h("td", { "data-label": "Status" }, INVOICE_STATUS[invoice.status] ?? invoice.status),
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
