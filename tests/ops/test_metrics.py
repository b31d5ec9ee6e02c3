#!/usr/bin/env python3
"""test_metrics — runnerd's Prometheus metrics (runnerd --metrics-listen).

Against a real runnerd:

- every counter the test can move moves by exactly what it did: requests by
  method and code and their latency, processes by how they ended (exited,
  signaled, timeout, exec_failed, killed), spawns, sessions' stdin and
  output bytes, stream frames, bytes and acknowledgements, and the gauges
  of what runs and what is retained;
- `promtool check metrics` (Debian's prometheus package) finds nothing to
  say about the exposition;
- a real Prometheus, started here with a scrape config of its own and a
  temporary TSDB, scrapes runnerd and answers, over its HTTP API, a query
  for runnerd_requests_total{method="Run",code="OK"} that has grown by
  exactly the Runs made after its first sample;
- a metrics address off loopback is refused without --insecure-metrics.

    test_metrics.py RUNNERD RUNNERCTL

Skips (77) without promtool and prometheus, unless CI=true.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_support import Runnerd, die_with_parent, free_port, samples, scrape, skip, value, wait_for  # noqa: E402

RUNS_OK = 'runnerd_requests_total{method="Run",code="OK"}'


def deltas(before, after):
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in set(before) | set(after)}


def moved(d):
    """What moved, for a failure's message."""
    return {k: v for k, v in d.items() if v and not k[0].endswith("_bucket")}


def check_counters(rd, url):
    ctl = rd.ctl
    s0 = samples(scrape(url))
    for _ in range(5):
        ctl("run", "--", "true")
    assert ctl("run", "--", "sh", "-c", "kill -9 $$", check=False).returncode == 137
    assert ctl("run", "--", "/nonexistent/program", check=False).returncode == 127
    assert ctl("run", "--timeout", "300ms", "--", "sleep", "10", check=False).returncode == 124
    # A session: 14 bytes in, the same 14 out on stdout, 4 on stderr, read
    # through ReadStream (frames and acknowledgements).
    h = ctl("start", "--", "sh", "-c", "cat; echo err >&2").text.strip()
    ctl("write", h, input=b"hello metrics\n")
    ctl("close-stdin", h)
    att = ctl("attach", h)
    assert att.stdout == b"hello metrics\n" and att.stderr == b"err\n", (att.stdout, att.stderr)
    # A session a client kills.
    h2 = ctl("start", "--", "sleep", "600").text.strip()
    ctl("kill", h2, "-s", "KILL")
    ctl("wait", h2, check=False)
    ctl("health")
    s1 = samples(scrape(url))
    d = deltas(s0, s1)

    def want(n, name, **labels):
        got = value(d, name, **labels)
        assert got == n, "%s%s moved by %s, not %s" % (name, labels, got, n)

    want(8, "runnerd_requests_total", method="Run", code="OK")
    want(8, "runnerd_request_duration_seconds_count", method="Run")
    assert value(d, "runnerd_request_duration_seconds_sum", method="Run") >= 0.3
    want(2, "runnerd_requests_total", method="StartPipes", code="OK")
    # runnerctl write ends with an empty write at the end of its input.
    assert value(d, "runnerd_requests_total", method="WriteStdin", code="OK") >= 1, moved(d)
    want(1, "runnerd_requests_total", method="CloseStdin", code="OK")
    want(1, "runnerd_requests_total", method="Signal", code="OK")
    want(1, "runnerd_requests_total", method="Health", code="OK")
    want(10, "runnerd_processes_started_total", backend="exec")
    want(6, "runnerd_processes_ended_total", backend="exec", reason="exited")
    want(1, "runnerd_processes_ended_total", backend="exec", reason="signaled")
    want(1, "runnerd_processes_ended_total", backend="exec", reason="exec_failed")
    want(1, "runnerd_processes_ended_total", backend="exec", reason="timeout")
    want(1, "runnerd_processes_ended_total", backend="exec", reason="killed")
    want(0, "runnerd_processes_ended_total", backend="exec", reason="oom")
    # Every process but the one that could not be executed was spawned.
    want(9, "runnerd_spawn_duration_seconds_count", backend="exec")
    want(14, "runnerd_session_stdin_bytes_total")
    want(14, "runnerd_session_output_bytes_total", stream="stdout")
    want(4, "runnerd_session_output_bytes_total", stream="stderr")
    want(18, "runnerd_stream_sent_bytes_total")
    # stdout, stderr and the last frame; the reader acknowledges as its
    # window needs (at least once).
    assert value(d, "runnerd_stream_frames_sent_total") >= 3, moved(d)
    assert value(d, "runnerd_stream_acks_received_total") >= 1, moved(d)
    assert value(s1, "runnerd_backend_available", backend="exec") == 1
    assert [v for (n, _), v in s1.items() if n == "runnerd_build_info"] == [1.0]
    # The gauges come from the loop's publication, once a second.
    wait_for("sessions_retained 2", lambda: value(samples(scrape(url)), "runnerd_sessions_retained") == 2, 10)
    s2 = samples(scrape(url))
    assert value(s2, "runnerd_sessions_running") == 0 and value(s2, "runnerd_runs_running") == 0
    assert value(s2, "process_open_fds") > 0 and value(s2, "process_resident_memory_bytes") > 0
    # A Run in flight shows, with its client's connection.
    bg = subprocess.Popen([rd.runnerctl, "--addr", rd.ipc, "run", "--", "sleep", "3"], stdout=subprocess.DEVNULL)
    wait_for("runs_running 1", lambda: value(samples(scrape(url)), "runnerd_runs_running") == 1, 10)
    s3 = samples(scrape(url))
    assert value(s3, "runnerd_listener_connections", listener=rd.ipc) >= 1
    assert ("runnerd_listener_connections", (("listener", rd.ipc.replace(".sock", "-stream.sock")),)) in s3
    assert bg.wait(60) == 0
    print("counters: ok")


