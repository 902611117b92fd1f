/* SPDX-License-Identifier: MIT */
#include "sbom.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

/* s percent-encoded as a package URL's name or version wants it: all but
 * letters, digits and ".-_~" (https://github.com/package-url/purl-spec). */
static void purl_encode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 < size; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == '_' || *p == '~')
			out[n++] = (char)*p;
		else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = 0;
}

/* pkg:deb/DISTRO/NAME@VERSION?arch=ARCH[&distro=CODENAME] */
static void purl(const struct sbom *s, const struct sbom_pkg *p, char *out, size_t size)
{
	char name[256], version[256], codename[64] = "";

	purl_encode(p->name, name, sizeof(name));
	purl_encode(p->version, version, sizeof(version));
	if (s->codename)
		purl_encode(s->codename, codename, sizeof(codename));
	snprintf(out, size, "pkg:deb/%s/%s@%s?arch=%s%s%s", s->distro ? s->distro : "debian", name,
		 version, p->arch, codename[0] ? "&distro=" : "", codename);
}

static json_t *prop(const char *name, const char *value)
{
	return json_pack("{s:o, s:o}", "name", json_str(name), "value", json_str(value));
}

static json_t *sha256(const char *hex)
{
	return json_pack("[{s:s, s:s}]", "alg", "SHA-256", "content", hex);
}

/* A name-based (version 5 style) UUID from the image's SHA-256: the same
 * image has the same serial number. */
static void serial(const struct sbom *s, char out[static 46])
{
	const char *h = s->image_sha256 && strlen(s->image_sha256) >= 32
				? s->image_sha256
				: "00000000000000000000000000000000";
	char v = "89ab"[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];

	snprintf(out, 46, "urn:uuid:%.8s-%.4s-5%.3s-%c%.3s-%.12s", h, h + 8, h + 13, v, h + 17, h + 20);
}

