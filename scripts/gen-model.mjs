#!/usr/bin/env node
// Generates src/api/model.generated.json from botocore's Kinesis service model.
//
// Usage: node scripts/gen-model.mjs [path/to/service-2.json.gz]
// Without an argument the model is read from the botocore package that the local `python3` imports.
// The output only depends on the input model, so re-running it on the same botocore gives the same file.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const MODEL_PATH = join('data', 'kinesis', '2013-12-02', 'service-2.json.gz');
const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'api', 'model.generated.json');
const SUPPORTED_TYPES = new Set([
  'structure',
  'list',
  'map',
  'string',
  'boolean',
  'integer',
  'long',
  'float',
  'double',
  'blob',
  'timestamp',
]);

function locateBotocore() {
  const script = 'import botocore,os;print(os.path.dirname(botocore.__file__));print(botocore.__version__)';
  const [dir, version] = execFileSync('python3', ['-c', script], { encoding: 'utf8' }).trim().split('\n');
  return { path: join(dir, MODEL_PATH), source: `botocore ${version}` };
}

function readModel(path) {
  return JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'));
}

/** Names of the shapes a shape refers to directly. */
function referencedShapes(shape) {
  if (shape.type === 'structure') return Object.values(shape.members ?? {}).map((m) => m.shape);
  if (shape.type === 'list') return [shape.member.shape];
  if (shape.type === 'map') return [shape.key.shape, shape.value.shape];
  return [];
}

/** Every shape reachable from an operation input, sorted by name. */
function inputShapeNames(model) {
  const seen = new Set();
  const pending = Object.values(model.operations)
    .map((op) => op.input?.shape)
    .filter((name) => name !== undefined);
  while (pending.length > 0) {
    const name = pending.pop();
    if (seen.has(name)) continue;
    seen.add(name);
    pending.push(...referencedShapes(model.shapes[name]));
  }
  return [...seen].sort();
}

function compactMembers(shape) {
  const required = new Set(shape.required ?? []);
  const members = {};
  for (const [name, member] of Object.entries(shape.members ?? {})) {
    members[name] = required.has(name) ? { shape: member.shape, required: true } : { shape: member.shape };
  }
  return members;
}

function compactShape(name, shape) {
  if (!SUPPORTED_TYPES.has(shape.type)) throw new Error(`shape ${name} has unsupported type ${shape.type}`);
  const out = { type: shape.type };
  if (shape.type === 'structure') out.members = compactMembers(shape);
  if (shape.type === 'list') out.member = shape.member.shape;
  if (shape.type === 'map') {
    out.key = shape.key.shape;
    out.value = shape.value.shape;
  }
  for (const field of ['min', 'max', 'pattern', 'enum']) {
    if (shape[field] !== undefined) out[field] = shape[field];
  }
  return out;
}

function compactOperation(op) {
  const out = {};
  if (op.input) out.input = op.input.shape;
  if (op.output) out.output = op.output.shape;
  out.errors = (op.errors ?? []).map((e) => e.shape);
  return out;
}

function buildCompactModel(model, source) {
  const { apiVersion, endpointPrefix, jsonVersion, protocol, serviceId, targetPrefix } = model.metadata;
  const operations = {};
  for (const name of Object.keys(model.operations).sort()) {
    operations[name] = compactOperation(model.operations[name]);
  }
  const shapes = {};
  for (const name of inputShapeNames(model)) shapes[name] = compactShape(name, model.shapes[name]);
  return {
    source,
    metadata: { apiVersion, endpointPrefix, jsonVersion, protocol, serviceId, targetPrefix },
    operations,
    shapes,
  };
}

/** Merge what the newest API model has and botocore's does not (scripts/model-additions.json). */
function addNewest(compact) {
  const additions = JSON.parse(
    readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'model-additions.json'), 'utf8'),
  );
  Object.assign(compact.operations, additions.operations);
  Object.assign(compact.shapes, additions.shapes);
  for (const [shape, members] of Object.entries(additions.members)) {
    Object.assign(compact.shapes[shape].members, members);
  }
  compact.operations = Object.fromEntries(
    Object.entries(compact.operations).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  compact.shapes = Object.fromEntries(Object.entries(compact.shapes).sort(([a], [b]) => (a < b ? -1 : 1)));
  compact.source += ' + scripts/model-additions.json';
  return compact;
}

function main() {
  const argPath = process.argv[2];
  const { path, source } = argPath ? { path: argPath, source: basename(argPath) } : locateBotocore();
  const compact = addNewest(buildCompactModel(readModel(path), source));
  writeFileSync(OUTPUT, `${JSON.stringify(compact, null, 2)}\n`);
  const counts = `${Object.keys(compact.operations).length} operations, ${Object.keys(compact.shapes).length} shapes`;
  console.log(`wrote ${OUTPUT} (${counts}) from ${source}`);
}

main();
