// Passkeys in the browser (WebAuthn through navigator.credentials): the API's options in, the credential out, both
// as JSON. The options are py_webauthn's options_to_json (binary values as base64url strings); the API reads the
// credential as credential.toJSON() gives it. Browsers that have PublicKeyCredential.parseCreationOptionsFromJSON,
// parseRequestOptionsFromJSON and toJSON() convert; for the others it is done here by hand.
//
//   const { ceremony, options } = await api.post("/api/me/passkeys/options", {}, { signal });
//   const credential = await createPasskey(options, { signal });
//   await api.post("/api/me/passkeys", { ceremony, name, credential }, { signal });
//
// What the browser refuses (the person cancelled, no passkey for Protu on this device...) is thrown as an ApiError
// of status 0 with a plain message and a code (passkey_cancelled, passkey_exists, passkey_unavailable,
// passkey_unsupported), so pages show it like any other failure. An aborted request throws its AbortError untouched.

import { ApiError } from "./api.js";

export function passkeysSupported() {
  return typeof window.PublicKeyCredential === "function" && typeof navigator.credentials?.get === "function";
}

// Whether the browser can offer its passkeys among the suggestions of a field (autocomplete="username webauthn").
export async function autofillAvailable() {
  try {
    return passkeysSupported() && (await window.PublicKeyCredential.isConditionalMediationAvailable?.()) === true;
  } catch {
    return false;
  }
}

// Make a new passkey with `options` (PublicKeyCredentialCreationOptionsJSON, or its text). Answers its JSON.
export async function createPasskey(options, { signal } = {}) {
  const publicKey = decode(options, "parseCreationOptionsFromJSON");
  return encode(await ask(() => navigator.credentials.create({ publicKey, signal }), CREATE));
}

// Sign with a passkey (`options`: PublicKeyCredentialRequestOptionsJSON, or its text). `mediation: "conditional"`
// waits for the person to pick one among the suggestions of the field. Answers the credential's JSON.
export async function usePasskey(options, { signal, mediation } = {}) {
  const publicKey = decode(options, "parseRequestOptionsFromJSON");
  const request = mediation ? { publicKey, signal, mediation } : { publicKey, signal };
  return encode(await ask(() => navigator.credentials.get(request), GET));
}

const UNSUPPORTED = "This browser cannot use passkeys. Sign in another way, or try a recent browser.";
const UNAVAILABLE = "Passkeys do not work at this address of Protu. Open Protu at its usual address and try again.";

const CREATE = {
  NotAllowedError: ["passkey_cancelled", "No passkey was made: the request was cancelled or took too long. Try again when you are ready."],
  InvalidStateError: ["passkey_exists", "This device or security key already holds a passkey for your Protu account."],
  NotSupportedError: ["passkey_unsupported", "This device cannot make a passkey that Protu accepts."],
  SecurityError: ["passkey_unavailable", UNAVAILABLE],
};

const GET = {
  NotAllowedError: [
    "passkey_cancelled",
    "No passkey was used: the request was cancelled or took too long, or this device holds no passkey for Protu. Try again, or sign in another way.",
  ],
  NotSupportedError: ["passkey_unsupported", UNSUPPORTED],
  SecurityError: ["passkey_unavailable", UNAVAILABLE],
};

// The browser's answer, or its refusal said plainly (`said`: DOMException name -> [code, message]).
async function ask(call, said) {
  if (!passkeysSupported()) throw new ApiError(0, "passkey_unsupported", UNSUPPORTED);
  try {
    return await call();
  } catch (error) {
    const known = said[error?.name];
    if (!known) throw error;
    throw new ApiError(0, known[0], known[1]);
  }
}

function decode(options, parser) {
  const json = typeof options === "string" ? JSON.parse(options) : options;
  const native = window.PublicKeyCredential?.[parser];
  if (typeof native === "function") return native.call(window.PublicKeyCredential, json);
  const publicKey = { ...json, challenge: bytes(json.challenge) };
  if (json.user) publicKey.user = { ...json.user, id: bytes(json.user.id) };
  for (const key of ["excludeCredentials", "allowCredentials"]) {
    if (json[key]) publicKey[key] = json[key].map((credential) => ({ ...credential, id: bytes(credential.id) }));
  }
  return publicKey;
}

function encode(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const answer = credential.response;
  const response = { clientDataJSON: base64url(answer.clientDataJSON) };
  if (answer.attestationObject) {
    response.attestationObject = base64url(answer.attestationObject);
    response.transports = answer.getTransports?.() ?? [];
  }
  for (const key of ["authenticatorData", "signature", "userHandle"]) {
    if (answer[key]) response[key] = base64url(answer[key]);
  }
  return {
    id: credential.id,
    rawId: base64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
    response,
  };
}

function bytes(text) {
  const plain = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(plain), (c) => c.charCodeAt(0));
}

function base64url(buffer) {
  const binary = Array.from(new Uint8Array(buffer), (b) => String.fromCharCode(b)).join("");
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
