#!/usr/bin/env node
// Checks that the documents in src/ cover the schema, so a Node type or a
// connection added to api/schema.graphql without a document here fails:
//   - every type implementing Node has a fragment
//     `on <Type> @refetchable(queryName: "<Type>RefetchQuery")`;
//   - every field returning a `…Connection` type is paged somewhere with
//     `@connection(key: "<Something>_<field>")`.
// relay-compiler itself checks that each document is valid against the
// schema (run it first). Node's standard library only.
'use strict';
const fs = require('fs');
const path = require('path');

const schemaPath = path.join(__dirname, '..', '..', 'api', 'schema.graphql');
const srcDir = path.join(__dirname, 'src');

const schema = fs.readFileSync(schemaPath, 'utf8').replace(/"""[\s\S]*?"""/g, '');
const docs = fs
  .readdirSync(srcDir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => fs.readFileSync(path.join(srcDir, f), 'utf8'))
  .join('\n')
  .replace(/\s+/g, ' ');

const faults = [];
const nodeTypes = [];
const connectionFields = [];
for (const m of schema.matchAll(/^type (\w+)([^{]*)\{([^}]*)\}/gm)) {
  const [, type, heading, body] = m;
  if (/\bimplements\b[^{]*\bNode\b/.test(heading)) nodeTypes.push(type);
  for (const f of body.matchAll(/^\s*(\w+)(\([^)]*\))?\s*:\s*(\w+Connection)!?(.*)$/gm)) {
    if (!/@deprecated/.test(f[4])) connectionFields.push(`${type}.${f[1]}`);
  }
}

for (const type of nodeTypes) {
  const want = new RegExp(`\\bon ${type} @refetchable\\(queryName: "${type}RefetchQuery"\\)`);
  if (!want.test(docs)) faults.push(`Node type ${type}: no fragment "on ${type} @refetchable(queryName: \\"${type}RefetchQuery\\")"`);
}
for (const tf of connectionFields) {
  const field = tf.split('.')[1];
  const want = new RegExp(`\\b${field}\\([^)]*\\) @connection\\(key: "\\w+_${field}"`);
  if (!want.test(docs)) faults.push(`connection ${tf}: not paged with @connection(key: "…_${field}")`);
}

if (nodeTypes.length === 0 || connectionFields.length === 0) {
  faults.push(`found ${nodeTypes.length} Node types and ${connectionFields.length} connection fields in the schema: the parse is broken`);
}
if (faults.length) {
  for (const f of faults) console.error(f);
  process.exit(1);
}
console.log(`coverage ok: ${nodeTypes.length} Node types refetchable, ${connectionFields.length} connection fields paged`);
if (process.argv.includes('--list')) console.log(nodeTypes.join(' ') + '\n' + connectionFields.join(' '));
