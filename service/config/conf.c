/* conf.c — the configuration in force, loaded whole (conf.h). */
#include "config/conf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config_file.h"
#include "config/profiles.h"
#include "sha256.h"

struct conf {
	atomic_uint refs;
	char *path;
	uint64_t version, loaded_unix_ms;
	char sha256[SHA256_HEX_LEN + 1];
	struct profiles *profiles;
};

static void
conf_free(struct conf *c)
{
	profiles_free(c->profiles);
	free(c->path);
	free(c);
}

static int
hash(struct conf *c, const uint8_t *data, size_t len, rstatus *st)
{
	uint8_t digest[SHA256_LEN];
	struct sha256 h;

	if (sha256_begin(&h) < 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	sha256_add(&h, data, len);
	sha256_end(&h, digest);
	sha256_hex(digest, c->sha256);
	return 0;
}

int
conf_load(struct conf **out, const char *path, const struct command_limits *server, uint64_t version,
	  rstatus *st)
{
	struct cfg_root *root = NULL;
	uint8_t *data = NULL;
	struct timespec ts;
	struct conf *c;
	size_t len = 0;
	int rv;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (path != NULL && (c->path = strdup(path)) == NULL)) {
		free(c);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	atomic_init(&c->refs, 1);
	c->version = version;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->loaded_unix_ms = (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
	/* The bytes hashed are the bytes parsed, whatever the file does meanwhile. */
	if (path != NULL && ((rv = config_file_read(path, &data, &len, st)) < 0 ||
			     (rv = hash(c, data, len, st)) < 0 ||
			     (rv = config_file_parse(path, data, len, &root, st)) < 0))
		goto fail;
	if ((rv = profiles_compile(&c->profiles, path, root, server, st)) < 0)
		goto fail;
	config_file_free(root);
	free(data);
	*out = c;
	return 0;
fail:
	config_file_free(root);
	free(data);
	conf_free(c);
	return rv;
}

struct conf *
conf_ref(struct conf *c)
{
	if (c != NULL)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void
conf_unref(struct conf *c)
{
	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
		conf_free(c);
}

const struct profiles *
conf_profiles(const struct conf *c)
{
	return c->profiles;
}

const char *
conf_path(const struct conf *c)
{
	return c->path;
}

uint64_t
conf_version(const struct conf *c)
{
	return c->version;
}

const char *
conf_sha256(const struct conf *c)
{
	return c->sha256;
}

uint64_t
conf_loaded_unix_ms(const struct conf *c)
{
	return c->loaded_unix_ms;
}
