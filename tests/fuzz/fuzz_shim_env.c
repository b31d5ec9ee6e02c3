/* Fuzz target: the firejail shim's command transport
 * (backends/shim_env.h), both ways.
 *
 * First byte even: the rest is an environment, entries separated by '\n'
 * or NUL, decoded as runnerd-status decodes its own; what decodes must
 * re-encode and decode to the same command.
 * First byte odd: the rest is a command, NUL-separated: cwd ("" for none),
 * path, argv elements up to an empty string, then environment entries. A
 * string "\x01" K C stands for C repeated 128*K times (80 KiB in all at
 * most; escaping doubles each '%'), so that small inputs reach the 64 KiB
 * chunk boundaries while a run stays fast. Encoded, it must decode to
 * exactly itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "fuzz_targets.h"
#include "shim_env.h"

#define MAX_STRINGS 512
#define TINY_CHUNK 16u

char **tiny_shim_env_encode(const char *cwd, const char *path, char *const *argv, char *const *envp);

static bool
same_strv(char *const *a, char *const *b)
{
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return *a == NULL && *b == NULL;
}

/* Encode with `encode` (chunks of `chunk` bytes), decode, compare: the
 * transport loses nothing. */
static void
roundtrip_with(char **(*encode)(const char *, const char *, char *const *, char *const *), size_t chunk,
	       const char *cwd, const char *path, char *const *argv, char *const *envp)
{
	char **enc = encode(cwd, path, argv, envp);
	struct shim_cmd dec = { 0 };
	size_t chunk_max = strlen(SHIM_ENV_PREFIX) + 3 + 1 + chunk, n = 0;

	if (enc == NULL) {
		FUZZ_CHECK(errno == E2BIG || errno == ENOMEM, "encode failed: %s", strerror(errno));
		return;
	}
	for (char **e = enc; *e; e++, n++)
		FUZZ_CHECK(strlen(*e) <= chunk_max, "a chunk of %zu bytes", strlen(*e));
	FUZZ_CHECK(n > 0 && n <= SHIM_ENV_MAX_CHUNKS, "%zu chunks", n);
	if (argv[0] == NULL) {
		/* The shim needs argv[0]: an empty argv must not decode. */
		FUZZ_CHECK(shim_env_decode(enc, &dec) == -1 && errno == EINVAL, "empty argv decoded");
		free(enc);
		return;
	}
	FUZZ_CHECK(shim_env_decode(enc, &dec) == 0, "own encoding refused: %s", strerror(errno));
	FUZZ_CHECK((cwd == NULL) == (dec.cwd == NULL) && (cwd == NULL || strcmp(cwd, dec.cwd) == 0),
		   "cwd \"%.100s\" came back as \"%.100s\"", cwd ? cwd : "(none)", dec.cwd ? dec.cwd : "(none)");
	FUZZ_CHECK(strcmp(path, dec.path) == 0, "path \"%.100s\" came back as \"%.100s\"", path, dec.path);
	FUZZ_CHECK(same_strv(argv, dec.argv), "argv changed");
	FUZZ_CHECK(same_strv(envp, dec.envp), "envp changed");
	shim_cmd_free(&dec);
	free(enc);
}

static void
roundtrip(const char *cwd, const char *path, char *const *argv, char *const *envp)
{
	roundtrip_with(shim_env_encode, SHIM_ENV_CHUNK, cwd, path, argv, envp);
	roundtrip_with(tiny_shim_env_encode, TINY_CHUNK, cwd, path, argv, envp);
}

/* Split data into strings at each byte in `seps` and at NUL. */
static size_t
split(const uint8_t *data, size_t size, const char *seps, char **out, size_t max)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= size && n < max; i++) {
		if (i < size && data[i] != '\0' && strchr(seps, data[i]) == NULL)
			continue;
		FUZZ_CHECK((out[n] = strndup((const char *) data + start, i - start)) != NULL, "out of memory");
		n++;
		start = i + 1;
	}
	out[n] = NULL;
	return n;
}

void
fuzz_one_shim_env(const uint8_t *data, size_t size)
{
	char *s[MAX_STRINGS + 1];
	size_t n;
	struct shim_cmd dec = { 0 };

	if (size == 0)
		return;
	if ((data[0] & 1) == 0) {
		/* "\n" and NUL both end an entry: environ never holds a NUL. */
		n = split(data + 1, size - 1, "\n", s, MAX_STRINGS);
		if (shim_env_decode(s, &dec) == 0) {
			FUZZ_CHECK(dec.path != NULL && dec.argv != NULL && dec.argv[0] != NULL && dec.envp != NULL,
				   "decoded without path, argv[0] or envp");
			roundtrip(dec.cwd, dec.path, dec.argv, dec.envp);
			shim_cmd_free(&dec);
		} else {
			FUZZ_CHECK(errno == ENOENT || errno == EINVAL || errno == ENOMEM, "decode: %s",
				   strerror(errno));
		}
	} else {
		n = split(data + 1, size - 1, "", s, MAX_STRINGS);
		if (n >= 2) {
			size_t a = 2;
			while (a < n && s[a][0] != '\0')
				a++;
			char *argv_end = s[a < n ? a : n];
			s[a < n ? a : n] = NULL; /* argv: s[2..a) */
			char **envp = a < n ? s + a + 1 : s + n;
			roundtrip(s[0][0] ? s[0] : NULL, s[1], s + 2, envp);
			if (a < n)
				s[a] = argv_end;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(s[i]);
}
