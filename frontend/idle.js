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
  let deadline = null; // Date.now() at which the server ends the session if nothing happens meanwhile
  let warnTimer = null;
  let endTimer = null;
  let closeWarning = null;

  function stop() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    deadline = null;
    closeWarning?.("gone");
  }

  function schedule(until) {
    stop();
    deadline = until;
    const left = until - Date.now();
    warnTimer = setTimeout(warn, Math.max(0, left - WARN_SECONDS * 1000));
    endTimer = setTimeout(end, Math.max(0, left + AFTER_END_MS));
  }

  async function warn() {
    if (!session.user || closeWarning) return;
    let ticker = null;
    const choice = await dialog({
      title: "Are you still there?",
      testid: "idle-dialog",
      describedBy: "idle-dialog-message",
      build: (close) => {
        closeWarning = close;
        const seconds = h("strong", { "data-testid": "idle-seconds" });
        const tick = () => {
          const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
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
            h(
              "button",
              { type: "button", class: "button button--secondary", "data-testid": "idle-sign-out", onClick: () => close("sign-out") },
              "Sign out",
            ),
            h(
              "button",
              { type: "button", class: "button", "data-testid": "idle-stay", autofocus: true, onClick: () => close("stay") },
              "Stay signed in",
            ),
          ),
        ];
      },
    });
    clearInterval(ticker);
    closeWarning = null;
    if (choice === "sign-out") return signOut();
    if (choice === "stay" || choice === undefined) {
      // Escape is a choice too: someone is there. The answer's idle seconds start the count again.
      try {
        await api.get("/api/me");
      } catch {
        // Ended meanwhile: api.js reports it and app.js takes the page away.
      }
    }
  }

  async function end() {
    if (!session.user) return stop();
    closeWarning?.("gone");
    outlet.replaceChildren(h("p", { class: "muted", "data-testid": "idle-ended" }, "Signing you out…"));
    const before = deadline;
    try {
      await api.get("/api/me");
    } catch {
      return; // 401: app.js shows the sign-in page with the reason; offline: the screen stays clear
    }
    if (deadline !== before) resume(); // used in another tab meanwhile: the session lives, the page comes back
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
