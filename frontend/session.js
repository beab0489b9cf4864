// Who is signed in, for the whole SPA.
//
//   session.user            the /api/me shape ({id, email, name, role, company, mfa_enabled, ...}) or null
//   session.restore()       resolves to the user (or null), after a silent POST /api/auth/refresh if needed
//   session.start(answer)   after an answer with access_token: keep the token in memory and the user
//   session.signOut()       POST /api/auth/logout, forget everything, tell the other tabs
//   session.subscribe(fn)   fn(user) on every change (the header uses it); returns an unsubscribe function
//   session.ending(fn)      runs fn, a call that ends the session when it succeeds (erasing the company, removing yourself)
//
// The refresh cookie is HttpOnly, so the SPA cannot tell whether there is one. To avoid a pointless (and
// console-noisy) 401 on every visit of someone who never signed in, a harmless marker in localStorage
// ("protu.signed-in" = "1", never a token) says whether a restore is worth trying.
//
// Also here: the pending two-factor step (mfa_token, in memory only), one-shot "flash" messages for the next page
// (e.g. "Your password was changed"), and the route guards.
//
// Two-factor required: when the company requires two-factor and the user has not set it up
// (`user.mfa_setup_required`), the API opens only their own account to them (403 mfa_setup_required elsewhere).
// So signing in lands on the account page (SETUP_PAGE), and every protected page sends them there until they
// turn it on; the account page says why.

import { ApiError, accessToken, api, authEvents, refreshSession } from "./api.js";

const MARKER = "protu.signed-in";
export const HOME = "/account"; // where a sign-in lands when there is no ?next=
const WELCOME = "/welcome"; // ...and an owner's, until they put the first steps away
export const SETUP_PAGE = "/account"; // where two-factor is set up: the only page open while it is required

let user = null;
let restoring = null;
let pendingMfa = null;
let flash = null;
let lastEmail = null;
const listeners = new Set();
const endedListeners = new Set();
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("protu-session") : null;

function marker(on) {
  try {
    if (on) localStorage.setItem(MARKER, "1");
    else localStorage.removeItem(MARKER);
  } catch {
    // Storage may be disabled: restores are then always attempted, which is only a little noisier.
  }
}

function hasMarker() {
  try {
    return localStorage.getItem(MARKER) === "1";
  } catch {
    return true;
  }
}

function setUser(value) {
  user = value ?? null;
  for (const listener of listeners) listener(user);
}

function forget() {
  accessToken.clear();
  pendingMfa = null;
  marker(false);
  setUser(null);
}

authEvents.addEventListener("refreshed", (event) => {
  marker(true);
  if (event.detail?.user) setUser(event.detail.user);
});

// True while this tab signs out, or while a call that ends the session on the server (erasing the company) is in
// flight: a request answered 401 meanwhile is that end, not a session the server ended for another reason (the
// page that made the call says what happened, not the sign-in page's "session ended").
let signingOut = false;
let ending = 0;

authEvents.addEventListener("ended", (event) => {
  const wasSignedIn = user !== null;
  forget();
  if (wasSignedIn && !signingOut && !ending) for (const listener of endedListeners) listener(event.detail);
});

channel?.addEventListener("message", (event) => {
  if (event.data === "signed-out" && user !== null) {
    forget();
    const error = new ApiError(401, "signed_out_elsewhere", "You signed out in another tab.");
    for (const listener of endedListeners) listener(error);
  }
});

