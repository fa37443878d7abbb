// openapi_check.mjs: corad's OpenAPI document, checked by real validators.
//
//   node openapi_check.mjs document DOC.json
//       validates the document (OpenAPI 3.1, @apidevtools/swagger-parser)
//       and that every {name} of a path is one of its path parameters;
//   node openapi_check.mjs responses DOC.json RESPONSES.jsonl
//       checks every recorded response (one JSON object a line: method,
//       path, status, content_type, body) against the document: its
//       status must be documented for the path and method, and its body
//       must match that response's schema (ajv, JSON Schema 2020-12).
//       Paths and methods the document has no operation for (unknown
//       paths, 405s, the internal /metrics, /status, /openapi.json) are
//       counted, not checked.
//
// The validators are npm packages installed in $CORAD_NODE_DIR (by the
// test command, from tests/openapi/package.json). Prints one line per
// problem; exits 1 when there is one, 2 on misuse.
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.CORAD_NODE_DIR ?? "."}/`);
const SwaggerParser = require("@apidevtools/swagger-parser");
const Ajv2020 = require("ajv/dist/2020.js").default;
const addFormats = require("ajv-formats").default;

const [mode, docPath, responsesPath] = process.argv.slice(2);
if (!mode || !docPath) {
	console.error("usage: openapi_check.mjs document DOC | responses DOC RESPONSES");
	process.exit(2);
}
const doc = JSON.parse(fs.readFileSync(docPath, "utf8"));
let problems = 0;
const problem = (msg) => {
	problems++;
	console.log(msg);
};

if (mode === "document") {
	try {
		await SwaggerParser.validate(structuredClone(doc));
	} catch (e) {
		problem(`invalid document: ${e.message}`);
	}
	for (const [path, item] of Object.entries(doc.paths ?? {})) {
		const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
		for (const [method, op] of Object.entries(item)) {
			const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
			for (const n of names)
				if (!declared.includes(n))
					problem(`${method.toUpperCase()} ${path}: path parameter {${n}} is not declared`);
			for (const n of declared)
				if (!names.includes(n))
					problem(`${method.toUpperCase()} ${path}: parameter ${n} is not in the path`);
		}
	}
	console.log(`document: ${Object.keys(doc.paths ?? {}).length} paths, ${problems} problems`);
	process.exit(problems > 0 ? 1 : 0);
}

if (mode !== "responses" || !responsesPath) {
	console.error("usage: openapi_check.mjs responses DOC RESPONSES");
	process.exit(2);
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: "corad", components: doc.components ?? {} });
// $ref "#/components/..." in an operation's schema means the document's.
const rebase = (schema) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"corad#/components/'));
const compiled = new Map();
const validator = (key, schema) => {
	if (!compiled.has(key))
		compiled.set(key, ajv.compile(rebase(schema)));
	return compiled.get(key);
};

// The path template of the document that matches a concrete path.
const templates = Object.keys(doc.paths ?? {}).map((t) => ({
	t,
	re: new RegExp("^" + t.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+") + "$"),
}));
const templateOf = (path) => templates.find((x) => x.re.test(path))?.t;

let checked = 0, skipped = 0;
const lines = fs.readFileSync(responsesPath, "utf8").split("\n").filter((l) => l !== "");
for (const line of lines) {
	const r = JSON.parse(line);
	const where = `${r.method} ${r.path} -> ${r.status}`;
	const t = templateOf(r.path.split("?")[0]);
	const op = t ? doc.paths[t][r.method.toLowerCase()] : undefined;
	if (!op) {
		skipped++;
		continue;
	}
	checked++;
	const res = op.responses?.[String(r.status)];
	if (!res) {
		problem(`${where}: status ${r.status} is not documented for ${r.method} ${t}`);
		continue;
	}
	const media = res.content ? Object.keys(res.content)[0] : undefined;
	if (!media) {
		if (r.body !== "")
			problem(`${where}: the document says no body, got ${JSON.stringify(r.body.slice(0, 80))}`);
		continue;
	}
	if (!r.content_type.startsWith(media.split(";")[0])) {
		problem(`${where}: Content-Type ${r.content_type}, documented ${media}`);
		continue;
	}
	if (!media.startsWith("application/json"))
		continue;
	let body;
	try {
		body = JSON.parse(r.body);
	} catch {
		problem(`${where}: the body is not JSON: ${JSON.stringify(r.body.slice(0, 80))}`);
		continue;
	}
	const validate = validator(`${t} ${r.method} ${r.status}`, res.content[media].schema);
	if (!validate(body))
		problem(`${where}: ${ajv.errorsText(validate.errors)}; body ${JSON.stringify(r.body.slice(0, 200))}`);
}
console.log(`responses: ${checked} checked, ${skipped} not operations of the document, ${problems} problems`);
process.exit(problems > 0 ? 1 : 0);
