// The audit page's Streams section: the company's audit streams, each sending every new event as it happens to an
// HTTPS endpoint of the company's SIEM, signed as Standard Webhooks signs (webhook-id, webhook-timestamp,
// webhook-signature; docs/audit.md).
//
//   GET    /api/audit-streams                    -> {items: [{id, url, description, status, delivered_seq, ...}]}
//   POST   /api/audit-streams {url, description} -> 201 the stream plus its `secret`, shown this once
//   POST   /api/audit-streams/{id}/test          -> {delivered, status_code?, error?}
//   POST   /api/audit-streams/{id}/rotate-secret -> a new `secret`, shown this once
//   POST   /api/audit-streams/{id}/resume        (a failed one)
//   DELETE /api/audit-streams/{id}
//
// Adding, rotating and resuming may answer 403 reauthentication_required: withReauth asks for the password (or a
// code) and tries again. A secret lives only in the page while it is shown: never in storage or the address. A
// server without streams (404 route_not_found) gets a short explanation instead of the section's controls.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { sessionEnded } from "../records.js";
import { session } from "../session.js";
import { busy, confirmDialog, copyButton, field, handleSubmit, messages, showError, timeNode, withReauth } from "../ui.js";

const MAX_STREAMS = 5;
const STATUS = {
  active: ["Active", "badge--ok"],
  failing: ["Failing, retrying", "badge--warn"],
  failed: ["Stopped after failures", "badge--bad"],
};
const ERRORS = {
  timeout: "it did not answer in time",
  connection: "the connection failed",
  dns: "its host name was not found",
  tls: "the TLS handshake failed",
  address_not_allowed: "its address is not allowed",
};

// "it answered HTTP 500", "it did not answer in time", ... for a status code or an error word of the API.
function failure(code, error) {
  if (code) return `it answered HTTP ${code}`;
  if (/^\d{3}$/.test(error ?? "")) return `it answered HTTP ${error}`;
  return ERRORS[error] ?? (error ? `it failed (${error})` : "it failed");
}

const reauth = () => ({ allowCode: Boolean(session.user?.mfa_enabled) });

export function streamsSection({ signal }) {
  const msg = messages("audit-streams");
  const heading = h("h2", { id: "audit-streams-title", tabindex: "-1" }, "Streams to your SIEM");
  const list = h("ul", { class: "streams", "data-testid": "audit-streams-list" });
  const secretSlot = h("div", { "data-testid": "audit-stream-secret-slot" });
  const empty = h("p", { class: "muted", "data-testid": "audit-streams-empty", hidden: true }, "No streams yet: the log goes nowhere but Protu.");
  const form = addForm({
    signal,
    msg,
    onAdded: (stream) => {
      showSecret(stream, "added");
      return load();
    },
  });
  const body = h("div", {}, list, empty, secretSlot, form.node);

  function show(items) {
    list.replaceChildren(...items.map((stream) => streamItem(stream, { signal, msg, reload: load, showSecret })));
    empty.hidden = items.length > 0;
    form.limit(items.length >= MAX_STREAMS);
  }

  async function load() {
    try {
      show((await api.get("/api/audit-streams", { signal })).items);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.code === "route_not_found") {
        body.replaceChildren(
          h("p", { "data-testid": "audit-streams-unavailable" }, "Streaming the log to a SIEM is not available on this server yet."),
        );
        return;
      }
      if (error?.name === "AbortError" || sessionEnded(error)) return;
      showError(msg, error);
    }
  }

  // The secret, once, until "I have stored it" (or the page is left).
  function showSecret(stream, what) {
    const panel = secretPanel(stream, msg, () => {
      secretSlot.replaceChildren();
      msg.clear();
      heading.focus();
    });
    secretSlot.replaceChildren(panel);
    msg.notice(
      what === "added"
        ? "Stream added. Copy its signing secret below: it is shown only once."
        : "Secret rotated. Copy the new one below: it is shown only once.",
    );
    const input = panel.querySelector("input");
    input.focus();
    input.select();
  }

  load();
  return h(
    "section",
    { class: "card audit-section", "aria-labelledby": "audit-streams-title", "data-testid": "audit-streams" },
    heading,
    h(
      "p",
      {},
      "Protu sends every new event, as it happens, to your security system’s HTTPS endpoint, signed with Standard Webhooks ",
      "(check the ",
      h("code", {}, "webhook-id"),
      ", ",
      h("code", {}, "webhook-timestamp"),
      " and ",
      h("code", {}, "webhook-signature"),
      " headers with the stream’s secret). An export remains the proof; a stream is for alerting.",
    ),
    ...msg.nodes,
    body,
  );
}

// A stream's secret in a read-only field to copy from, with what to do with it; `onDone` when it is stored.
function secretPanel(stream, msg, onDone) {
  const input = h("input", {
    id: "audit-stream-secret",
    type: "text",
    class: "secret-field",
    readonly: true,
    value: stream.secret,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "audit-stream-secret-hint",
    "data-testid": "audit-stream-secret",
  });
  const copy = copyButton({ text: stream.secret, node: input, msg, what: "Secret", testid: "audit-stream-secret-copy" });
  const done = h("button", { type: "button", class: "button button--small", "data-testid": "audit-stream-secret-done" }, "I have stored it");
  done.addEventListener("click", onDone);
  return h(
    "div",
    { class: "secret-panel", "data-testid": "audit-stream-secret-panel" },
    h("label", { for: "audit-stream-secret" }, "Signing secret of ", h("code", {}, stream.url)),
    h(
      "p",
      { id: "audit-stream-secret-hint", class: "field__hint" },
      h("strong", {}, "Shown only now: "),
      "store it in your SIEM to check the signatures. Protu cannot show it again; if it is lost, rotate the secret.",
    ),
    h("div", { class: "secret-row" }, input, copy),
    h("div", { class: "actions" }, done),
  );
}

