/* memory.h — giving memory back: runnerd's allocator policy.
 *
 * glibc keeps what a process frees. Its heaps shrink only from the top, and
 * by default a freed large block raises the size above which blocks are
 * mmap'd (up to 32 MiB): after one 4 MiB message, every later one comes
 * from the heap, zeroed in full by nng's calloc even when its sender
 * stalled half-way, and stays in the heap once freed. A burst of sessions
 * left runnerd at hundreds of MB with nothing in use.
 *
 *  - memory_configure, before any thread exists: blocks larger than a
 *    stream frame (MEMORY_MMAP_THRESHOLD: large requests and replies) are
 *    always mmap'd, so they are unmapped the moment they are freed, and a
 *    message nng zeroes for a half-sent request costs only the pages that
 *    arrived; frames, chunks and stdin writes below it are reused from the
 *    heap (mapping each 256 KiB write cost a fifth more CPU on bulk stdin);
 *    and at most MEMORY_ARENAS malloc arenas (nng's threads would get up to
 *    8 per core), so freed memory is not spread over heaps few threads ever
 *    use again. A heap's free top is kept up to MEMORY_TRIM_THRESHOLD
 *    (glibc's default, 128 KiB, is fixed once the mmap threshold is set):
 *    below it, freeing a stream frame at the top gave its pages back at
 *    once and the next frame faulted them in and zeroed them again, a
 *    tenth of runnerd's CPU when streaming. memory_release still hands
 *    them back once traffic falls.
 *  - memory_release, from a periodic tick: once the bytes in use fell by
 *    MEMORY_TRIM_SLACK since the last trim, malloc_trim(0) hands every free
 *    page of every arena back to the kernel (MADV_DONTNEED), not just the
 *    top of the heap. A daemon at rest costs nothing: nothing fell, no trim.
 * Process-wide; memory_release runs on one thread (the loop's).
 */
#ifndef RUNNER_MEMORY_H
#define RUNNER_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

#define MEMORY_MMAP_THRESHOLD (1088u * 1024u) /* a 1 MiB frame and its framing fit below */
#define MEMORY_ARENAS 2
#define MEMORY_TRIM_THRESHOLD (8u << 20) /* a few frames in flight */
#define MEMORY_TRIM_SLACK (1u << 20)

/* Set the allocator's policy; 0, or -1 when glibc refused an option. */
int memory_configure(void);

/* Trim if memory in use fell by MEMORY_TRIM_SLACK since the last trim;
 * true when it trimmed. */
bool memory_release(void);

#endif
