// History API router.
//
// A route is { path, page, guard? }:
//   path   "/", "/signin", "/employees/:id" (":name" segments become params; a trailing slash is ignored)
//   page   () => import("./pages/x.js"), loaded on first visit
//   guard  optional (context) => path | undefined (or a Promise of one); a path redirects there (e.g. "/signin")
//
// A page module exports
//   title               string, or (params) => string; the document title becomes "<title> · Protu"
//   render(context)     returns a Node (or a Promise of one) to show in <main>
// where context is { params, query (URLSearchParams), signal (AbortSignal, aborted when the user navigates
// away: pass it to api calls), navigate(to, { replace }) }.
//
// Clicks on same-origin <a data-link> are handled here without a page load; other links behave normally.

import { h } from "./dom.js";

export function createRouter({ outlet, routes, notFound, siteName = "Protu" }) {
  const table = routes.map((route) => ({ ...route, match: compile(route.path) }));
  let controller = null;
  let shown = null; // pathname + search of the page on screen
  let first = true;
  let current = null; // the route on screen (or being shown)

  function resolve(pathname) {
    for (const route of table) {
      const params = route.match(pathname);
      if (params) return { route, params };
    }
    return { route: { page: notFound }, params: {} };
  }

  async function render() {
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    const url = new URL(window.location.href);
    shown = url.pathname + url.search;
    const { route, params } = resolve(url.pathname);
    current = route;
    const context = { params, query: url.searchParams, signal, navigate };

    let title;
    let view;
    try {
      const redirect = await route.guard?.(context);
      if (signal.aborted) return;
      if (redirect) return navigate(redirect, { replace: true });
      const page = await route.page();
      if (signal.aborted) return;
      title = typeof page.title === "function" ? page.title(params) : page.title;
      view = await page.render(context);
    } catch (error) {
      if (signal.aborted) return;
      console.error(error);
      title = "Something went wrong";
      view = errorView();
    }
    if (signal.aborted) return;

    outlet.replaceChildren(view);
    document.title = title ? `${title} · ${siteName}` : siteName;
    markCurrentLinks(url.pathname);
    window.dispatchEvent(new CustomEvent("protu:page", { detail: { path: url.pathname, route } }));
    if (!first) {
      window.scrollTo(0, 0);
      focusHeading();
    }
    first = false;
  }

  function navigate(to, { replace = false } = {}) {
    const url = new URL(to, window.location.href);
    if (url.origin !== window.location.origin) {
      window.location.assign(url);
      return Promise.resolve();
    }
    const same = url.pathname + url.search === shown;
    window.history[replace || same ? "replaceState" : "pushState"](null, "", url);
    return render();
  }

  function onClick(event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // new tab/window: browser's job
    const link = event.target instanceof Element ? event.target.closest("a[data-link]") : null;
    if (!link || link.hasAttribute("download") || (link.target && link.target !== "_self")) return;
    const url = new URL(link.href);
    if (url.origin !== window.location.origin) return;
    event.preventDefault();
    navigate(url.href);
  }

  function onPopState() {
    // A jump to #fragment on the same page (e.g. the skip link) also fires popstate: keep the page.
    if (window.location.pathname + window.location.search !== shown) render();
  }

  // Programmatic focus on the new page's heading tells screen reader users that the page changed.
  function focusHeading() {
    const heading = outlet.querySelector("h1") ?? outlet;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus();
  }

  function markCurrentLinks(pathname) {
    for (const link of document.querySelectorAll("a[data-link]")) {
      if (link.closest("nav") && new URL(link.href).pathname === pathname) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function errorView() {
    return h(
      "section",
      { class: "page" },
      h("h1", {}, "Something went wrong"),
      h("p", { role: "alert" }, "This page could not be shown. Try again in a moment."),
      h("p", {}, h("a", { href: "/", "data-link": true }, "Go to the start page")),
    );
  }

  return {
    start() {
      document.addEventListener("click", onClick);
      window.addEventListener("popstate", onPopState);
      return render();
    },
    navigate,
    // The route object on screen, e.g. to ask whether it is protected.
    current: () => current,
  };
}

// "/teams/:id" -> (pathname) => { id } | null
function compile(pattern) {
  const parts = segments(pattern);
  return (pathname) => {
    const actual = segments(pathname);
    if (actual.length !== parts.length) return null;
    const params = {};
    for (const [i, part] of parts.entries()) {
      if (part.startsWith(":")) {
        try {
          params[part.slice(1)] = decodeURIComponent(actual[i]);
        } catch {
          return null; // malformed %-escape: no route matches
        }
      } else if (part !== actual[i]) {
        return null;
      }
    }
    return params;
  };
}

function segments(path) {
  return path.split("/").filter(Boolean);
}