def check_listener_guard(rd, url):
    """Peers that leave mid-handshake (the trigger of nng bug #1518) no longer
    stop a listener (rpc/nng_epipe.c): after 3,000 of them it still serves,
    the guard had nothing to re-create, and its counter says exactly that."""
    path = rd.ipc[len("ipc://"):]
    for _ in range(3000):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.close()
    assert rd.ctl("run", "--", "echo", "still serving").text == "still serving\n"
    time.sleep(1)  # a few guard probes
    assert value(samples(scrape(url)), "runnerd_listener_recreations_total", listener=rd.ipc) == 0
    print("listener guard: ok")


def check_promtool(promtool, url):
    text = scrape(url)
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == b"", "promtool check metrics:\n" + p.stdout.decode()
    print("promtool check metrics: ok (%d lines)" % len(text.splitlines()))


def check_prometheus(prometheus, rd, url):
    work = tempfile.mkdtemp(prefix="rd-prom-")
    target = urllib.parse.urlparse(url).netloc
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: runnerd\n    static_configs:\n"
                "      - targets: ['%s']\n" % target)
    log = open(os.path.join(work, "prometheus.log"), "wb")
    port = free_port()
    prom = subprocess.Popen([prometheus, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(work, "data"),
                             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=die_with_parent)
    api = "http://127.0.0.1:%d" % port

    def query(q):
        try:
            with urllib.request.urlopen(api + "/api/v1/query?" + urllib.parse.urlencode({"query": q}),
                                        timeout=10) as r:
                body = json.load(r)
        except (urllib.error.URLError, ConnectionError):
            return None
        assert body["status"] == "success", body
        res = body["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    def ready():
        if prom.poll() is not None:
            raise AssertionError("prometheus exited %d:\n%s" % (prom.returncode,
                                                               open(os.path.join(work, "prometheus.log")).read()))
        try:
            with urllib.request.urlopen(api + "/-/ready", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    try:
        wait_for("prometheus to be ready", ready, 120, 0.25)
        assert wait_for("runnerd to be up in prometheus", lambda: query('up{job="runnerd"}') == 1, 120, 0.5)
        v0 = wait_for("a first sample of " + RUNS_OK, lambda: query(RUNS_OK), 120, 0.5)
        runs = 7
        for _ in range(runs):
            rd.ctl("run", "--", "true")
        wait_for("prometheus to see %s grow by %d from %g" % (RUNS_OK, runs, v0),
                 lambda: query(RUNS_OK) == v0 + runs, 120, 0.5)
        # What a dashboard asks: the request rate and the latency quantile.
        assert query('sum(rate(runnerd_requests_total{method="Run"}[1m]))') is not None
        assert query('histogram_quantile(0.99, rate(runnerd_request_duration_seconds_bucket[1m]))') is not None
        print("prometheus: %s went from %g to %g" % (RUNS_OK, v0, v0 + runs))
    finally:
        prom.terminate()
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def check_addresses(runnerd, url):
    # Only /metrics is served.
    try:
        urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=10)
        raise AssertionError("/other answered")
    except urllib.error.HTTPError as e:
        assert e.code == 404, e.code
    # Off loopback needs --insecure-metrics; loopback names are fine.
    d = tempfile.mkdtemp(prefix="rd-ops-flags-")
    try:
        p = subprocess.run([runnerd, "--listen", "ipc://%s/r.sock" % d, "--metrics-listen", "http://0.0.0.0:9464"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 64 and b"--insecure-metrics" in p.stderr, (p.returncode, p.stderr)
        p = subprocess.run([runnerd, "--metrics-listen", "ftp://127.0.0.1:1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 64, (p.returncode, p.stderr)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("addresses: ok")


def main():
    runnerd, runnerctl = sys.argv[1:3]
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if not promtool or not prometheus:
        skip("promtool and prometheus are needed (Debian's prometheus package)")
    rd = Runnerd(runnerd, runnerctl, args=["--metrics-listen", "http://127.0.0.1:0"], name="metrics")
    try:
        url = wait_for("the metrics address in the log", rd.metrics_url, 10)
        check_counters(rd, url)
        check_listener_guard(rd, url)
        check_promtool(promtool, url)
        check_prometheus(prometheus, rd, url)
        check_addresses(runnerd, url)
    except BaseException:
        print("--- runnerd's log ---\n" + rd.log_text()[-6000:])
        raise
    finally:
        rd.stop()
    print("test_metrics: ok")


if __name__ == "__main__":
    main()
