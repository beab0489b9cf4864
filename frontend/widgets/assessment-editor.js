// The edit form of an assessment's page (kinds.js detail.editor): the question builder (assessment-builder.js) with
// the shape detail.js asks of an editor: { form, msg, fields, fill(record), values(), check(), focus() }.

import { assessmentBuilder } from "./assessment-builder.js";

export function assessmentEditor(page) {
  const builder = assessmentBuilder({
    action: `/assessments/${encodeURIComponent(page.record.id)}`,
    submitLabel: "Save changes",
    labelledBy: "assessment-edit-title",
  });
  builder.form.prepend(...builder.msg.nodes); // the message at the top of the form
  return {
    form: builder.form,
    msg: builder.msg,
    fields: builder.fields,
    fill(record) {
      builder.setRoles(page.refs.roles, record.job_role_id);
      builder.fill(record);
    },
    values: builder.values,
    check: builder.check,
    focus: () => builder.fields.title.input.focus(),
  };
}
