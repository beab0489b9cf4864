// What the API itself says about its records, read from GET /api/openapi.json (generated on the server from the
// very types that validate requests, so it cannot drift): the values an enum allows, the longest text a field
// takes, the shape of a record id. Loaded once per tab and shared (a failed load is tried again next time).
//
//   const s = await schema();
//   s.enum("candidates", "stage")          // ["applied", "hired", ...] (the API's order: kinds.js orders them)
//   s.maxLength("roles", "title")          // 120
//   s.param("candidates", "q")             // the query parameter's schema (null when the list has no such filter)
//   s.isRecordId("rol-0123...")            // the API's id pattern
//
// A kind's fields are those of its create body (POST /api/<collection>).

import { api } from "./api.js";

let loading = null;

export function schema() {
  loading ??= api.get("/api/openapi.json").then(
    (doc) => new Schema(doc),
    (error) => {
      loading = null;
      throw error;
    },
  );
  return loading;
}

class Schema {
  constructor(doc) {
    this.doc = doc;
    // Every record id has one shape: the one a reference to a role has.
    const pattern = this.property("candidates", "job_role_id")?.pattern;
    this.idPattern = pattern ? new RegExp(pattern) : null;
  }

  // A "#/components/schemas/X" reference resolved; "X or null" becomes X.
  resolve(node) {
    let current = node;
    while (current?.$ref) current = this.doc.components.schemas[current.$ref.split("/").pop()];
    const options = current?.anyOf?.filter((option) => option.type !== "null");
    return options?.length === 1 ? this.resolve(options[0]) : current;
  }

  // The schema of a field of a kind's create body, or null.
  property(collection, name) {
    const body = this.doc.paths[`/api/${collection}`]?.post?.requestBody?.content?.["application/json"]?.schema;
    const properties = this.resolve(body)?.properties ?? {};
    return name in properties ? this.resolve(properties[name]) : null;
  }

  // The schema of a query parameter of a kind's list, or null.
  param(collection, name) {
    const params = this.doc.paths[`/api/${collection}`]?.get?.parameters ?? [];
    const found = params.find((param) => param.in === "query" && param.name === name);
    return found ? this.resolve(found.schema) : null;
  }

  // The values a field (or, failing that, a query parameter) allows; [] when it is no enum.
  enum(collection, name) {
    return (this.property(collection, name) ?? this.param(collection, name))?.enum ?? [];
  }

  maxLength(collection, name) {
    return (this.property(collection, name) ?? this.param(collection, name))?.maxLength ?? null;
  }

  // The API's id shape: anything else in an address is ignored rather than sent (the server would answer 422).
  isRecordId(value) {
    return typeof value === "string" && Boolean(this.idPattern?.test(value));
  }
}
