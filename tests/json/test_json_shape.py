#!/usr/bin/env python3
"""test_json_shape — runnerctl's and runnerd's JSON is the proto3 JSON mapping.

Compares with protobuf's own printer (google.protobuf.json_format, Debian's
python3-protobuf), on messages generated from runner.proto by protoc:

1. pb_json (proto/pb_json.c) through tests/json/pb_json_render, on messages
   built here with every kind of field and edge value (bytes 0-255, the
   largest 64-bit numbers, negative numbers, enums by name and unknown
   values, oneofs, repeated and nested messages, empty and unset fields):
   the documents must be equal to MessageToDict(including defaults).
   Strings that are not UTF-8 (which protobuf-c does not refuse) must still
   make valid JSON, with U+FFFD.
2. runnerctl against a real runnerd: what run --json, wait --json, start
   --json, ps --json and health --json print must parse strictly as the
   reply message (json_format.Parse: no unknown or mistyped field) and print
   back exactly the same (MessageToDict), so each document is json_format's
   rendering of the reply it came from; an error in --json mode is the
   ReplyEnvelope's code and message; runnerd --log-json lines use the same
   names and encodings.

    test_json_shape.py RUNNERD RUNNERCTL PB_JSON_RENDER PROTO_DIR

Exits 77 (skipped) without protoc or python3-protobuf, unless CI=true.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

runnerd, runnerctl, render, proto_dir = sys.argv[1:5]


def skip(why):
    if os.environ.get("CI") == "true":
        sys.exit("FAIL: " + why + " (CI must have it)")
    print("SKIP: " + why)
    sys.exit(77)


if shutil.which("protoc") is None:
    skip("no protoc (Debian: protobuf-compiler)")
try:
    from google.protobuf import json_format
except ImportError:
    skip("no google.protobuf (Debian: python3-protobuf)")

tmp = tempfile.mkdtemp(prefix="rdjson-", dir="/tmp")
subprocess.run(["protoc", "-I", proto_dir, "--python_out=" + tmp, "runner/v1/runner.proto"], check=True)
sys.path.insert(0, tmp)
from runner.v1 import runner_pb2 as pb  # noqa: E402

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def as_json_format(msg):
    return json_format.MessageToDict(msg, including_default_value_fields=True)


def rendered(msg_or_bytes, type_name):
    data = msg_or_bytes if isinstance(msg_or_bytes, bytes) else msg_or_bytes.SerializeToString()
    out = subprocess.run([render, type_name], input=data, capture_output=True, check=True).stdout
    return json.loads(out)


# --- 1. pb_json against json_format ----------------------------------------

U64 = 2**64 - 1
cases = []

r = pb.RunResponse()
r.result.stdout = bytes(range(256))
r.result.stderr = b"\x00\xff\xfe"
r.result.exit_code = -1
r.result.signal = 9
r.result.reason = pb.SIGNALED
r.result.exec_error = "caf\u00e9 \u2603 \U0001f600 \"quoted\" \\ \n\t\x01"
r.result.wall_time_us = U64
r.result.user_time_us = 2**63
r.result.stdout_total = 1
r.result.stdout_truncated = True
r.result.pid = 2**31 - 1
r.result.oom_killed = True
cases.append((r, "every scalar kind"))
cases.append((pb.RunResponse(), "a message with nothing set"))
cases.append((pb.RunResponse(result=pb.RunResult()), "a nested message of defaults"))

lst = pb.ListResponse()
for i in range(3):
    s = lst.sessions.add(session_id="%032x" % i, tag="t%d" % i, state="exited", pid=i,
                         started_at_us=1795780000000000 + i, stdout_bytes=i * 1000)
    s.argv.extend(["sh", "-c", "echo %d" % i])
    if i:
        s.result.reason = pb.EXITED
        s.result.exit_code = i
cases.append((lst, "repeated nested messages, repeated strings"))
cases.append((pb.ListResponse(), "an empty repeated field"))

h = pb.HealthResponse(status="SERVING", version="0.1.0", running=4294967295, uptime_ms=U64, sessions=7)
h.backends.add(name="exec", available=True)
h.backends.add(name="docker", available=False, detail="no engine")
cases.append((h, "uint32 and uint64 at their largest"))

env = pb.RequestEnvelope(method="runner.v1.Runner/Run", request_id=os.urandom(16), deadline_ms=5,
                         payload=b"\x0a\x00", retry=True, first_sent_unix_ms=U64)
env.metadata.add(key="k", value="v")
cases.append((env, "the request envelope"))
cases.append((pb.ReplyEnvelope(code=pb.NOT_FOUND, message="no such session"), "an enum of another type"))
cases.append((pb.StreamClientMessage(attach=pb.ReadStreamRequest(session_id="x", stream_secret=b"\x01" * 32,
                                                                 stdout_offset=U64)), "a oneof: message member"))
cases.append((pb.StreamClientMessage(detach=False), "a oneof: a member set to its default"))
cases.append((pb.StreamClientMessage(ack=pb.StreamAck()), "a oneof: an empty message member"))
cases.append((pb.StreamClientMessage(), "a oneof with nothing set"))
cases.append((pb.StreamFrame(stream=pb.STDERR, offset=3, data=b"abc", last=True, code=pb.UNAVAILABLE),
              "a stream frame"))
cases.append((pb.SignalRequest(session_id="s", signal=-2147483648), "int32 at its smallest"))
cases.append((pb.ReadOutputResponse(stdout=b"x" * 1000, stdout_end=1000,
                                    result=pb.RunResult(reason=pb.EXITED)), "ReadOutput"))

for msg, what in cases:
    got = rendered(msg, msg.DESCRIPTOR.full_name)
    want = as_json_format(msg)
    expect(got == want, "%s (%s): pb_json %s != json_format %s" % (what, msg.DESCRIPTOR.full_name, got, want))

# An enum value the .proto does not name: a number, as json_format has it.
raw = pb.ReplyEnvelope(code=pb.OK).SerializeToString() + b"\x08\x63"  # code = 99
expect(rendered(raw, "runner.v1.ReplyEnvelope")["code"] == as_json_format(pb.ReplyEnvelope.FromString(raw))["code"]
       == 99, "an unknown enum value is a number")
# A string that is not UTF-8 (field 1 of SignalRequest, raw bytes): valid
# JSON all the same, each bad byte a U+FFFD.
got = rendered(b"\x0a\x05ok\xff\xc3(", "runner.v1.SignalRequest")
expect(got["sessionId"] == "ok\ufffd\ufffd(", "a string that is not UTF-8: %r" % got["sessionId"])

# --- 2. runnerctl and runnerd ------------------------------------------------

rundir = tempfile.mkdtemp(prefix="rdj-", dir="/tmp")
addr = "ipc://%s/runnerd.sock" % rundir
log = open(os.path.join(rundir, "runnerd.log"), "w+")
daemon = subprocess.Popen([runnerd, "--listen", addr, "--log-json"], stderr=log)
env = dict(os.environ, RUNNERD_ADDR=addr)


def ctl(*args, status=0, stdin=None):
    p = subprocess.run([runnerctl] + list(args), input=stdin, capture_output=True, env=env, timeout=60)
    expect(p.returncode == status, "runnerctl %s exited %d, want %d: %s" % (" ".join(args), p.returncode,
                                                                            status, p.stderr.decode()))
    return p.stdout.decode()


def same_as_json_format(text, message_class, what, defaults=True):
    """text parses strictly as message_class and prints back the same."""
    doc = json.loads(text)
    msg = json_format.Parse(text, message_class())
    want = json_format.MessageToDict(msg, including_default_value_fields=defaults)
    expect(doc == want, "%s: runnerctl %s != json_format %s" % (what, doc, want))
    return msg


try:
    for _ in range(100):
        if subprocess.run([runnerctl, "health"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    out = ctl("run", "--json", "--", "sh", "-c", "printf '\\000\\377binary'; echo err >&2; exit 7", status=7)
    m = same_as_json_format(out, pb.RunResponse, "run --json")
    expect(m.result.stdout == b"\x00\xffbinary" and m.result.stderr == b"err\n" and m.result.exit_code == 7,
           "run --json carries the output: %s" % m)
    expect(json.loads(out)["result"]["stdoutTotal"] == "8", "64-bit numbers as strings")

    out = ctl("start", "--json", "--tag", "j", "--", "sh", "-c", "echo hi")
    doc = json.loads(out)
    handle = doc.pop("handle")
    m = same_as_json_format(json.dumps(doc), pb.StartPipesResponse, "start --json")
    expect(handle == "%s:%s" % (m.session_id, m.stream_secret.hex()), "start --json's handle")
    out = ctl("wait", "--json", m.session_id)
    same_as_json_format(out, pb.WaitResponse, "wait --json")
    out = ctl("ps", "--json")
    for s in json.loads(out):
        same_as_json_format(json.dumps(s), pb.SessionInfo, "ps --json")
    out = ctl("health", "--json")
    same_as_json_format(out, pb.HealthResponse, "health --json")
    err = subprocess.run([runnerctl, "wait", "--json", "f" * 32], capture_output=True, env=env).stderr
    # An error is the envelope's status fields alone, {code, message}.
    same_as_json_format(err, pb.ReplyEnvelope, "an error in --json mode", defaults=False)
finally:
    daemon.terminate()
    daemon.wait(timeout=20)

# runnerd's log lines: lowerCamelCase, codes by name, 64-bit as strings,
# the request id in base64.
log.seek(0)
lines = [json.loads(line) for line in log if line.strip()]
# The audit log shares stderr when no --audit-log is given: its lines have
# an "event" (and their own shape, checked by test_audit).
audit = [line for line in lines if "event" in line]
rpcs = [line for line in lines if "method" in line and "event" not in line]
expect(any(line["event"] == "start" and line["method"] == "Run" for line in audit),
       "an audit line per process started: %s" % audit)
expect(any(line["method"] == "Run" for line in rpcs), "a log line per request: %s" % lines)
for line in rpcs:
    expect(set(line) == {"time", "level", "method", "code", "durationUs", "requestId", "duplicate", "message"},
           "log line fields: %s" % line)
    expect(line["code"] in pb.StatusCode.keys() and isinstance(line["durationUs"], str)
           and len(base64.b64decode(line["requestId"])) == 16, "log line encodings: %s" % line)
expect(all(set(line) == {"time", "level", "msg"} for line in lines if "method" not in line and "event" not in line),
       "plain log lines: %s" % lines)

shutil.rmtree(tmp, ignore_errors=True)
shutil.rmtree(rundir, ignore_errors=True)
if failures:
    sys.exit("%d failure(s)" % len(failures))
print("ok: %d messages as json_format renders them; runnerctl's documents and runnerd's log in that shape"
      % len(cases))
