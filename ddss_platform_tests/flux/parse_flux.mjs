// Checks Flux files with InfluxData's own tools, compiled to WebAssembly and installed from npm by
// scripts/install-flux-parser.sh, and prints one JSON line per file:
//   errors      syntax errors from the @influxdata/flux parser ("line:column message")
//   valid       the semantic check of @influxdata/flux-lsp-browser (types, standard library signatures,
//               undefined names), or null when that package is missing
//   task        the properties of `option task = {...}`
//   to_buckets  the bucket of every to() call
// Usage: node parse_flux.mjs FILE...
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const modules = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules', '@influxdata');

// Both packages are built for bundlers (the JS glue imports the .wasm, which imports the glue back):
// instantiate the WebAssembly module by hand and hand the glue its exports.
async function loadWasm(dir, glueFile, wasmFile) {
  const glue = fs.readFileSync(path.join(dir, glueFile), 'utf8')
    .replace(/^import \* as wasm from '\.\/[\w-]+\.wasm';$/m, 'let wasm; const __inits = [];\n'
      + 'export function __setWasm(w) { wasm = w; __inits.forEach((f) => f()); }')
    // memory views the glue creates at load time: create them once wasm is there
    .replace(/^(cached\w+Memory0) = new (\w+)\(wasm\.memory\.buffer\);$/gm, '__inits.push(() => { $1 = new $2(wasm.memory.buffer); });');
  const shim = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flux-check-')), 'glue.mjs');
  fs.writeFileSync(shim, glue);
  const mod = await import(pathToFileURL(shim));
  const compiled = await WebAssembly.compile(fs.readFileSync(path.join(dir, wasmFile)));
  const imports = Object.fromEntries(WebAssembly.Module.imports(compiled).map((i) => [i.module, mod]));
  mod.__setWasm((await WebAssembly.instantiate(compiled, imports)).exports);
  fs.rmSync(path.dirname(shim), { recursive: true });
  return mod;
}

function walk(node, visit) {
  if (Array.isArray(node)) return node.forEach((n) => walk(n, visit));
  if (node && typeof node === 'object') {
    visit(node);
    Object.values(node).forEach((v) => walk(v, visit));
  }
}

function literal(node) {
  if (!node) return null;
  if (node.type === 'StringLiteral') return node.value;
  if (node.type === 'DurationLiteral') return node.values.map((v) => `${v.magnitude}${v.unit}`).join('');
  return node.type;
}

function properties(objectExpression) {
  const out = {};
  for (const p of objectExpression?.properties ?? []) out[p.key.name ?? p.key.value] = literal(p.value);
  return out;
}

const parser = await loadWasm(path.join(modules, 'flux'), 'flux.js', 'flux_bg.wasm');
const lspDir = path.join(modules, 'flux-lsp-browser');
const checker = fs.existsSync(lspDir)
  ? await loadWasm(lspDir, 'flux-lsp-browser_bg.js', 'flux-lsp-browser_bg.wasm')
  : null;

for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  const report = { file, errors: [], valid: checker ? new checker.Flux(text).is_valid() : null, task: null, to_buckets: [] };
  walk(parser.parse(text), (node) => {
    for (const e of node.errors ?? []) report.errors.push(`${node.location?.start?.line}:${node.location?.start?.column} ${e.msg}`);
    if (node.type === 'OptionStatement' && node.assignment?.id?.name === 'task') {
      report.task = properties(node.assignment.init);
    }
    // a call inside a pipe (`|> to(...)`) is a bare {callee, arguments} node without a type
    if (node.callee?.name === 'to' && node.arguments) {
      report.to_buckets.push(properties(node.arguments?.[0]).bucket ?? null);
    }
  });
  console.log(JSON.stringify(report));
}
