// Whether a record is in use, asked before its delete is (the API refuses a record others still name with 409
// in_use; kinds.js declares which check a kind's detail page runs). Each check answers null when nothing is known
// to use the record, or the content of the explanation: what uses it, and where to change that.

import { api } from "../api.js";
import { h } from "../dom.js";
import { allRecords } from "../records.js";
import { link } from "../ui.js";

// The records naming a role: GET /api/<kind>?job_role_id= for each kind that has one (a count up to 100).
const ROLE_USERS = [
  ["candidates", "candidate", "candidates", "see the candidates for this role"],
  ["employees", "employee", "employees", "the employees"],
  ["assessments", "assessment", "assessments", "the assessments"],
];

async function countUsing(collection, roleId, signal) {
  try {
    const page = await api.get(`/api/${collection}?${new URLSearchParams({ job_role_id: roleId, limit: "100" })}`, { signal });
    return { n: page.items.length, more: Boolean(page.next_cursor) };
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    return { n: 0, more: false }; // not known here: the API still refuses the delete if it is in use
  }
}

export async function roleInUse({ record, signal }) {
  const counts = await Promise.all(ROLE_USERS.map(([collection]) => countUsing(collection, record.id, signal)));
  const used = ROLE_USERS.map((kind, i) => [...kind, counts[i]]).filter(([, , , , count]) => count.n > 0);
  if (used.length === 0) return null;
  const total = used.reduce((sum, [, , , , count]) => sum + count.n, 0);
  const who = used.map(([, one, many, , { n, more }]) => (n === 1 && !more ? `1 ${one}` : `${n}${more ? " or more" : ""} ${many}`));
  const links = used.flatMap(([collection, , , text], i) => [
    i === 0 ? "" : ", ",
    link(`/${collection}?${new URLSearchParams({ role: record.id })}`, text, { "data-testid": `role-in-use-${collection}` }),
  ]);
  return [
    `This role cannot be deleted because ${who.join(" and ")} ${total === 1 ? "is" : "are"} linked to it. `,
    "Move them to another role or delete them first: ",
    ...links,
    ".",
  ];
}

// A person with assessment responses about them (the responses widget on their page has read them).
export async function personInUse({ entity, widgets }) {
  if (!(await widgets.responses.any())) return null;
  return [
    `This ${entity} cannot be deleted because assessment responses about them are recorded (see `,
    h("a", { href: "#person-responses-title", "data-testid": `${entity}-in-use-responses` }, "Assessment responses"),
    "). Delete those responses on their assessments' pages first.",
  ];
}

// An employee who leads a team (GET /api/teams), or with responses about them.
export async function employeeInUse(context) {
  const { record, signal } = context;
  const led = (await allRecords("teams", "name", signal)).filter((team) => team.lead_employee_id === record.id);
  if (led.length === 0) return personInUse(context);
  const links = led.flatMap((team, n) => [
    n > 0 ? ", " : "",
    link(`/teams/${encodeURIComponent(team.id)}`, team.name, { "data-testid": "employee-in-use-team" }),
  ]);
  return [
    `This employee cannot be deleted because they lead ${led.length === 1 ? "a team" : `${led.length} teams`}: `,
    ...links,
    `. Choose another lead for ${led.length === 1 ? "that team" : "those teams"} first.`,
  ];
}

// An assessment with responses recorded with it (the responses widget on its page shows them).
export async function assessmentInUse({ widgets }) {
  const { n, more } = await widgets.responses.count();
  if (n === 0) return null;
  const recorded = n === 1 && !more ? "1 response was" : `${n}${more ? " or more" : ""} responses were`;
  return [
    `This assessment cannot be deleted because ${recorded} recorded with it, and their answers are kept. `,
    "If they are no longer needed, delete them first: open each under ",
    h("a", { href: "#assessment-responses-title", "data-testid": "assessment-in-use-responses" }, "Responses"),
    " with Show answers.",
  ];
}
