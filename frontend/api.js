// API client: JSON over fetch to the same origin, errors as ApiError.
//
//   import { api, path, ApiError } from "../api.js";
//   const employee = await api.get(path`/api/employees/${id}`, { signal });
//   await api.post("/api/auth/login", { email, password });
//
// Every failure is thrown as an ApiError(status, code, message, details): the server's
// {"error": {"code", "message", "details"?}} body when there is one, "network_error" (status 0) when the
// server cannot be reached. An aborted request rethrows the browser's AbortError untouched.

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

export class ApiError extends Error {
  constructor(status, code, message, details = undefined, body = undefined) {
    super(message);
    this.name = "ApiError";
    this.status = status; // HTTP status; 0 when no response arrived
    this.code = code; // stable machine code from the server, e.g. "validation_failed"
    this.details = details; // optional structured details, e.g. per-field problems
    this.body = body; // the parsed response body, if any (e.g. /api/health's report on 503)
  }
}

export async function request(method, url, { body, signal, headers = {} } = {}) {
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
  if (response.status === 204) return null;

  const data = await readJson(response);
  if (response.ok) {
    if (data === undefined) throw new ApiError(response.status, "invalid_response", "The server sent an unreadable answer.");
    return data;
  }
  const error = data?.error;
  if (typeof error?.code === "string" && typeof error?.message === "string") {
    throw new ApiError(response.status, error.code, error.message, error.details, data);
  }
  throw new ApiError(response.status, "http_error", `The request failed (HTTP ${response.status}).`, undefined, data);
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
