// Validate glTF/GLB files with the Khronos glTF-Validator and fail on any error or warning.
//
//   node validate.mjs FILE...        (npm ci first; see .ci/run)
//
// Prints one summary line per file (and the first messages of a failing one); exits 1 when any
// file has an error or a warning, 2 when a file cannot be read or its format is not recognised.
// External resources resolve beside the file and may not leave its folder.
import { readFile } from "node:fs/promises";
import path from "node:path";
import validator from "gltf-validator";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE.glb|FILE.gltf ...");
  process.exit(2);
}

let status = 0;
for (const file of files) {
  let bytes;
  try {
    bytes = await readFile(file);
  } catch (e) {
    console.error(`${file}: cannot read: ${e.message}`);
    status = Math.max(status, 2);
    continue;
  }
  const dir = path.resolve(path.dirname(file));
  let report;
  try {
    report = await validator.validateBytes(new Uint8Array(bytes), {
      uri: path.basename(file),
      maxIssues: 0, // 0: report every issue, so the counts are exact
      externalResourceFunction: async (uri) => {
        const full = path.resolve(dir, decodeURIComponent(uri));
        if (!full.startsWith(dir + path.sep)) {
          throw new Error(`${uri} leaves the folder of ${file}`);
        }
        return new Uint8Array(await readFile(full));
      },
    });
  } catch (e) {
    console.error(`${file}: the validator could not run: ${e}`);
    status = Math.max(status, 2);
    continue;
  }
  const { numErrors, numWarnings, numInfos, numHints, messages } = report.issues;
  console.log(
    `${file}: ${numErrors} errors, ${numWarnings} warnings, ${numInfos} infos, ${numHints} hints ` +
      `(glTF-Validator ${report.validatorVersion})`,
  );
  if (numErrors > 0 || numWarnings > 0) {
    // Group by code so that thousands of identical messages stay readable.
    const byCode = new Map();
    for (const m of messages) {
      if (m.severity > 1) continue; // 0 error, 1 warning
      const entry = byCode.get(m.code) ?? { count: 0, first: m };
      entry.count += 1;
      byCode.set(m.code, entry);
    }
    for (const [code, { count, first }] of byCode) {
      console.log(`  ${count} x ${code}: ${first.message} (first at ${first.pointer ?? first.offset ?? "?"})`);
    }
    status = Math.max(status, 1);
  }
}
process.exit(status);
