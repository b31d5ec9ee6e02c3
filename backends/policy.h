/* policy.h — the effective restrictions for one command: the operator's
 * profile, tightened (never loosened) by the request, with template
 * parameters already expanded and validated.
 *
 * Backends enforce a policy; a backend that cannot enforce a rule a
 * profile sets must say so (backend_ops.check) so the profile is refused
 * at config load instead of the rule being ignored at run time.
 */
#ifndef RUNNER_POLICY_H
#define RUNNER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 means "no limit" for every field. */
struct policy_limits {
	uint64_t timeout_ms;
	uint64_t cpu_seconds;    /* RLIMIT_CPU */
	uint64_t address_space;  /* RLIMIT_AS, bytes */
	uint64_t processes;      /* tasks (a pids cgroup; RLIMIT_NPROC where none) */
	uint64_t file_size;      /* RLIMIT_FSIZE, bytes */
	uint64_t open_files;     /* RLIMIT_NOFILE */
	uint64_t stdout_limit;   /* output caps, bytes */
	uint64_t stderr_limit;
	uint64_t memory;         /* bytes of memory, swap included (a cgroup's) */
	uint64_t cpus_milli;     /* thousandths of a CPU of bandwidth (a cgroup's) */
};

/* A host path bind-mounted into a container (docker backend). */
struct policy_mount {
	const char *source;  /* absolute, symlink-resolved host path */
	const char *target;  /* absolute path inside the container */
	bool rw;             /* false: read-only */
};

/* What only the docker backend reads (the profile's `docker:` mapping).
 * Everything else in struct policy applies too: network (none/bridge),
 * restrict_writes (--read-only root), private_tmp (tmpfs /tmp),
 * read_only/read_write (bind mounts at the same path), limits (rlimits set by
 * the container's init, processes as --pids-limit), user, workdir. */
struct policy_docker {
	const char *image;           /* NULL: not a docker profile */
	char **tmpfs;                /* NULL-terminated absolute paths */
	uint64_t tmpfs_size;         /* bytes per tmpfs; 0: docker's default */
	struct policy_mount *mounts; /* n_mounts of them */
	size_t n_mounts;
	uint64_t memory;             /* bytes (--memory, swap included); 0: none */
	uint64_t cpus_milli;         /* thousandths of a CPU (--cpus); 0: none */
	uint64_t pids;               /* --pids-limit; 0: none */
	unsigned pool;               /* warm containers kept pre-started (docker_pool.h) */
};

struct policy {
	const char *profile;     /* the profile's name */
	const char *backend;     /* "exec", "firejail", "docker" */
	bool network;            /* false: no network at all (loopback only inside) */
	/* NULL-terminated lists of absolute, symlink-resolved paths. */
	char **read_only;        /* visible, not writable */
	char **read_write;       /* writable; everything else read-only when `restrict_writes` */
	char **hidden;           /* not visible at all */
	bool restrict_writes;    /* writes only under read_write (and private /tmp) */
	bool private_tmp;        /* an empty /tmp of its own */
	bool hide_home;          /* /home and /root invisible */
	struct policy_limits limits;
	/* Absolute paths of unix sockets the command may connect to; NULL or
	 * empty: it may create no unix socket at all (socketpair excepted), so
	 * no host socket, filesystem or abstract, is reachable. Listed: unix
	 * sockets may be created, and every other host socket stays hidden. */
	char **unix_sockets;
	const char *user;        /* run as this user; NULL: runnerd's own */
	const char *workdir;     /* NULL: the request's or "/" */
	struct policy_docker docker;
};

#endif
