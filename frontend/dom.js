// Safe element building. Text always goes in as text nodes; there is no way to pass HTML.
//
//   h("p", { class: "note", "data-testid": "x" }, "Hello ", h("strong", {}, name))
//   h("button", { type: "button", onClick: () => ... }, "Save")
//
// props: `class` (string or array), `onXxx` functions become event listeners, `true` gives an empty
// attribute, `null`/`undefined`/`false` are skipped, anything else is set as an attribute string.
// `style` and non-function `on*` props throw: the Content-Security-Policy forbids them anyway.

const URL_PROPS = new Set(["href", "src", "action", "formaction"]);
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (/^on[A-Z]/.test(name) && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "style" || /^on/i.test(name)) {
      throw new Error(`h(): "${name}" is not allowed; use classes and onXxx listener functions`);
    } else if (name === "class") {
      el.className = [value].flat().filter(Boolean).join(" ");
    } else {
      el.setAttribute(name, URL_PROPS.has(name) ? safeUrl(value) : value === true ? "" : String(value));
    }
  }
  el.append(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
  return el;
}

// Only same-document, http(s) and mailto URLs: never `javascript:` or `data:` from data.
export function safeUrl(value) {
  const url = new URL(String(value), window.location.href);
  if (!SAFE_PROTOCOLS.has(url.protocol)) throw new Error(`Unsafe URL protocol: ${url.protocol}`);
  return String(value);
}

// An <img> showing an image the API sent as a data: URL (e.g. a QR code). Only base64 PNG/SVG/JPEG/GIF/WebP
// pass: an SVG shown through <img> cannot run scripts or load anything. The CSP allows img-src data:.
const DATA_IMAGE = /^data:image\/(?:png|svg\+xml|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$/;

export function imageFromData(dataUrl, props = {}) {
  if (typeof dataUrl !== "string" || !DATA_IMAGE.test(dataUrl)) throw new Error("imageFromData(): not a base64 image");
  const img = h("img", props);
  img.src = dataUrl;
  return img;
}
