#!/usr/bin/env python3
"""Client credentials with roles (kvnode --users, kv users, kv --user /
--password-file, RESP AUTH): wrong, missing and right credentials give kv
exit 5 or 0; a read user cannot put, a readwrite user cannot decommission;
a client credential opens no internode message; redis-cli and raw RESP get
Redis's NOAUTH / WRONGPASS / NOPERM replies word for word; `kv cluster up`
makes an admin user its nodes require, and a join still completes (nodes
confirm it by asking each other's status).

Nodes listen on 127.0.0.171-173 (no other process test uses them); the
`kv cluster up` test uses 127.0.0.1-2 on a free port.

Run: python3 tests/process/test_auth.py --kvnode PATH --kv PATH
"""

import os
import shutil
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    ERR_FORBIDDEN, ERR_NOT_AUTHENTICATED,
    EXIT_OK, ConnectionClosed, RawConnection, TestFailure, _die_with_parent, check, check_eq, free_port, message,
    put_request, run_tests, test, wait_until,
)

EXIT_NOT_ALLOWED = 5
EXIT_USAGE = 2
EXIT_NOT_FOUND = 1
REPLICA_READ_REQUEST = 13
AUTH_REQUEST = 29
AUTH_REPLY = 30

HOST = "127.0.0.171"
ROLES = {"reader": "read", "writer": "readwrite", "boss": "admin"}

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


