"""The runner.v1 message classes, generated from proto/runner/v1/runner.proto.

``runner_pb2`` is made by Debian's ``protoc`` (protobuf-compiler) when the
project is built (cli/python/CMakeLists.txt writes it beside this file in
the build tree, ``build/cli/python/runnerd_client/``) and is used with
Debian's ``python3-protobuf``. Importing the package from the source tree,
where it does not exist, fails with an error that says so.
"""

try:
    from . import runner_pb2 as pb
except ImportError as e:  # pragma: no cover - depends on the installation
    if getattr(e, "name", "") == "google" or "google" in str(e):
        raise ImportError("runnerd_client needs Debian's python3-protobuf "
                          "(apt-get install python3-protobuf)") from e
    raise ImportError("runnerd_client.runner_pb2 is generated at build time: build the project "
                      "(./deploy/build.sh) and use build/cli/python, or install it") from e

__all__ = ["pb"]
