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
  const state = {
    outlet,
    notFound,
    siteName,
    table: routes.map((route) => ({ ...route, match: compile(route.path) })),
    controller: null,
    shown: null, // pathname + search of the page on screen
    first: true,
    current: null, // the route on screen (or being shown)
  };
  state.render = () => render(state);
  state.navigate = (to, options) => navigate(state, to, options);
  const onClick = (event) => followLink(state, event);
  // A jump to #fragment on the same page (e.g. the skip link) also fires popstate: keep the page.
  const onPopState = () => window.location.pathname + window.location.search !== state.shown && state.render();

  return {
    start() {
      document.addEventListener("click", onClick);
      window.addEventListener("popstate", onPopState);
      return state.render();
    },
    navigate: state.navigate,
    // The route object on screen, e.g. to ask whether it is protected.
    current: () => state.current,
  };
}

function resolve(state, pathname) {
  for (const route of state.table) {
    const params = route.match(pathname);
    if (params) return { route, params };
  }
  return { route: { page: state.notFound }, params: {} };
}

async function render(state) {
  state.controller?.abort();
  state.controller = new AbortController();
  const { signal } = state.controller;
  const focusedAtStart = document.activeElement;
  const url = new URL(window.location.href);
  state.shown = url.pathname + url.search;
  const { route, params } = resolve(state, url.pathname);
  state.current = route;
  const context = { params, query: url.searchParams, signal, navigate: state.navigate };

  let title;
  let view;
  try {
    const redirect = await route.guard?.(context);
    if (signal.aborted) return;
    if (redirect) return state.navigate(redirect, { replace: true });
    const page = await route.page();
    if (signal.aborted) return;
    title = typeof page.title === "function" ? page.title(params) : page.title;
    view = await page.render(context);
  } catch (error) {
    if (signal.aborted) return;
    console.error(error);
    title = "Something went wrong";
    view = errorView(state);
  }
  if (signal.aborted) return;
  show(state, { view, title, route, pathname: url.pathname, focusedAtStart });
}

function show(state, { view, title, route, pathname, focusedAtStart }) {
  state.outlet.replaceChildren(view);
  document.title = title ? `${title} · ${state.siteName}` : state.siteName;
  markCurrentLinks(pathname);
  window.dispatchEvent(new CustomEvent("protu:page", { detail: { path: pathname, route } }));
  if (!state.first) {
    window.scrollTo(0, 0);
    // The heading takes the focus unless the person moved it while the page loaded (opened the menu, say).
    const moved = document.activeElement !== focusedAtStart && document.activeElement !== document.body;
    if (!moved) focusHeading(state.outlet);
  }
  state.first = false;
}

function navigate(state, to, { replace = false } = {}) {
  const url = new URL(to, window.location.href);
  if (url.origin !== window.location.origin) {
    window.location.assign(url);
    return Promise.resolve();
  }
  const same = url.pathname + url.search === state.shown;
  window.history[replace || same ? "replaceState" : "pushState"](null, "", url);
  return state.render();
}

function followLink(state, event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // new tab/window: browser's job
  const link = event.target instanceof Element ? event.target.closest("a[data-link]") : null;
  if (!link || link.hasAttribute("download") || (link.target && link.target !== "_self")) return;
  const url = new URL(link.href);
  if (url.origin !== window.location.origin) return;
  event.preventDefault();
  state.navigate(url.href);
}

// Programmatic focus on the new page's heading tells screen reader users that the page changed.
function focusHeading(outlet) {
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

// The page could not be loaded (the network or the server failed) or shown: say so, and offer to try again.
function errorView(state) {
  const retry = h(
    "button",
    { type: "button", class: "button", "data-testid": "error-retry", onClick: () => state.render() },
    "Try again",
  );
  return h(
    "section",
    { class: "page", "data-testid": "error-view" },
    h("h1", {}, "Something went wrong"),
    h("p", { role: "alert" }, "This page could not be shown. Check your connection, then try again."),
    h("p", { class: "actions" }, retry, h("a", { href: "/", "data-link": true }, "Go to the start page")),
  );
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
