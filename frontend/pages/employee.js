// One employee (/employees/:id), as declared in kinds.js (detail.js renders it).

import { detailPage } from "../detail.js";

export const { title, render } = detailPage("employees");