static json_t *package(const struct sbom_pkg *p, const char *ref)
{
	json_t *c, *props, *lic;

	props = json_pack("[o, o, o]", prop("debian:source", p->source),
			  prop("debian:source-version", p->source_version),
			  prop("debian:architecture", p->arch));
	if (props && p->suite)
		json_array_append_new(props, prop("debian:suite", p->suite));
	c = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "type", "library", "bom-ref", ref, "name",
		      json_str(p->name), "version", json_str(p->version), "purl", ref, "properties",
		      props);
	if (!c || !p->licenses)
		return c;
	/* The copyright file's own names (GPL-2+, BSD-3-clause...), which
	 * are Debian's, not always SPDX identifiers. */
	lic = json_array();
	for (const char *l = p->licenses; lic && *l;) {
		size_t n = strcspn(l, "\n");
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), l);
		json_array_append_new(lic, json_pack("{s:{s:o}}", "license", "name", json_str(name)));
		l += n + (l[n] == '\n');
	}
	if (!lic || json_object_set_new(c, "licenses", lic) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static int components(const struct sbom *s, json_t *comps, json_t *deps, json_t *image_deps)
{
	const char *image_dl = NULL;
	char ref[1024];

	for (size_t i = 0; i < s->n_archives; i++) {
		snprintf(ref, sizeof(ref), "archive:%s", s->archives[i].suite);
		if (json_array_append_new(comps, json_pack("{s:s, s:s, s:o, s:o, s:[{s:s, s:o}]}",
							   "type", "data", "bom-ref", ref, "name",
							   json_str(s->archives[i].suite), "description",
							   json_str("a package archive's suite"),
							   "externalReferences", "type", "distribution",
							   "url", json_str(s->archives[i].url))) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_dls; i++) {
		const char *base = strrchr(s->dls[i].url, '/');

		snprintf(ref, sizeof(ref), "download:%s", s->dls[i].url);
		if (s->dls[i].image)
			image_dl = s->dls[i].url;
		if (json_array_append_new(comps, json_pack("{s:s, s:s, s:o, s:o, s:[{s:s, s:o}]}",
							   "type", "file", "bom-ref", ref, "name",
							   json_str(base && base[1] ? base + 1 : s->dls[i].url),
							   "hashes", sha256(s->dls[i].sha256),
							   "externalReferences", "type", "distribution",
							   "url", json_str(s->dls[i].url))) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_pkgs; i++) {
		const struct sbom_pkg *p = &s->pkgs[i];
		char from[1024];

		purl(s, p, ref, sizeof(ref));
		if (json_array_append_new(comps, package(p, ref)) < 0 ||
		    json_array_append_new(image_deps, json_string(ref)) < 0)
			return -ENOMEM;
		/* Where it came from: the archive suites that had its version
		 * ("trixie,trixie-updates"), else the vendor image the build
		 * started from. */
		json_t *on = json_array();
		if (!on)
			return -ENOMEM;
		for (const char *w = p->suite; w && *w;) {
			size_t n = strcspn(w, ",");
			for (size_t k = 0; k < s->n_archives; k++)
				if (strlen(s->archives[k].suite) == n && strncmp(s->archives[k].suite, w, n) == 0) {
					snprintf(from, sizeof(from), "archive:%s", s->archives[k].suite);
					json_array_append_new(on, json_string(from));
				}
			w += n + (w[n] == ',');
		}
		if (!json_array_size(on) && !p->suite && image_dl) {
			snprintf(from, sizeof(from), "download:%s", image_dl);
			json_array_append_new(on, json_str(from));
		}
		if (!json_array_size(on))
			json_decref(on);
		else if (json_array_append_new(deps, json_pack("{s:s, s:o}", "ref", ref, "dependsOn", on)) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_files; i++) {
		snprintf(ref, sizeof(ref), "file:%s", s->files[i].path);
		if (json_array_append_new(comps, json_pack("{s:s, s:s, s:o, s:o, s:[o]}", "type",
							   "file", "bom-ref", ref, "name",
							   json_str(s->files[i].path), "hashes",
							   sha256(s->files[i].sha256), "properties",
							   prop("rt-image-kit:overlay",
								s->files[i].overlay))) < 0 ||
		    json_array_append_new(image_deps, json_str(ref)) < 0)
			return -ENOMEM;
	}
	return 0;
}

int sbom_cyclonedx(const struct sbom *s, struct text *t)
{
	json_auto_t *root = NULL;
	json_t *comps = json_array(), *deps = json_array(), *image_deps = json_array(), *props, *image;
	char serial_number[46], size[24];

	if (!comps || !deps || !image_deps || components(s, comps, deps, image_deps) < 0) {
		json_decref(comps);
		json_decref(deps);
		json_decref(image_deps);
		return -ENOMEM;
	}
	props = json_array();
	for (size_t i = 0; props && i < s->n_props; i++)
		json_array_append_new(props, prop(s->props[i].name, s->props[i].value));
	if (props && s->no_package_db)
		json_array_append_new(props, prop("rt-image-kit:package-database",
						  "none: the image has no /var/lib/dpkg/status"));
	snprintf(size, sizeof(size), "%llu", (unsigned long long)s->image_size);
	image = json_pack("{s:s, s:s, s:o, s:o, s:[o, o]}", "type", "operating-system", "bom-ref",
			  "image", "name", json_str(s->name), "hashes", sha256(s->image_sha256),
			  "properties", prop("rt-image-kit:image-size", size),
			  prop("rt-image-kit:kernel", s->kernel ? s->kernel : "unknown"));
	serial(s, serial_number);
	root = json_pack("{s:s, s:s, s:s, s:i, s:{s:o, s:{s:[{s:s, s:s, s:s, s:o}]}, s:o, s:o}, s:o, s:o}",
			 "bomFormat", "CycloneDX", "specVersion", "1.6", "serialNumber", serial_number,
			 "version", 1, "metadata", "timestamp", json_str(s->date), "tools", "components",
			 "type", "application", "group", "rt-image-kit", "name", "img-manifest",
			 "version", json_str(s->tool_version), "component", image, "properties", props,
			 "components", comps, "dependencies", deps);
	if (!root) {
		json_decref(image_deps);
		return -ENOMEM;
	}
	/* The image holds the packages and the overlays' files. */
	if (json_array_insert_new(json_object_get(root, "dependencies"), 0,
				  json_pack("{s:s, s:o}", "ref", "image", "dependsOn", image_deps)) < 0)
		return -ENOMEM;
	return json_text(root, t);
}
