// API client: JSON over fetch to the same origin, errors as ApiError.
//
//   import { api, path, ApiError } from "../api.js";
//   const employee = await api.get(path`/api/employees/${id}`, { signal });
//   await api.post("/api/auth/login", { email, password });
//   await api.delete("/api/me/mfa/totp", { body: { password } });   // DELETE with a body
//
// Every failure is thrown as an ApiError(status, code, message, details): the server's
// {"error": {"code", "message", "details"?}} body when there is one, "network_error" (status 0) when the
// server cannot be reached. An aborted request rethrows the browser's AbortError untouched.
//
// Sessions: the access token lives in memory (`accessToken`); the refresh token is an HttpOnly cookie scoped to
// /api/auth that only the browser sees. When a call that needs a session (everything but the public
// /api/auth/* endpoints) answers 401 "token_expired", the client refreshes once (POST /api/auth/refresh, shared
// by concurrent callers and serialised across tabs) and retries the call. When the session is gone for good
// (any other 401, or the refresh fails with 401) the token is cleared and `authEvents` emits "ended"; session.js
// turns that into a trip to /signin. A successful refresh emits "refreshed" with the server's answer. Every answer
// of a signed-in call says how long the session may sit unused (X-Session-Idle-Seconds): "idle" carries it (idle.js).

let token = null;

// The access token lives in memory only: never in localStorage, sessionStorage or a readable cookie.
export const accessToken = {
  get: () => token,
  set: (value) => {
    token = value;
  },
  clear: () => {
    token = null;
  },
};

// "refreshed" (detail: {access_token, expires_in, user}), "ended" (detail: the ApiError that ended it) and "idle"
// (detail: the seconds the session may now sit unused before the server ends it).
export const authEvents = new EventTarget();

export class ApiError extends Error {
  constructor(status, code, message, details = undefined, body = undefined) {
    super(message);
    this.name = "ApiError";
    this.status = status; // HTTP status; 0 when no response arrived
    this.code = code; // stable machine code from the server, e.g. "validation_failed"
    this.details = details; // optional structured details, e.g. per-field problems
    this.body = body; // the parsed response body, if any (e.g. /api/health's report on 503)
    this.retryAfter = undefined; // seconds, from details.retry_after or the Retry-After header (429)
  }
}

// The public sign-in endpoints manage no session of their own; /api/auth/reauthenticate needs one.
function usesSession(url) {
  return !url.startsWith("/api/auth/") || url.startsWith("/api/auth/reauthenticate");
}

export async function request(method, url, options = {}) {
  try {
    return await send(method, url, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !usesSession(url)) throw error;
    if (error.code !== "token_expired") throw ended(error);
    try {
      await refreshSession();
    } catch (refreshError) {
      // Offline is not signed out: keep the session and report the network problem.
      if (refreshError instanceof ApiError && refreshError.status === 401) throw ended(refreshError);
      throw refreshError;
    }
    try {
      return await send(method, url, options);
    } catch (retryError) {
      if (retryError instanceof ApiError && retryError.status === 401) throw ended(retryError);
      throw retryError;
    }
  }
}

function ended(error) {
  token = null;
  authEvents.dispatchEvent(new CustomEvent("ended", { detail: error }));
  return error;
}

let refreshing = null;

// POST /api/auth/refresh once for everyone who asks at the same time. The refresh cookie rotates on every use and
// a reused one signs the session out, so two tabs must never refresh at once: a Web Lock serialises them (the
// second tab then sends the already-rotated cookie).
export function refreshSession() {
  refreshing ??= (async () => {
    try {
      const run = () => send("POST", "/api/auth/refresh", {});
      const data = navigator.locks ? await navigator.locks.request("protu-refresh", run) : await run();
      token = data.access_token;
      authEvents.dispatchEvent(new CustomEvent("refreshed", { detail: data }));
      return data;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function send(method, url, { body, signal, headers = {} } = {}) {
  // Only our own API: the bearer token must never be sent to another path or origin.
  if (!url.startsWith("/api/")) throw new Error(`api: refusing to call ${url}; paths start with /api/`);

  const init = { method, signal, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (token) init.headers.Authorization = `Bearer ${token}`;

  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "Could not reach Protu. Check your connection and try again.");
  }
  const idle = Number(response.headers.get("X-Session-Idle-Seconds") ?? NaN);
  if (Number.isFinite(idle) && idle >= 0) authEvents.dispatchEvent(new CustomEvent("idle", { detail: idle }));
  if (response.status === 204) return null;

  const data = await readJson(response);
  if (response.ok) {
    if (data === undefined) throw new ApiError(response.status, "invalid_response", "The server sent an unreadable answer.");
    return data;
  }
  const error = data?.error;
  const failure =
    typeof error?.code === "string" && typeof error?.message === "string"
      ? new ApiError(response.status, error.code, error.message, error.details, data)
      : new ApiError(response.status, "http_error", `The request failed (HTTP ${response.status}).`, undefined, data);
  failure.retryAfter = retryAfter(error?.details?.retry_after ?? response.headers.get("Retry-After"));
  throw failure;
}

function retryAfter(value) {
  const seconds = Number(value);
  return value !== null && value !== undefined && value !== "" && Number.isFinite(seconds) && seconds > 0
    ? Math.ceil(seconds)
    : undefined;
}

// Parsed JSON, null for an empty body, undefined when the body is not JSON.
async function readJson(response) {
  const text = await response.text();
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const api = {
  get: (url, options) => request("GET", url, options),
  post: (url, body, options) => request("POST", url, { ...options, body }),
  put: (url, body, options) => request("PUT", url, { ...options, body }),
  patch: (url, body, options) => request("PATCH", url, { ...options, body }),
  delete: (url, options) => request("DELETE", url, options),
};

// Tagged template that URL-encodes every interpolated value: path`/api/teams/${id}/members`.
export function path(strings, ...values) {
  return strings.reduce((out, part, i) => out + encodeURIComponent(String(values[i - 1])) + part);
}
