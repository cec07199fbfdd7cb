#!/usr/bin/env python3
"""Log files for services (kvnode --log-file, --log-max-bytes, --log-files).

  log_file_rotates_by_size
        a node with --log-file FILE --log-max-bytes 4096 --log-files 2 logs to FILE and not
        to standard error; fed truncated frames (one warning line each) it rotates to
        kvnode.1.log and kvnode.2.log (spdlog numbers before the extension), never keeps a third, no file grows past the bound (plus one line), and every line
        carries the node's name
  default_is_standard_error_and_bad_path_refused
        without --log-file the log goes to standard error (systemd's journal); a --log-file
        under a regular file (no folder can be made there) is exit 2 with the reason, and no node starts

Run: python3 tests/process/test_log_file.py --kvnode PATH --kv PATH
"""

import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    _die_with_parent, check, check_eq, run_tests, test, wait_until,
)

MAX_BYTES = 4096
LINE_BYTES_MAX = 1024  # a rotated file may exceed the bound by the line that crossed it


@test
def log_file_rotates_by_size(ctx):
    log_file = os.path.join(ctx.workdir, "kvnode.log")
    rotated = [os.path.join(ctx.workdir, f"kvnode.{i}.log") for i in (1, 2, 3)]
    node = ctx.node(name="logger",
                    extra_args=["--log-file", log_file, "--log-max-bytes", str(MAX_BYTES), "--log-files", "2"])

    def rotated_twice():
        # A connection that ends inside a frame: the node logs one warning line for it.
        for _ in range(10):
            with socket.create_connection((node.host, node.port), timeout=5) as conn:
                conn.sendall(b"\x00\x00\x00\x10partial")
        return os.path.exists(rotated[1])

    wait_until(rotated_twice, 60.0, "the log to rotate into kvnode.2.log", interval=0)
    check(node.alive(), "the node still runs")
    check(not os.path.exists(rotated[2]), "at most --log-files 2 rotated files are kept")
    for path in [log_file] + rotated[:2]:
        size = os.path.getsize(path)
        check(size <= MAX_BYTES + LINE_BYTES_MAX, f"{path} holds {size} bytes, over the bound")
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        check(lines and all("[logger]" in line for line in lines), f"{path}: every line names the node")
    # Standard error (the harness's own log of the process) got nothing from the node.
    stderr_lines = [line for line in node.log_lines() if not line.startswith("==== harness")]
    check_eq(stderr_lines, [], "standard error with --log-file")
    check_eq(node.stop(), 0, "clean stop")


@test
def default_is_standard_error_and_bad_path_refused(ctx):
    node = ctx.node(name="plain")
    check(any("[plain]" in line and "listening on" in line for line in node.log_lines()),
          f"without --log-file the node logs to standard error: {node.log_tail(5)}")
    node.stop()

    blocker = os.path.join(ctx.workdir, "a-file")
    open(blocker, "w").close()
    bad = os.path.join(blocker, "kvnode.log")  # spdlog makes missing folders, but not under a file
    proc = subprocess.run(node.argv() + ["--log-file", bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30, preexec_fn=_die_with_parent)
    check_eq(proc.returncode, 2, f"an unwritable --log-file: {proc.stderr.decode()}")
    check("cannot open --log-file" in proc.stderr.decode(), f"the reason: {proc.stderr.decode()}")


if __name__ == "__main__":
    sys.exit(run_tests())
