// Entry point: the page registry and the router. Add a page by adding a route here and a module in pages/.

import { createRouter } from "./router.js";

const routes = [
  { path: "/", page: () => import("./pages/home.js") },
  { path: "/signin", page: () => import("./pages/signin.js") },
];

export const router = createRouter({
  outlet: document.getElementById("app"),
  routes,
  notFound: () => import("./pages/notfound.js"),
});

router.start();
