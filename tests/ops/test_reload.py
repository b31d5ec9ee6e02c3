#!/usr/bin/env python3
"""test_reload — SIGHUP: the config reloaded whole, the log reopened.

Against a real runnerd with --config, --log-file and metrics:

- a changed profile: a session started before the reload keeps the limits
  it started with (its open-files rlimit, its environment, and its wall
  timeout, which runnerd enforces as it runs), as does a Run in flight; a
  Run after the reload gets the new ones; Health (runnerctl health --json)
  shows version 2 and the SHA-256 of the new file;
- a broken config (bad YAML, then a profile its backend refuses) leaves the
  old one in force: new Runs still get its limits, the log says why,
  Health's config_error says why, runnerd_config_reload_errors_total counts
  both and runnerd_config_last_reload_successful drops to 0; a good file
  afterwards clears it;
- the log file renamed away (logrotate) and SIGHUP: new lines go to a new
  file at the path, none to the renamed one after the reopen;
- the same file again (a SIGHUP for the logs alone) changes nothing.

    test_reload.py RUNNERD RUNNERCTL
"""
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_support import Runnerd, samples, scrape, value, wait_for  # noqa: E402

CONFIG = """profiles:
  - name: default
    backend: exec
    limits:
      open_files: {nofile}
      timeout: {timeout}
    env:
      set:
        - {{name: GENERATION, value: "{gen}"}}
"""
OLD = CONFIG.format(nofile=64, timeout="60s", gen="old")
NEW = CONFIG.format(nofile=32, timeout="1s", gen="new")
PROBE = ["sh", "-c", 'ulimit -n; echo "$GENERATION"']


def health(rd):
    return json.loads(rd.ctl("health", "--json").text)


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def reloaded(rd, version, log_says):
    """SIGHUP, and wait until Health shows `version` and the log `log_says`."""
    rd.hup()
    wait_for("reload to version %d" % version, lambda: int(health(rd)["configVersion"]) == version, 30)
    wait_for("the log to say %r" % log_says, lambda: log_says in rd.log_text(), 30)


def check_changed_profile(rd, url):
    h = health(rd)
    assert h["configVersion"] == "1" and h["configSha256"] == sha256(OLD) and h["configError"] == "", h
    assert h["configPath"] == rd.config, h
    assert rd.ctl("run", "--", *PROBE).text == "64\nold\n"
    # A session that will outlive the new, shorter timeout: it reports its
    # limits when told to, then runs 3 s more.
    sess = rd.ctl("start", "--", "sh", "-c", 'read go; ulimit -n; echo "$GENERATION"; sleep 3; echo done').text.strip()
    # And a Run in flight across the reload.
    inflight = subprocess.Popen([rd.runnerctl, "--addr", rd.ipc, "run", "--", "sh", "-c",
                                 'sleep 3; ulimit -n; echo "$GENERATION"'], stdout=subprocess.PIPE)
    wait_for("the Run in flight", lambda: health(rd)["running"] == 2, 30)

    rd.write_config(NEW)
    reloaded(rd, 2, "reload: %s: version 2" % rd.config)
    h = health(rd)
    assert h["configSha256"] == sha256(NEW) and h["configError"] == "", h
    assert rd.ctl("run", "--", *PROBE).text == "32\nnew\n"
    t0 = time.monotonic()
    assert rd.ctl("run", "--", "sleep", "10", check=False).returncode == 124  # the new 1 s timeout
    assert time.monotonic() - t0 < 8

    rd.ctl("write", sess, input=b"go\n")
    rd.ctl("close-stdin", sess)
    w = json.loads(rd.ctl("wait", sess, "--json").text)["result"]
    assert w["reason"] == "EXITED" and w["exitCode"] == 0, w  # 3 s past the new timeout
    assert rd.ctl("logs", sess).stdout == b"64\nold\ndone\n"
    out, _ = inflight.communicate(timeout=60)
    assert inflight.returncode == 0 and out == b"64\nold\n", (inflight.returncode, out)
    s = samples(scrape(url))
    assert value(s, "runnerd_config_reloads_total") == 1 and value(s, "runnerd_config_version") == 2
    assert value(s, "runnerd_config_info", sha256=sha256(NEW)) == 1
    print("changed profile: ok")


def check_broken_configs(rd, url):
    bad_yaml = NEW + "  - name: [unclosed\n"
    bad_profile = NEW + "  - name: sandboxed\n    backend: no-such-backend\n"
    for n, text in enumerate([bad_yaml, bad_profile], 1):
        rd.write_config(text)
        rd.hup()
        wait_for("reload error %d in metrics" % n,
                 lambda: value(samples(scrape(url)), "runnerd_config_reload_errors_total") == n, 30)
        h = health(rd)
        assert h["configVersion"] == "2" and h["configSha256"] == sha256(NEW), h
        assert h["configError"].startswith(rd.config), h
        assert rd.ctl("run", "--", *PROBE).text == "32\nnew\n"
        assert value(samples(scrape(url)), "runnerd_config_last_reload_successful") == 0
    assert "the config in force stays (version 2" in rd.log_text()
    assert "no-such-backend" in health(rd)["configError"]
    text = rd.ctl("health").text
    assert "last reload failed: " in text and "version 2, sha256 %s" % sha256(NEW) in text, text
    # A good file again.
    rd.write_config(OLD)
    reloaded(rd, 3, "version 3")
    assert health(rd)["configError"] == ""
    assert rd.ctl("run", "--", *PROBE).text == "64\nold\n"
    assert value(samples(scrape(url)), "runnerd_config_last_reload_successful") == 1
    print("broken configs: ok")


def check_log_reopen(rd, url):
    log = rd.log_path
    rotated = log + ".1"
    rd.ctl("run", "--", "echo", "before the rotation")
    os.rename(log, rotated)
    rd.ctl("health")  # still written to the renamed file
    # Same config: a SIGHUP for the logs alone changes nothing else.
    rd.hup()
    wait_for("the new log file", lambda: "unchanged (version 3" in rd.log_text(log), 30)
    rd.ctl("run", "--", "sh", "-c", "exit 7", check=False)
    old, new = rd.log_text(rotated), rd.log_text(log)
    assert "rpc Health OK" in old and "unchanged" not in old, old[-2000:]
    assert "rpc Run OK" in new and new.count("rpc ") == 1, new
    assert oct(os.stat(log).st_mode & 0o777) == "0o600"
    assert health(rd)["configVersion"] == "3"
    assert value(samples(scrape(url)), "runnerd_log_reopen_errors_total") == 0
    print("log reopen: ok")


def main():
    runnerd, runnerctl = sys.argv[1:3]
    rd = Runnerd(runnerd, runnerctl, config=OLD, name="reload", log_file=True,
                 args=["--metrics-listen", "http://127.0.0.1:0"])
    try:
        url = wait_for("the metrics address in the log", rd.metrics_url, 10)
        check_changed_profile(rd, url)
        check_broken_configs(rd, url)
        check_log_reopen(rd, url)
    except BaseException:
        print("--- runnerd's log ---\n" + rd.log_text()[-6000:])
        raise
    finally:
        rc = rd.stop()
    assert rc == 0, rc
    print("test_reload: ok")


if __name__ == "__main__":
    main()