class RespConnection(RawConnection):
    """Reads the RESP2 replies these tests need: simple strings, errors (as
    their text) and bulk strings (decoded; None for nil)."""

    def recv_value(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buffer:
            if self.eof or not self._fill(deadline):
                raise ConnectionClosed(f"connection closed inside a reply ({self.buffer[:80]!r})")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        kind, rest = line[:1], line[1:].decode()
        if kind in (b"+", b"-"):
            return rest
        check(kind == b"$", f"unexpected RESP reply {line[:80]!r}")
        if int(rest) < 0:
            return None
        while len(self.buffer) < int(rest) + 2:
            if self.eof or not self._fill(deadline):
                raise ConnectionClosed("connection closed inside a bulk string")
        data, self.buffer = self.buffer[:int(rest)], self.buffer[int(rest) + 2:]
        return data.decode()

    def call(self, *args, timeout=5.0):
        self.send(resp_command(*args))
        return self.recv_value(timeout)


def resp_command(*args):
    """One multibulk request of text arguments."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def redis_cli(node, *args):
    """redis-cli's standard output against `node`'s RESP port (error replies
    print as their text), trailing newlines removed."""
    binary = shutil.which("redis-cli")
    check(binary is not None, "redis-cli is not installed (scripts/setup.sh installs redis-tools)")
    argv = [binary, "-h", node.host, "-p", str(node.resp_port), *args]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                          preexec_fn=_die_with_parent)
    return proc.stdout.decode("utf-8", "replace").rstrip("\n")


def write_secret(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


def make_users(ctx):
    """A users file with one user per role, made by `kv users add`; returns
    (users file, {name: password file})."""
    users = os.path.join(ctx.workdir, "users")
    passwords = {}
    for name, role in ROLES.items():
        passwords[name] = write_secret(os.path.join(ctx.workdir, f"{name}.pw"), f"pw of {name}")
        added = ctx.kv("users", "add", users, name, "--role", role, "--password-file", passwords[name])
        check(added.rc == EXIT_OK, f"users add {name}: {added.describe()}")
    check_eq(stat.S_IMODE(os.stat(users).st_mode), 0o600, "users file mode")
    listed = ctx.kv("users", "list", users)
    check_eq(listed.out.decode(), "reader read\nwriter readwrite\nboss admin\n", "kv users list")
    return users, passwords


def auth_node(ctx, users, name="a1", host=HOST):
    """A one-replica node with --users and a RESP port; started once both
    ports answer (RESP answers NOAUTH before AUTH)."""
    node = ctx.node(name=name, host=host, start=False)
    node.resp_port = free_port(host)
    node.extra_args = ["--replicas", "1", "--resp-listen", f"{host}:{node.resp_port}"]
    if users:
        node.extra_args += ["--users", users]
    node.start()
    wait_until(lambda: resp_answers(node), 10.0, f"{node.name}'s RESP port to answer")
    return node


def resp_answers(node):
    try:
        with RespConnection(node.host, node.resp_port, timeout=1.0) as conn:
            return conn.call("PING", timeout=1.0) in ("PONG", NOAUTH)
    except (OSError, TimeoutError, ConnectionClosed, TestFailure):
        return False


def kv_as(ctx, node, user, passwords, *args, password_file=None):
    return ctx.kv("--user", user, "--password-file", password_file or passwords[user], *args, node=node)


@test
def kv_needs_right_credentials_and_a_role_that_allows(ctx):
    users, passwords = make_users(ctx)
    node = auth_node(ctx, users)

    missing = ctx.kv("put", "k", "v", node=node)
    check_eq(missing.rc, EXIT_NOT_ALLOWED, f"put without credentials: {missing.describe()}")
    check("authentication required" in missing.err, f"reason on stderr: {missing.err!r}")
    wrong = write_secret(os.path.join(ctx.workdir, "wrong.pw"), "not the password")
    refused = kv_as(ctx, node, "writer", passwords, "put", "k", "v", password_file=wrong)
    check_eq(refused.rc, EXIT_NOT_ALLOWED, f"put with a wrong password: {refused.describe()}")
    check("invalid username-password pair" in refused.err, f"reason on stderr: {refused.err!r}")
    unknown = ctx.kv("--user", "nobody", "--password-file", passwords["writer"], "status", node=node)
    check_eq(unknown.rc, EXIT_NOT_ALLOWED, f"status as an unknown user: {unknown.describe()}")
    no_password = ctx.kv("--user", "writer", "get", "k", node=node)
    check_eq(no_password.rc, EXIT_USAGE, f"--user without a password file: {no_password.describe()}")

    put = kv_as(ctx, node, "writer", passwords, "put", "k", "v")
    check_eq(put.rc, EXIT_OK, f"put as readwrite: {put.describe()}")
    got = kv_as(ctx, node, "reader", passwords, "get", "k")
    check((got.rc, got.out) == (EXIT_OK, b"v"), f"get as read: {got.describe()}")
    env = {"KV_USER": "reader", "KV_PASSWORD_FILE": passwords["reader"]}
    by_env = ctx.kv("get", "k", node=node, env=env)
    check((by_env.rc, by_env.out) == (EXIT_OK, b"v"), f"get with KV_USER/KV_PASSWORD_FILE: {by_env.describe()}")

    read_put = kv_as(ctx, node, "reader", passwords, "put", "k", "w")
    check_eq(read_put.rc, EXIT_NOT_ALLOWED, f"put as read: {read_put.describe()}")
    check("may not put" in read_put.err, f"reason on stderr: {read_put.err!r}")
    read_del = kv_as(ctx, node, "reader", passwords, "del", "k")
    check_eq(read_del.rc, EXIT_NOT_ALLOWED, f"del as read: {read_del.describe()}")
    decommission = kv_as(ctx, node, "writer", passwords, "decommission")
    check_eq(decommission.rc, EXIT_NOT_ALLOWED, f"decommission as readwrite: {decommission.describe()}")
    check("may not decommission" in decommission.err, f"reason on stderr: {decommission.err!r}")
    cleanup = kv_as(ctx, node, "writer", passwords, "cleanup")
    check_eq(cleanup.rc, EXIT_NOT_ALLOWED, f"cleanup as readwrite: {cleanup.describe()}")
    bench = ("bench", "--clients", "2", "--requests", "200", "--keys", "20")
    unauthenticated_bench = ctx.kv(*bench, node=node)
    check_eq(unauthenticated_bench.rc, EXIT_NOT_ALLOWED, f"bench without credentials: {unauthenticated_bench.describe()}")
    writer_bench = kv_as(ctx, node, "writer", passwords, *bench)
    check_eq(writer_bench.rc, EXIT_OK, f"bench as readwrite: {writer_bench.describe()}")
    admin_cleanup = kv_as(ctx, node, "boss", passwords, "cleanup")
    check_eq(admin_cleanup.rc, EXIT_OK, f"cleanup as admin: {admin_cleanup.describe()}")
    check(node.alive(), "the node still runs after the refusals")

    stats = kv_as(ctx, node, "boss", passwords, "stats")
    check_eq(stats.rc, EXIT_OK, f"stats as admin: {stats.describe()}")
    text = stats.out.decode()
    for counter in ("client_refused_noauth", "client_refused_forbidden", "auth_failures"):
        check(counter in text, f"kv stats lacks {counter}: {text[:400]}")

    removed = ctx.kv("users", "remove", users, "nobody")
    check_eq(removed.rc, EXIT_NOT_FOUND, f"users remove of an unknown user: {removed.describe()}")
    os.chmod(users, 0o644)
    check_eq(ctx.kv("users", "list", users).rc, EXIT_USAGE, "a users file others may read is refused")


@test
def a_client_credential_opens_no_internode_message(ctx):
    users, passwords = make_users(ctx)
    node = auth_node(ctx, users, host="127.0.0.172")
    with RawConnection(node.host, node.port) as conn:
        before = conn.call(put_request(1, b"k", b"v"))
        check(before.is_error(ERR_NOT_AUTHENTICATED), f"put before AUTH: {before}")
        password = open(passwords["boss"]).read().strip()
        ok = conn.call(message(AUTH_REQUEST, 2, "boss", password.encode()))
        check(ok.type == AUTH_REPLY and ok.fields == ["admin"], f"AUTH as admin: {ok}")
        internode = conn.call(message(REPLICA_READ_REQUEST, 3, b"k"))
        check(internode.is_error(ERR_FORBIDDEN), f"replica read after a client AUTH: {internode}")
    check(node.alive(), "the node still runs")


@test
def resp_auth_replies_are_redis_word_for_word(ctx):
    users, passwords = make_users(ctx)
    node = auth_node(ctx, users, host="127.0.0.173")
    reader_pw = open(passwords["reader"]).read().strip()
    writer_pw = open(passwords["writer"]).read().strip()
    with RespConnection(node.host, node.resp_port) as conn:
        check_eq(conn.call("PING"), NOAUTH, "PING before AUTH")
        check_eq(conn.call("GET", "k"), NOAUTH, "GET before AUTH")
        check_eq(conn.call("AUTH", "reader", "wrong"), WRONGPASS, "AUTH with a wrong password")
        check_eq(conn.call("AUTH", reader_pw), WRONGPASS, "AUTH password (no user named default)")
        check_eq(conn.call("AUTH", "reader", reader_pw), "OK", "AUTH user password")
        check_eq(conn.call("SET", "k", "v"), "NOPERM this user has no permissions to run the 'set' command",
                 "SET as read")
        check_eq(conn.call("GET", "k"), None, "GET as read")
        # Pipelined behind an AUTH, a command runs with its outcome.
        conn.send(resp_command("AUTH", "writer", writer_pw) + resp_command("SET", "k", "v"))
        check_eq(conn.recv_value(), "OK", "pipelined AUTH as readwrite")
        check_eq(conn.recv_value(), "OK", "SET pipelined behind the AUTH")
    check_eq(redis_cli(node, "GET", "k"), NOAUTH, "redis-cli without credentials")
    check_eq(redis_cli(node, "--user", "writer", "--pass", writer_pw, "--no-auth-warning", "GET", "k"), "v",
             "redis-cli --user --pass")
    check_eq(redis_cli(node, "AUTH", "writer", "wrong"), WRONGPASS, "redis-cli AUTH with a wrong password")

    open_node = auth_node(ctx, None, name="a2", host="127.0.0.173")
    check_eq(redis_cli(open_node, "AUTH", "secret"),
             "ERR AUTH <password> called without any password configured for the default user. Are you sure "
             "your configuration is correct?", "AUTH password on a node without users")
    check_eq(redis_cli(open_node, "SET", "k", "v"), "OK", "no users: no credentials needed")


@test
def cluster_up_makes_an_admin_user_its_nodes_require(ctx):
    folder = os.path.join(ctx.workdir, "cluster")
    port = free_port("127.0.0.1")
    base = ["cluster", "--dir", folder]
    up = ctx.kv(*base, "up", "--nodes", "2", "--port", port, "--replicas", "1", "--kvnode", ctx.kvnode_path,
                timeout=90)
    try:
        check_eq(up.rc, EXIT_OK, f"cluster up: {up.describe()}")
        password_file = os.path.join(os.path.abspath(folder), "admin.password")
        check(f"export KV_USER=admin KV_PASSWORD_FILE={password_file}" in up.out.decode(),
              f"cluster up prints the exports: {up.out!r}")
        for secret in (password_file, os.path.join(folder, "users")):
            check_eq(stat.S_IMODE(os.stat(secret).st_mode), 0o600, f"{secret} mode")
        host = f"127.0.0.1:{port}"
        denied = ctx.kv("put", "k", "v", host=host)
        check_eq(denied.rc, EXIT_NOT_ALLOWED, f"put without credentials: {denied.describe()}")
        env = {"KV_USER": "admin", "KV_PASSWORD_FILE": password_file}
        put = ctx.kv("put", "k", "v", host=host, env=env)
        check_eq(put.rc, EXIT_OK, f"put as the cluster's admin: {put.describe()}")
        restarted = ctx.kv(*base, "restart", "node1", timeout=90)
        check_eq(restarted.rc, EXIT_OK, f"cluster restart (authenticates as admin): {restarted.describe()}")
    finally:
        ctx.kv(*base, "down", timeout=60)


if __name__ == "__main__":
    sys.exit(run_tests())