export const session = {
  get user() {
    return user;
  },

  // The signed-in user, restoring the session silently from the refresh cookie first if this tab has none yet
  // (at start-up; again later only if the last attempt could not reach the server). Never throws.
  restore() {
    if (user) return Promise.resolve(user);
    if (!hasMarker()) return Promise.resolve(null);
    restoring ??= refreshSession()
      .then((data) => data.user ?? null)
      .catch((error) => {
        if (error instanceof ApiError && error.status === 401) {
          marker(false);
          // The server says why this browser's session ended (revoked, expired, idle): the sign-in page shows it.
          if (error.code.startsWith("session_")) flash = { text: error.message, tone: "error" };
        }
        return null;
      })
      .finally(() => {
        restoring = null;
      });
    return restoring;
  },

  // An answer carrying access_token (login, mfa, magic link, invitation, refresh).
  start(answer) {
    accessToken.set(answer.access_token);
    pendingMfa = null;
    marker(true);
    setUser(answer.user);
    return answer.user;
  },

  update(value) {
    setUser(value);
  },

  async signOut() {
    signingOut = true;
    try {
      await api.post("/api/auth/logout");
    } catch {
      // Signed out locally either way; the session ends on its own when its tokens expire.
    } finally {
      forget();
      signingOut = false;
    }
    channel?.postMessage("signed-out");
  },

  // fn() is a call that ends this session on the server when it succeeds: 401s met meanwhile are expected.
  async ending(fn) {
    ending += 1;
    try {
      return await fn();
    } finally {
      ending -= 1;
    }
  },

  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },

  // fn(error) when the server ends a session this tab had (revoked, expired, signed out elsewhere).
  onEnded(listener) {
    endedListeners.add(listener);
  },

  setPendingMfa(value) {
    pendingMfa = value;
  },
  get pendingMfa() {
    return pendingMfa;
  },
  clearPendingMfa() {
    pendingMfa = null;
  },

  // A message for the next page to show once: {text, tone: "notice" | "error"}.
  setFlash(text, tone = "notice") {
    flash = { text, tone };
  },
  takeFlash() {
    const value = flash;
    flash = null;
    return value;
  },

  // The address a "check your email" page may mention (kept in memory, never in the URL).
  set lastEmail(value) {
    lastEmail = value;
  },
  get lastEmail() {
    return lastEmail;
  },
};

// Back from the company's identity provider (/?signed_in=sso, from the callbacks of http/sso.py): the server set
// the refresh cookie, so a restore is worth trying even in a browser that never signed in here; the query leaves
// the address bar. Run before the router starts.
export function arrivedFromSso() {
  const url = new URL(window.location.href);
  if (url.searchParams.get("signed_in") !== "sso") return;
  marker(true);
  url.searchParams.delete("signed_in");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
}

// ---------------------------------------------------------------------------------------------- guards

// Protected pages: not signed in -> /signin?next=<this page>; two-factor required and not set up -> the account
// page, where it is set up (the API would refuse this page's data anyway).
export async function requireSignIn() {
  const user = await session.restore();
  if (user) return mustSetUpMfa(user) && window.location.pathname !== SETUP_PAGE ? SETUP_PAGE : undefined;
  const here = window.location.pathname + window.location.search;
  return `/signin?next=${encodeURIComponent(here)}`;
}

// The company requires two-factor and this user has not turned it on yet.
export function mustSetUpMfa(user) {
  return Boolean(user?.mfa_setup_required);
}

// Sign-in and sign-up: already signed in -> where the user was going.
export async function guestOnly({ query }) {
  return (await session.restore()) ? safeNext(query.get("next")) : undefined;
}

const NO_RETURN = ["/signin", "/signup", "/two-factor", "/magic", "/verify-email", "/reset-password", "/accept-invitation"];

// Only a path on this site (never "//evil.example" or "https://..."), and never back into a sign-in step.
export function safeNext(value, fallback = HOME) {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) {
    return fallback;
  }
  let url;
  try {
    url = new URL(value, window.location.origin);
  } catch {
    return fallback;
  }
  if (url.origin !== window.location.origin || NO_RETURN.includes(url.pathname)) return fallback;
  return url.pathname + url.search + url.hash;
}

// After an answer of login, magic-link verify or invitation accept: a step-up (a sign-in link was emailed: the
// "check your email" page says so), the two-factor step (mfa_token kept in memory, the page then asks for the
// code), or signed in and on to `next` (to the two-factor setup first when the company requires it).
export function finishSignIn(answer, { next, navigate }) {
  if (answer?.step_up_required) {
    // The password was right, but recent failed attempts on the account ask for more: a link was emailed.
    return navigate("/check-email?kind=stepup", { replace: true });
  }
  if (answer?.mfa_required) {
    session.setPendingMfa({ token: answer.mfa_token, next, methods: answer.methods ?? [] });
    return navigate("/two-factor", { replace: true });
  }
  const user = session.start(answer);
  return navigate(landing(user, next), { replace: true });
}

// Where a signed-in user goes after signing in: `next` (a path on this site), or the two-factor setup while their
// company requires it and they have not set it up; without a `next`, a new owner's first steps (pages/welcome.js)
// until they put them away.
export function landing(user, next) {
  if (mustSetUpMfa(user)) return SETUP_PAGE;
  const target = safeNext(next);
  return target === HOME && user?.show_welcome ? WELCOME : target;
}
