// Roles: the list of the company's roles and the form adding one, as declared in kinds.js (list.js renders it).

import { listPage } from "../list.js";

export const { title, render } = listPage("roles");
