/// The web console the HTTP gateway serves at `/`: one page, embedded in the host (no CDN,
/// works offline), that lists the modules and methods from `/openapi.json`, prefills a
/// request from the method's examples (the module's `examples/`, which the description carries)
/// or else from its request schema, calls `POST /v1/{module}/{Method}` and shows the
/// answer as a table of its values, the calculation trace as a readable list (terms, decisions,
/// rules, data sets, warnings), SVG charts inline, CSV and binary fields as downloads, and the
/// raw JSON. docs/http-json.md, "Console".
///
/// The query string can choose and run a call (`?module=esca&method=ComputeSoilStock&example=…`
/// or `&body=…`, then `&run=1`), so that a link shares one.
enum ConsolePage {
  static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>carbonhub console</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; color: #1d2a22; background: #f5f7f4; }
  header { background: #24543a; color: #fff; padding: 10px 18px; font-size: 18px; }
  header small { opacity: 0.8; margin-left: 10px; }
  main { display: grid; grid-template-columns: 260px 1fr; min-height: calc(100vh - 44px); }
  nav { border-right: 1px solid #cfd8d0; overflow-y: auto; padding: 8px 0; background: #fff; }
  nav h3 { font-size: 13px; text-transform: uppercase; margin: 12px 14px 4px; color: #4b6354; }
  nav a { display: block; padding: 3px 14px 3px 22px; color: #1d2a22; text-decoration: none; font-size: 14px; }
  nav a.selected, nav a:hover { background: #e2ece5; }
  section { padding: 14px 22px; overflow-x: auto; }
  h2 { margin: 4px 0 6px; font-size: 20px; }
  .description { white-space: pre-wrap; color: #3d4f44; margin-bottom: 10px; max-width: 900px; }
  textarea { width: 100%; max-width: 900px; height: 220px; font-family: ui-monospace, monospace; font-size: 13px; }
  .controls { margin: 8px 0 14px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  button { background: #24543a; color: #fff; border: 0; padding: 7px 18px; font-size: 14px; border-radius: 3px; cursor: pointer; }
  .status { font-family: ui-monospace, monospace; font-size: 13px; }
  .status.error { color: #a1261b; }
  table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
  td, th { border: 1px solid #cfd8d0; padding: 3px 8px; text-align: left; vertical-align: top; }
  td.value { font-family: ui-monospace, monospace; text-align: right; }
  ol.trace li { margin: 2px 0; }
  .formula { color: #4b6354; font-size: 13px; }
  pre { background: #fff; border: 1px solid #cfd8d0; padding: 8px; font-size: 12px; max-width: 1100px; overflow-x: auto; }
  .chart { background: #fff; border: 1px solid #cfd8d0; margin: 8px 0; padding: 6px; max-width: 1000px; }
  .chart svg { max-width: 100%; height: auto; }
  h4 { margin: 14px 0 4px; }
  #exampleLabel { display: block; margin-bottom: 6px; font-size: 14px; }
  #exampleLabel[hidden] { display: none; }
  select { font-size: 14px; max-width: 820px; }
</style>
</head>
<body>
<header>carbonhub console<small id="host"></small></header>
<main>
  <nav id="modules"><p style="padding: 0 14px">Loading the modules…</p></nav>
  <section>
    <h2 id="title">Choose a method</h2>
    <div class="description" id="description"></div>
    <label id="exampleLabel" hidden>example <select id="example" aria-label="example"></select></label>
    <textarea id="request" spellcheck="false" aria-label="request (JSON)"></textarea>
    <div class="controls">
      <button id="run" type="button">Run</button>
      <label>version <input id="version" size="10" placeholder="default"></label>
      <label><input type="checkbox" id="defaults"> show fields at their default</label>
      <span class="status" id="status"></span>
    </div>
    <div id="result"></div>
  </section>
</main>
<script>
"use strict";
let api = null;
let current = null;

const $ = (id) => document.getElementById(id);
const element = (tag, text, className) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
};

function schemaOf(reference) {
  if (!reference || !reference.$ref) return reference || {};
  return api.components.schemas[reference.$ref.split("/").pop()] || {};
}

// A request skeleton from the schema: every field with an empty value of its type.
function skeleton(reference, depth) {
  const schema = schemaOf(reference);
  if (depth > 3) return {};
  if (schema.enum) return schema.enum[0];
  if (schema.type === "object" && schema.properties) {
    const out = {};
    for (const [name, field] of Object.entries(schema.properties)) out[name] = skeletonValue(field, depth + 1);
    return out;
  }
  return {};
}
function skeletonValue(field, depth) {
  if (field.$ref) return skeleton(field, depth);
  if (field.type === "array") return [];
  if (field.type === "object") return {};
  if (field.type === "boolean") return false;
  if (field.type === "integer" || field.oneOf) return 0;
  if (Array.isArray(field.type)) return "0";
  return "";
}

// The request body's media type: its schema and the module's examples.
function requestMedia(operation) {
  const content = operation.requestBody.content;
  return content["application/json"] || content["application/x-ndjson"];
}

// Shows the method and fills the editor: with `body` if given, else with the example named
// `exampleName` (else the method's default example, else its first), else a skeleton of the
// request schema.
function select(path, operation, body, exampleName) {
  current = { path, operation };
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("selected", link.dataset.path === path);
  $("title").textContent = operation.summary;
  $("description").textContent = operation.description || "";
  const media = requestMedia(operation);
  const examples = media.examples || {};
  const names = Object.keys(examples);
  const chooser = $("example");
  chooser.replaceChildren(...names.map((name) => {
    const option = element("option", examples[name].summary || name);
    option.value = name;
    return option;
  }));
  $("exampleLabel").hidden = names.length === 0;
  const chosen = exampleName && examples[exampleName] ? exampleName : (examples["default"] ? "default" : names[0]);
  if (chosen) chooser.value = chosen;
  if (body !== undefined) $("request").value = body;
  else if (chosen) $("request").value = JSON.stringify(examples[chosen].value, null, 2);
  else $("request").value = JSON.stringify(skeleton(media.schema, 0), null, 2);
  $("result").replaceChildren();
  $("status").textContent = "";
}

async function load() {
  const response = await fetch("/openapi.json");
  api = await response.json();
  $("host").textContent = api.info.title;
  const nav = $("modules");
  nav.replaceChildren();
  const byModule = {};
  for (const [path, item] of Object.entries(api.paths)) {
    const module = item.post.tags[0];
    (byModule[module] = byModule[module] || []).push([path, item.post]);
  }
  for (const module of Object.keys(byModule).sort()) {
    nav.appendChild(element("h3", module));
    for (const [path, operation] of byModule[module]) {
      const link = element("a", path.split("/").pop());
      link.href = "#" + path;
      link.dataset.path = path;
      link.addEventListener("click", (event) => { event.preventDefault(); select(path, operation); });
      nav.appendChild(link);
    }
  }
  const query = new URLSearchParams(location.search);
  const wanted = query.get("module") && query.get("method") ? "/v1/" + query.get("module") + "/" + query.get("method") : null;
  if (wanted && api.paths[wanted]) {
    select(wanted, api.paths[wanted].post, query.get("body") || undefined, query.get("example") || undefined);
    if (query.get("version")) $("version").value = query.get("version");
    if (query.get("run") === "1") await run();
  }
}

async function run() {
  if (!current) return;
  const headers = { "content-type": "application/json" };
  const version = $("version").value.trim();
  if (version) headers["carbonhub-module-version"] = version;
  let body = $("request").value;
  const streamedRequests = current.operation.requestBody.content["application/x-ndjson"] !== undefined;
  if (streamedRequests) {
    // One request a line: a JSON array in the editor becomes NDJSON.
    try {
      const parsed = JSON.parse(body);
      body = (Array.isArray(parsed) ? parsed : [parsed]).map((item) => JSON.stringify(item)).join("\n");
    } catch (error) { /* sent as written */ }
  }
  $("status").textContent = "running…";
  $("status").className = "status";
  const started = performance.now();
  const response = await fetch(current.path + ($("defaults").checked ? "?defaults=true" : ""), { method: "POST", headers, body });
  const text = await response.text();
  const elapsed = Math.round(performance.now() - started);
  const answered = response.headers.get("carbonhub-module-version") || "?";
  const result = $("result");
  result.replaceChildren();
  if (!response.ok) {
    let error = {};
    try { error = JSON.parse(text); } catch (_) { error = { message: text }; }
    $("status").className = "status error";
    $("status").textContent = `HTTP ${response.status} ${error.status || ""}`;
    const table = element("table");
    table.id = "error";
    for (const key of ["status", "message", "field", "requestId"]) {
      if (error[key] !== undefined) addRow(table, key, String(error[key]));
    }
    result.appendChild(table);
    return;
  }
  $("status").textContent = `HTTP ${response.status} · version ${answered} · ${elapsed} ms · request ${response.headers.get("x-request-id") || ""}`;
  const contentType = response.headers.get("content-type") || "";
  if (contentType.startsWith("application/x-ndjson")) {
    const lines = text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
    lines.filter((line) => line.result).forEach((line, index) => show(line.result, `Result ${index + 1}`));
    for (const line of lines) if (line.error) result.appendChild(element("p", `error: ${line.error.status}: ${line.error.message}`, "status error"));
  } else {
    show(JSON.parse(text), "Result");
  }
  result.appendChild(element("h4", "Raw response"));
  result.appendChild(element("pre", contentType.startsWith("application/json") ? JSON.stringify(JSON.parse(text), null, 2) : text));
}

function addRow(table, name, value) {
  const row = table.insertRow();
  row.appendChild(element("th", name));
  row.appendChild(element("td", value, "value"));
}

// One response: its charts drawn, its CSV and binary fields as downloads, its values as a table
// (nested fields by path), its traces as lists.
function show(message, heading) {
  const result = $("result");
  result.appendChild(element("h4", heading));
  const table = element("table");
  table.className = "values";
  const traces = [];
  const charts = [];
  const files = [];
  function walk(value, path) {
    if (value === null || value === undefined) return;
    const name = path.split(".").pop().replace(/\[\d+\]$/, "");
    if (name === "trace" && typeof value === "object") { traces.push([path, value]); return; }
    if (typeof value === "string" && /^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/.test(value)) { charts.push([path, value]); return; }
    if (typeof value === "string" && /csv$/i.test(name)) { files.push([path, value, "text/csv", ".csv"]); return; }
    if (typeof value === "string" && /(xlsx|ods|pdf|file|bytes)$/i.test(name) && /^[A-Za-z0-9+/=]{64,}$/.test(value)) {
      files.push([path, value, "application/octet-stream", ""]); return;
    }
    if (Array.isArray(value)) { value.forEach((item, index) => walk(item, `${path}[${index}]`)); return; }
    if (typeof value === "object") { for (const [key, item] of Object.entries(value)) walk(item, path ? `${path}.${key}` : key); return; }
    if (table.rows.length < 400) addRow(table, path, typeof value === "number" ? formatNumber(value) : String(value));
  }
  walk(message, "");
  // Charts first: what a planner looks for; then downloads, values and the trace.
  for (const [path, svg] of charts) {
    result.appendChild(element("h4", path));
    const box = element("div", undefined, "chart");
    // Parsed as SVG, not HTML: a module's chart cannot run script in the page.
    const parsed = new DOMParser().parseFromString(svg, "image/svg+xml").documentElement;
    for (const script of parsed.querySelectorAll("script, foreignObject")) script.remove();
    box.appendChild(document.importNode(parsed, true));
    result.appendChild(box);
  }
  for (const [path, content, type, extension] of files) {
    const data = type === "text/csv" ? new Blob([content], { type }) : new Blob([Uint8Array.from(atob(content), (c) => c.charCodeAt(0))], { type });
    const link = element("a", `Download ${path}`);
    link.href = URL.createObjectURL(data);
    link.download = path.replace(/[^A-Za-z0-9_.-]/g, "_") + extension;
    result.appendChild(element("p")).appendChild(link);
  }
  if (table.rows.length) result.appendChild(table);
  for (const [path, trace] of traces) showTrace(path, trace);
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e6) / 1e6);
}

function showTrace(path, trace) {
  const result = $("result");
  result.appendChild(element("h4", `Trace (${path}): ${trace.method || ""} ${trace.methodVersion || trace.method_version || ""}`));
  const list = element("ol");
  list.className = "trace";
  for (const term of trace.terms || []) {
    const item = element("li");
    item.appendChild(element("strong", term.name));
    item.appendChild(document.createTextNode(` = ${formatNumber(term.value || 0)} ${term.unitSymbol || term.unit_symbol || (term.unit || "").replace(/^UNIT_/, "").toLowerCase()}`));
    const detail = [term.formula, term.source].filter(Boolean).join(" — ");
    if (detail) item.appendChild(element("div", detail, "formula"));
    list.appendChild(item);
  }
  result.appendChild(list);
  const sections = [
    ["Decisions", (trace.decisions || []).map((d) => `${d.rule}: ${d.choice}${d.reason ? " (" + d.reason + ")" : ""}`)],
    ["Rules", (trace.rules || []).map((r) => `${r.rule}: ${r.effect}`)],
    ["Data sets", (trace.dataSets || trace.data_sets || []).map((d) => `${d.name} ${d.version}${d.source ? " — " + d.source : ""}`)],
    ["Warnings", trace.warnings || []],
  ];
  for (const [title, lines] of sections) {
    if (!lines.length) continue;
    result.appendChild(element("h4", title));
    const items = element("ul");
    for (const line of lines) items.appendChild(element("li", line));
    result.appendChild(items);
  }
}

$("example").addEventListener("change", () => {
  const example = current && (requestMedia(current.operation).examples || {})[$("example").value];
  if (example) $("request").value = JSON.stringify(example.value, null, 2);
});
$("run").addEventListener("click", () => run().catch((error) => { $("status").textContent = String(error); }));
load().catch((error) => { $("modules").textContent = "Cannot read /openapi.json: " + error; });
</script>
</body>
</html>
"""#
}
