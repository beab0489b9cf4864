// Assessments: the list of the company's assessments and the form adding one, as declared in kinds.js (list.js renders it).

import { listPage } from "../list.js";

export const { title, render } = listPage("assessments");
