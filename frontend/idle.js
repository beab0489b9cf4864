// The idle sign-out, seen coming. Every signed-in answer says how long the session may now sit unused before the
// server ends it (X-Session-Idle-Seconds: api.js's "idle" event, from the server's own clock and count). A minute
// before that, a dialog says so and offers "Stay signed in" (one call to the API, which is activity) or "Sign out".
// The tabs of this browser share the newest deadline, so activity in one keeps the others from warning. When the
// time is up, the page's data leaves the screen at once, then the server is asked (GET /api/me): its 401
// session_idle sends the tab to the sign-in page, which says why (app.js's session.onEnded); if someone was active
// in another tab meanwhile, the page comes back.

import { api, authEvents } from "./api.js";
import { h } from "./dom.js";
import { session } from "./session.js";
import { dialog } from "./ui.js";

export const WARN_SECONDS = 60;
const AFTER_END_MS = 2000; // ask the server a moment after its deadline, never before it

export function mountIdleWatch({ outlet, resume, signOut }) {
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("protu-idle") : null;
  // deadline: Date.now() at which the server ends the session if nothing happens meanwhile; close: the open warning's
  const watch = { deadline: null, warnTimer: null, endTimer: null, close: null };

  function stop() {
    clearTimeout(watch.warnTimer);
    clearTimeout(watch.endTimer);
    watch.deadline = null;
    watch.close?.("gone");
  }

  function schedule(until) {
    stop();
    watch.deadline = until;
    const left = until - Date.now();
    watch.warnTimer = setTimeout(warn, Math.max(0, left - WARN_SECONDS * 1000));
    watch.endTimer = setTimeout(end, Math.max(0, left + AFTER_END_MS));
  }

  async function warn() {
    if (!session.user || watch.close) return;
    const choice = await warning(watch);
    if (choice === "sign-out") return signOut();
    // Escape is a choice too: someone is there. The answer's idle seconds start the count again.
    if (choice === "stay" || choice === undefined) await askServer();
  }

  async function end() {
    if (!session.user) return stop();
    watch.close?.("gone");
    outlet.replaceChildren(h("p", { class: "muted", "data-testid": "idle-ended" }, "Signing you out…"));
    const before = watch.deadline;
    // 401: app.js shows the sign-in page with the reason; offline: the screen stays clear
    if (!(await askServer())) return;
    if (watch.deadline !== before) resume(); // used in another tab meanwhile: the session lives, the page comes back
  }

  authEvents.addEventListener("idle", (event) => {
    const until = Date.now() + event.detail * 1000;
    schedule(until);
    channel?.postMessage({ until });
  });
  channel?.addEventListener("message", (event) => {
    if (typeof event.data?.until === "number" && session.user) schedule(event.data.until);
  });
  session.subscribe((user) => {
    if (!user) stop();
  });
}

// GET /api/me: true when the session lives (a failure is reported by api.js, and app.js takes the page away).
async function askServer() {
  try {
    await api.get("/api/me");
    return true;
  } catch {
    return false;
  }
}

// "Are you still there?", counting down to `watch.deadline`: "stay", "sign-out", "gone" (closed by the watch) or
// undefined (Escape). `watch.close` closes it while it is open.
async function warning(watch) {
  let ticker = null;
  const choice = await dialog({
    title: "Are you still there?",
    testid: "idle-dialog",
    describedBy: "idle-dialog-message",
    build: (close) => {
      watch.close = close;
      const seconds = h("strong", { "data-testid": "idle-seconds" });
      const tick = () => {
        const left = Math.max(0, Math.round((watch.deadline - Date.now()) / 1000));
        seconds.textContent = left === 1 ? "1 second" : `${left} seconds`;
      };
      tick();
      ticker = setInterval(tick, 1000);
      return [
        h(
          "p",
          { id: "idle-dialog-message", "aria-live": "polite" },
          "Nothing has happened for a while, so you will be signed out in ",
          seconds,
          ". Anything you have not saved will be lost.",
        ),
        h(
          "div",
          { class: "dialog__actions" },
          h("button", { type: "button", class: "button button--secondary", "data-testid": "idle-sign-out", onClick: () => close("sign-out") }, "Sign out"),
          h("button", { type: "button", class: "button", "data-testid": "idle-stay", autofocus: true, onClick: () => close("stay") }, "Stay signed in"),
        ),
      ];
    },
  });
  clearInterval(ticker);
  watch.close = null;
  return choice;
}
