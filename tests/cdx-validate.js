#!/usr/bin/env node
// cdx-validate FILE: FILE against the CycloneDX 1.6 JSON schema, with
// CycloneDX's own JavaScript library (its strict validator, ajv underneath),
// installed from tests/npm. Prints "valid"; else the schema's complaints on
// stderr and status 1.
'use strict';
const fs = require('fs');
const path = require('path');
const CDX = require(path.join(__dirname, 'npm', 'node_modules', '@cyclonedx', 'cyclonedx-library'));

const file = process.argv[2];
if (!file) {
	console.error('usage: cdx-validate FILE');
	process.exit(2);
}
const validator = new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6);
validator.validate(fs.readFileSync(file, 'utf8')).then(
	(errors) => {
		if (errors) {
			console.error(`${file}: not valid CycloneDX 1.6: ${JSON.stringify(errors, null, 1)}`);
			process.exit(1);
		}
		console.log('valid');
	},
	(e) => {
		console.error(`${file}: cannot validate: ${e}`);
		process.exit(2);
	});
