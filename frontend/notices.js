// The notices above every page (GET /api/me/notices): two-factor required, a failed payment, email that cannot
// reach the person (with the security alerts we could not email them), planned maintenance until it ends. Asked again whenever the signed-in person
// changes and on every page shown for which `when()` holds (app.js: the signed-in pages), so a notice goes away as
// soon as its cause does. Nothing shows signed out.

import { api } from "./api.js";
import { h } from "./dom.js";
import { session } from "./session.js";

export function mountNotices(region, { when = () => true } = {}) {
  let generation = 0;

  async function refresh() {
    const mine = ++generation;
    if (!session.user || !when()) {
      region.replaceChildren();
      return;
    }
    try {
      const { items } = await api.get("/api/me/notices");
      if (mine !== generation) return;
      region.replaceChildren(...items.map(notice));
    } catch {
      // Notices are a courtesy: a failure here must not disturb the page (its own calls report errors).
    }
  }

  function notice(item) {
    const tone = item.tone === "error" ? "notice notice--error" : "notice";
    return h(
      "p",
      { class: tone, role: item.tone === "error" ? "alert" : "status", "data-testid": `notice-${item.kind}` },
      item.message,
      item.link && item.link !== window.location.pathname ? [" ", h("a", { href: item.link, "data-link": true }, "Open")] : null,
    );
  }

  session.subscribe(refresh);
  window.addEventListener("protu:page", refresh);
}
