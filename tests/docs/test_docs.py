#!/usr/bin/env python3
"""test_docs — every ```sh block of README.md and deploy/README.md, run as written.

Each block runs in a bash of its own, line by line as a reader would type it,
with what the documents assume in place:

- runnerd and runnerctl on PATH from the build (and `sudo` running its
  command, the test being root);
- a private mount namespace (with a PID namespace of its own, so whatever a
  block starts ends with it): /run/runnerd and /srv are empty tmpfs there,
  so runnerd's default address, ipc:///run/runnerd/runnerd.sock, and
  /srv/... are the block's own, never the machine's;
- a scratch working directory that looks like the checkout (deploy/, tests/,
  ... and build/ link to the real ones).

An HTML comment on the line before a block says what more it needs:

    <!-- doctest: with runnerd; files: data.bin Makefile -->
    <!-- doctest: skip: REASON -->
    <!-- doctest: continues -->

`with runnerd` starts runnerd on its default address first (and waits for
it); `files:` puts these into the working directory (data.bin: 1 MiB of
random bytes; Makefile: a build printing a few hundred lines). A block that
cannot run in a test (installs, systemd, a cluster, a registry) is marked
skip with the reason, and the test lists what it skipped. `continues` runs
a block after the one before it in the same shell, as a reader following
the text does (what it started still runs, its variables are set).

A line passes when it exits 0, or N when its comment says "exits N"; when
the comment says "prints TEXT" (up to a comma, colon or semicolon), its
stdout must be TEXT. Commands separated by ";" are checked one by one, the
comment applying to the last. Lines continued with a backslash are one.

    test_docs.py SOURCE_DIR BUILD_DIR

Exits 77 (skipped) when not root (namespaces), unless CI=true.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

src, build = (os.path.abspath(a) for a in sys.argv[1:3])
DOCS = ["README.md", "deploy/README.md"]
BLOCK_TIMEOUT = 600

if os.geteuid() != 0:
    if os.environ.get("CI") == "true":
        sys.exit("FAIL: test_docs needs root (mount and PID namespaces)")
    print("SKIP: not root: the blocks run in private mount and PID namespaces")
    sys.exit(77)


def blocks(path):
    """(line number, options, [lines]) of each ```sh block."""
    out, options, lines, start, inside = [], {}, None, 0, False
    prev = ""
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not inside and line.strip() == "```sh":
            inside, lines, start = True, [], n
            options = parse_marker(prev)
        elif inside and line.strip() == "```":
            inside = False
            out.append((start, options, lines))
        elif inside:
            lines.append(line)
        prev = line
    return out


def parse_marker(line):
    m = re.fullmatch(r"\s*<!--\s*doctest:\s*(.*?)\s*-->\s*", line)
    options = {"runnerd": False, "files": [], "skip": None, "continues": False}
    if not m:
        return options
    text = m.group(1)
    if text.startswith("skip:"):
        options["skip"] = text[5:].strip()
        return options
    for part in text.split(";"):
        part = part.strip()
        if part == "with runnerd":
            options["runnerd"] = True
        elif part == "continues":
            options["continues"] = True
        elif part.startswith("files:"):
            options["files"] = part[6:].split()
        elif part:
            sys.exit("unknown doctest option %r in %r" % (part, line))
    return options


def split_comment(line):
    """The command and its trailing comment (a # outside quotes, after a
    blank or at the start)."""
    quote, i = None, 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "\\":
            i += 1
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1:].strip()
        i += 1
    return line.rstrip(), ""


def split_commands(cmd):
    """Top-level ';'-separated commands (outside quotes and $(...))."""
    parts, quote, depth, cur, i = [], None, 0, "", 0
    while i < len(cmd):
        c = cmd[i]
        if quote:
            if c == "\\" and quote == '"' and i + 1 < len(cmd):
                cur += c + cmd[i + 1]
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif cmd.startswith("$(", i):
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == ";" and depth == 0:
            parts.append(cur.strip())
            cur, i = "", i + 1
            continue
        cur += c
        i += 1
    if cur.strip():
        parts.append(cur.strip())
    return parts


def script_for(doc, segments):
    """The bash script that runs blocks line by line and checks each:
    `segments` are (start line, lines) of blocks run one after the other."""
    out = [
        "set -o pipefail",
        "__failed=0",
        "__check() {  # status wanted where text",
        '  if [ "$1" != "$2" ]; then echo "DOCTEST FAIL $3: exited $1, want $2: $4" >&2; __failed=1; fi',
        "}",
        "__printed() {  # file wanted where text",
        '  if [ "$(cat "$1")" != "$2" ]; then',
        '    echo "DOCTEST FAIL $3: printed [$(cat "$1")], want [$2]: $4" >&2; __failed=1; fi',
        '  cat "$1"',
        "}",
        '__out=$(mktemp)',
    ]
    joined = []
    for start, lines in segments:
        i = 0
        while i < len(lines):
            n, text = start + 1 + i, lines[i]
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1] + "\n" + lines[i]
            joined.append((n, text))
            i += 1
    for n, text in joined:
        cmd, comment = split_comment(text)
        if not cmd.strip():
            continue
        where = "%s:%d" % (doc, n)
        want = re.search(r"\bexits (\d+)\b", comment)
        want = int(want.group(1)) if want else 0
        prints = re.search(r"\bprints ([^,:;]+)", comment)
        cmds = split_commands(cmd)
        for k, c in enumerate(cmds):
            last = k == len(cmds) - 1
            q = shlex.quote(c)
            out.append("echo %s >&2" % shlex.quote("$ " + c))
            if last and prints:
                out.append("{ %s\n} >\"$__out\"" % c)
                out.append("__check $? %d %s %s" % (want, where, q))
                out.append("__printed \"$__out\" %s %s %s" % (shlex.quote(prints.group(1).strip()), where, q))
            else:
                out.append("{ %s\n}" % c)
                out.append("__check $? %d %s %s" % (want if last else 0, where, q))
    out.append('rm -f "$__out"')
    out.append("exit $__failed")
    return "\n".join(out) + "\n"


