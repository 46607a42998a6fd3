// Generates schema.d.ts (the types openapi-fetch is driven by) from a spec, with binary
// bodies as `Blob` instead of `string` (the transform openapi-typescript documents for them).
//
// usage: node generate.mjs SPEC.json OUT.d.ts
import fs from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const [spec, out] = process.argv.slice(2);
const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
const ast = await openapiTS(new URL(spec, `file://${process.cwd()}/`), {
  transform(schemaObject) {
    if (schemaObject.format === "binary") {
      return BLOB;
    }
    return undefined;
  },
});
fs.writeFileSync(out, astToString(ast));
