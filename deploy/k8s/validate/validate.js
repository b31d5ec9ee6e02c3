#!/usr/bin/env node
// Check Kubernetes manifests against the Kubernetes API's schema, offline.
//
//   npm ci && node validate.js FILE.yaml...
//
// Every YAML document in every file is checked three ways; any failure
// exits 1 (2 for usage or unreadable input), naming file, document and kind:
//
// 1. Schema: kubernetes-models (its JSON schemas are generated from the
//    Kubernetes OpenAPI spec) validates types, required fields, enums and
//    formats, as the API server's schema does.
// 2. Unknown fields: the API server (and kubectl, with its default strict
//    field validation) refuses a field the schema does not have, such as a
//    misspelled `livenesProbe`; these JSON schemas let it pass. Each
//    document is type-checked by the TypeScript compiler as an object
//    literal of the model's interface (kubernetes-models' declarations,
//    from the same spec), and excess-property errors report those fields.
// 3. A few checks the API server does in code, not in the schema: a
//    Deployment's selector matches its pod template's labels; every
//    volumeMount names a volume of the pod; container names are unique.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");
const ts = require("typescript");

// apiVersion "v1", "apps/v1", "networking.k8s.io/v1"; kind "Deployment".
const API_VERSION = /^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

function modelModule(doc) {
  if (typeof doc.apiVersion !== "string" || !API_VERSION.test(doc.apiVersion))
    throw new Error(`apiVersion ${JSON.stringify(doc.apiVersion)} is not a Kubernetes API version`);
  if (typeof doc.kind !== "string" || !KIND.test(doc.kind))
    throw new Error(`kind ${JSON.stringify(doc.kind)} is not a Kubernetes kind`);
  const spec = `kubernetes-models/${doc.apiVersion}/${doc.kind}`;
  try {
    require.resolve(spec);
  } catch (e) {
    throw new Error(`no schema for ${doc.apiVersion} ${doc.kind} (not a built-in Kubernetes type)`);
  }
  return spec;
}

// 1. The JSON schema, through the model class's own validate().
function schemaErrors(doc, spec) {
  const Model = require(spec)[doc.kind];
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    return e.errors.map((x) => `${x.instancePath || "/"}: ${x.message}` +
      (x.params && x.params.allowedValues ? ` (${x.params.allowedValues.join(", ")})` : ""));
  }
}

// 2. Unknown fields: one virtual TypeScript file per document, type-checked
// in memory. The file lives beside this script so that the compiler finds
// kubernetes-models' declarations in node_modules. Excess-property errors
// are the point; other type errors repeat what (1) found, and count only
// for a document (1) passed. TypeScript reports one error per object
// literal, so a literal with a wrong type may hide an unknown field in it:
// the document fails either way.
function typeErrors(docs) {
  const files = new Map();
  docs.forEach((d, i) => {
    const name = path.join(__dirname, `.manifest-${i}.ts`);
    const text = `import type { I${d.doc.kind} as T } from "${d.spec}";\n` +
      `const doc: T = ${JSON.stringify(d.doc, null, 2)};\nexport default doc;\n`;
    files.set(name, { i, text, source: ts.createSourceFile(name, text, ts.ScriptTarget.ES2020, true) });
  });
  const options = { strict: true, noEmit: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2020 };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (f, ...rest) => (files.has(f) ? files.get(f).source : getSourceFile.call(host, f, ...rest));
  const fileExists = host.fileExists;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  const program = ts.createProgram([...files.keys()], options, host);
  const out = docs.map(() => ({ unknown: [], other: [] }));
  for (const diag of ts.getPreEmitDiagnostics(program)) {
    const f = diag.file && files.get(diag.file.fileName);
    const message = ts.flattenDiagnosticMessageText(diag.messageText, "\n").replace(/'"([^"]+)"'/g, "'$1'");
    if (!f) throw new Error(`TypeScript: ${message}`);
    const { line } = diag.file.getLineAndCharacterOfPosition(diag.start);
    const at = f.text.split("\n")[line].trim();
    // 2353 and 2561: "Object literal may only specify known properties".
    if (diag.code === 2353 || diag.code === 2561)
      out[f.i].unknown.push(`unknown field: ${message} (at ${at})`);
    else
      out[f.i].other.push(`type: ${message} (at ${at})`);
  }
  return out;
}

function podSpecOf(doc) {
  if (doc.kind === "Pod") return doc.spec;
  return doc.spec && doc.spec.template && doc.spec.template.spec;
}

// 3. What the API server checks in code.
function semanticErrors(doc) {
  const errors = [];
  const pod = podSpecOf(doc);
  if (doc.kind === "Deployment" || doc.kind === "StatefulSet" || doc.kind === "DaemonSet") {
    const want = (doc.spec && doc.spec.selector && doc.spec.selector.matchLabels) || {};
    const have = (doc.spec && doc.spec.template && doc.spec.template.metadata &&
      doc.spec.template.metadata.labels) || {};
    for (const [k, v] of Object.entries(want))
      if (have[k] !== v) errors.push(`spec.selector: ${k}=${v} does not match the template's labels`);
  }
  if (pod) {
    const volumes = new Set((pod.volumes || []).map((v) => v.name));
    const names = new Set();
    for (const c of [...(pod.initContainers || []), ...(pod.containers || [])]) {
      if (names.has(c.name)) errors.push(`container name ${c.name} is used twice`);
      names.add(c.name);
      for (const m of c.volumeMounts || [])
        if (!volumes.has(m.name)) errors.push(`container ${c.name}: volumeMount ${m.name} names no volume of the pod`);
    }
  }
  return errors;
}

function load(file) {
  const docs = [];
  const text = fs.readFileSync(file, "utf8");
  YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).forEach((d, n) => {
    const problems = [...d.errors, ...d.warnings];
    if (problems.length > 0)
      throw new Error(`${file}: document ${n + 1}: YAML: ${problems.map((p) => p.message).join("; ")}`);
    const doc = d.toJS();
    if (doc !== null && doc !== undefined) docs.push({ file, n: n + 1, doc });
  });
  if (docs.length === 0) throw new Error(`${file}: no documents`);
  return docs;
}

function main(files) {
  if (files.length === 0) {
    console.error("usage: validate.js FILE.yaml...");
    return 2;
  }
  let docs = [];
  try {
    for (const f of files) docs = docs.concat(load(f));
  } catch (e) {
    console.error(`invalid: ${e.message}`);
    return 2;
  }
  const checked = [];
  let failed = 0;
  for (const d of docs) {
    const label = `${d.file}: document ${d.n} (${d.doc.kind || "?"} ${(d.doc.metadata && d.doc.metadata.name) || "?"})`;
    try {
      d.spec = modelModule(d.doc);
      d.errors = schemaErrors(d.doc, d.spec).concat(semanticErrors(d.doc));
      checked.push(d);
    } catch (e) {
      console.error(`invalid: ${label}: ${e.message}`);
      failed++;
    }
    d.label = label;
  }
  typeErrors(checked).forEach((t, i) => {
    const d = checked[i];
    d.errors.push(...t.unknown, ...(d.errors.length === 0 ? t.other : []));
  });
  for (const d of checked) {
    if (d.errors.length === 0) {
      console.log(`ok: ${d.label}`);
      continue;
    }
    failed++;
    for (const e of d.errors) console.error(`invalid: ${d.label}: ${e}`);
  }
  console.log(`${docs.length - failed} valid, ${failed} invalid ` +
    `(kubernetes-models ${require("kubernetes-models/package.json").version}, typescript ${ts.version})`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