# What the blocks run inside, as PID 1 of their namespace: the private
# directories, runnerd when asked for, the block, then everything stopped.
WRAPPER = r"""
set -u
mount --make-rprivate /
mkdir -p /run/runnerd /srv
mount -t tmpfs -o mode=0700 runnerd-doctest /run/runnerd
mount -t tmpfs -o mode=0755 srv-doctest /srv
cd "$DOCTEST_DIR"
if [ "$DOCTEST_RUNNERD" = 1 ]; then
	runnerd 2>"$DOCTEST_DIR/runnerd.log" &
	for i in $(seq 100); do runnerctl --connect-timeout 200ms health >/dev/null 2>&1 && break; sleep 0.1; done
fi
bash "$DOCTEST_DIR/block.sh" </dev/null
rc=$?
# Stop what the block left (runnerd drains), then the rest.
kill -TERM -1 2>/dev/null
for i in $(seq 150); do kill -0 -1 2>/dev/null || break; sleep 0.1; done
kill -KILL -1 2>/dev/null
exit $rc
"""

MAKEFILE = "all:\n\t@for i in $$(seq 1 300); do echo \"building part $$i of 300\"; done\n"


def setup_dir(options):
    d = tempfile.mkdtemp(prefix="rddoc-", dir="/tmp")
    for entry in os.listdir(src):
        if entry not in ("build",) and not entry.startswith("."):
            os.symlink(os.path.join(src, entry), os.path.join(d, entry))
    os.symlink(build, os.path.join(d, "build"))
    for f in options["files"]:
        if f == "data.bin":
            with open(os.path.join(d, f), "wb") as out:
                out.write(os.urandom(1 << 20))
        elif f == "Makefile":
            with open(os.path.join(d, f), "w") as out:
                out.write(MAKEFILE)
        else:
            sys.exit("test_docs knows no file %r" % f)
    shims = os.path.join(d, ".shims")
    os.mkdir(shims)
    with open(os.path.join(shims, "sudo"), "w") as out:
        out.write('#!/bin/sh\n# The test runs as root: sudo just runs its command.\nexec "$@"\n')
    os.chmod(os.path.join(shims, "sudo"), 0o755)
    os.mkdir(os.path.join(d, ".xdg"), 0o700)
    return d


def run_block(doc, options, segments):
    d = setup_dir(options)
    with open(os.path.join(d, "block.sh"), "w") as out:
        out.write(script_for(doc, segments))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNERD_")}
    env.update(
        PATH=":".join([os.path.join(build, "service"), os.path.join(build, "cli"), os.path.join(d, ".shims"),
                       "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]),
        XDG_RUNTIME_DIR=os.path.join(d, ".xdg"),
        DOCTEST_DIR=d,
        DOCTEST_RUNNERD="1" if options["runnerd"] else "0",
    )
    try:
        p = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "bash", "-c", WRAPPER],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=BLOCK_TIMEOUT)
        output, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        output, rc = (e.stdout or b"").decode(errors="replace") + "\n(timed out)", -1
    log = os.path.join(d, "runnerd.log")
    if rc != 0 and os.path.exists(log):
        output += "\n--- runnerd (with runnerd) ---\n" + open(log, errors="replace").read()
    shutil.rmtree(d, ignore_errors=True)
    return rc, output


def groups(doc):
    """The blocks of a document to run, each with the blocks that continue it."""
    out = []
    for start, options, lines in blocks(os.path.join(src, doc)):
        if options["continues"]:
            if not out or options["skip"] is not None or options["runnerd"] or options["files"]:
                sys.exit("%s:%d: a block that continues follows a block that runs, and takes no other option"
                         % (doc, start))
            out[-1][2].append((start, lines))
        else:
            out.append((start, options, [(start, lines)]))
    return out


failed, ran, skipped = [], 0, []
for doc in DOCS:
    for start, options, segments in groups(doc):
        where = "%s:%s" % (doc, "+".join(str(s) for s, _ in segments))
        if options["skip"] is not None:
            skipped.append((where, options["skip"]))
            continue
        ran += len(segments)
        rc, output = run_block(doc, options, segments)
        print("=== %s (%s)\n%s" % (where, "ok" if rc == 0 else "FAILED, %d" % rc, output.rstrip()))
        if rc != 0:
            failed.append(where)

print("\nSkipped, as the documents mark them:")
for where, why in skipped:
    print("  %s: %s" % (where, why))
print("\n%d blocks run, %d failed, %d skipped" % (ran, len(failed), len(skipped)))
if ran == 0:
    sys.exit("no block ran")
if failed:
    sys.exit("failed: " + ", ".join(failed))
