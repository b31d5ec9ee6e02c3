/* collect.h — the run-to-completion side of a job (the Run RPC): stdin is
 * a fixed byte string fed as the pipe drains, then closed; stdout and
 * stderr are captured with caps and fully counted. */
#ifndef RUNNER_COLLECT_H
#define RUNNER_COLLECT_H

#include "run/capture.h"
#include "run/job.h"

struct collect {
	struct capture out, err;
	bool tty;  /* out is a terminal's: it fills RunResult.pty */
	uint8_t *stdin_data;
	size_t stdin_len, stdin_off;
};

/* Copies `in`. */
int collect_init(struct collect *c, const uint8_t *in, size_t in_len, uint64_t out_limit,
		 uint64_t err_limit, rstatus *st);
void collect_free(struct collect *c);

/* For job_ops.output. */
int collect_output(struct collect *c, enum job_stream s, int fd);
/* For job_ops.stdin_writable. */
void collect_stdin(struct collect *c, struct job *j, int fd);
/* Put the captured output and its counts into `res`; the bytes stay owned
 * by `c`. */
void collect_fill(const struct collect *c, Runner__V1__RunResult *res);

#endif