function addForm({ signal, msg, onAdded }) {
  const url = field({
    id: "audit-stream-url",
    label: "Endpoint address",
    type: "url",
    required: true,
    maxlength: "2000",
    autocomplete: "off",
    spellcheck: "false",
    hint: `An https:// address of your SIEM’s HTTP collector. Up to ${MAX_STREAMS} streams.`,
    testid: "audit-stream-url",
  });
  const description = field({
    id: "audit-stream-description",
    label: "Description (optional)",
    maxlength: "200",
    autocomplete: "off",
    testid: "audit-stream-description",
  });
  const submit = h("button", { type: "submit", class: "button", "data-testid": "audit-stream-add" }, "Add stream");
  const full = h("p", { class: "field__hint", "data-testid": "audit-streams-full", hidden: true }, `You have ${MAX_STREAMS} streams, the most a company may have: remove one to add another.`);
  const form = h(
    "form",
    { class: "form streams__form", "aria-label": "Add a stream", "data-testid": "audit-stream-form" },
    h("h3", {}, "Add a stream"),
    url.node,
    description.node,
    full,
    h("div", { class: "actions" }, submit),
  );
  handleSubmit(
    form,
    async () => {
      const body = { url: url.input.value.trim(), description: description.input.value.trim() };
      const created = await withReauth(() => api.post("/api/audit-streams", body, { signal }), reauth());
      form.reset();
      await onAdded(created);
    },
    { messages: msg, fields: { url, description } },
  );
  return {
    node: form,
    limit(reached) {
      full.hidden = !reached;
      submit.hidden = reached;
    },
  };
}

// A stream's button: clears the messages, runs `run` while disabled, shows what went wrong. Described by the
// stream's address, so "Send a test" says which stream to a screen reader.
function streamButton({ label, testid, describedBy, msg, danger = false }, run) {
  const node = h(
    "button",
    {
      type: "button",
      class: ["button", "button--small", danger ? "button--danger" : "button--secondary"],
      "aria-describedby": describedBy,
      "data-testid": testid,
    },
    label,
  );
  node.addEventListener("click", () =>
    busy(node, async () => {
      msg.clear();
      try {
        await run();
      } catch (error) {
        if (!sessionEnded(error)) showError(msg, error);
      }
    }),
  );
  return node;
}

function streamItem(stream, { signal, msg, reload, showSecret }) {
  const [statusText, tone] = STATUS[stream.status] ?? [stream.status, null];
  const urlId = `audit-stream-${stream.id}-url`;
  const at = path`/api/audit-streams/${stream.id}`;
  const button = (label, testid, run, danger) => streamButton({ label, testid, describedBy: urlId, msg, danger }, run);

  const actions = [
    button("Send a test", "audit-stream-test", async () => {
      const answer = await api.post(`${at}/test`, undefined, { signal });
      if (answer.delivered) msg.notice(`Test delivered: the endpoint accepted it${answer.status_code ? ` (HTTP ${answer.status_code})` : ""}.`);
      else msg.error(`The test was not delivered: ${failure(answer.status_code, answer.error)}.`);
      await reload();
    }),
    button("Rotate secret", "audit-stream-rotate", async () => {
      const sure = await confirmDialog({
        title: "Rotate the signing secret?",
        message: "The current secret stops signing at once: deliveries fail your SIEM’s check until it has the new one.",
        confirmLabel: "Rotate secret",
      });
      if (sure) showSecret(await withReauth(() => api.post(`${at}/rotate-secret`, undefined, { signal }), reauth()), "rotated");
    }),
    stream.status === "failed"
      ? button("Resume", "audit-stream-resume", async () => {
          await withReauth(() => api.post(`${at}/resume`, undefined, { signal }), reauth());
          msg.notice("Deliveries resume from the first event the endpoint did not accept.");
          await reload();
        })
      : null,
    button(
      "Remove",
      "audit-stream-remove",
      async () => {
        const sure = await confirmDialog({
          title: "Remove this stream?",
          message: `Protu stops sending the audit log to ${stream.url}. Every owner is told by email.`,
          confirmLabel: "Remove stream",
          danger: true,
        });
        if (!sure) return;
        await api.delete(at, { signal });
        msg.notice("Stream removed.");
        await reload();
      },
      true,
    ),
  ];

  return h(
    "li",
    { class: "streams__item", "data-testid": "audit-stream", "data-stream-id": stream.id, "data-status": stream.status },
    h("p", { id: urlId, class: "streams__url" }, h("code", { "data-testid": "audit-stream-url-shown" }, stream.url)),
    stream.description ? h("p", { class: "streams__description", "data-testid": "audit-stream-description-shown" }, stream.description) : null,
    h("p", { class: "streams__meta" }, h("span", { class: ["badge", tone], "data-testid": "audit-stream-status" }, statusText), " ", deliveries(stream)),
    h("div", { class: "actions" }, actions),
  );
}

// "Sent up to event 42, last 5 minutes ago." and, when failing, since when, the next attempt and the last error.
function deliveries(stream) {
  const parts = [`Sent up to event ${stream.delivered_seq}`];
  if (stream.last_delivered_at) parts.push(", last delivery ", timeNode(stream.last_delivered_at));
  parts.push(".");
  if (stream.failing_since) parts.push(" Failing since ", timeNode(stream.failing_since), ".");
  if (stream.last_error) parts.push(` Last attempt: ${failure(null, stream.last_error)}.`);
  if (stream.next_attempt_at) parts.push(" Next attempt ", timeNode(stream.next_attempt_at), ".");
  return h("span", { "data-testid": "audit-stream-deliveries" }, parts);
}
