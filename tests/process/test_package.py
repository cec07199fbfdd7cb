#!/usr/bin/env python3
"""The Debian package (packaging/, README "Install as a service").

  deb_contents_and_scratch_root
        `cpack -G DEB` on the build tree makes ringkv_*.deb; `dpkg-deb -c` lists kvnode,
        kv, the example config, the systemd unit and the README; Depends names the runtime
        libraries (dpkg-shlibdeps) and adduser; the control files hold postinst, prerm,
        postrm and conffiles. Unpacked into a scratch root: the packaged `kvnode --help`
        and `kv --help` work, the packaged kvnode starts with the packaged example config
        (on a scratch data dir and a free port) and stops cleanly on SIGTERM, and
        `systemd-analyze verify` passes on the packaged unit
  dpkg_install_and_purge
        as root only: `dpkg -i` installs it, the ringkv system user exists, the installed
        /usr/bin/kvnode --help and kv --help work, `systemd-analyze verify` passes on the
        installed unit; `dpkg -P` (always, in a finally) removes binaries, config and user

Skipped (exit 77, with the reason) where cpack/dpkg-deb are missing; the install part
is skipped where not root or where a ringkv package is already installed (it is never
touched). The build tree is found from --kvnode (the folder holding CPackConfig.cmake).

Run: python3 tests/process/test_package.py --kvnode PATH --kv PATH
"""

import fcntl
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    _die_with_parent, can_connect, check, check_eq, free_port, run_tests, test, wait_until,
)

SKIPPED = []  # reasons; the script exits 77 when it passed but skipped a part
UNIT = "usr/lib/systemd/system/ringkv.service"
EXPECTED_FILES = ["./usr/bin/kvnode", "./usr/bin/kv", "./etc/ringkv/ringkv.conf", "./" + UNIT,
                  "./usr/share/doc/ringkv/README.md"]
LOCK_PATH = "/tmp/ringkv-test-package.lock"  # one dpkg -i/-P at a time across test runs


def run(argv, timeout=300, check_rc=True, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                          preexec_fn=_die_with_parent, **kwargs)
    out = proc.stdout.decode("utf-8", "replace")
    if check_rc:
        check(proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{out[-3000:]}")
    return proc.returncode, out


def build_dir(ctx):
    folder = os.path.dirname(ctx.kvnode_path)
    while folder != "/":
        if os.path.isfile(os.path.join(folder, "CPackConfig.cmake")):
            return folder
        folder = os.path.dirname(folder)
    return None


_DEB = {}


def make_deb(ctx):
    """Builds the .deb once per run into the run's temp dir; its path or None (skipped)."""
    if "path" in _DEB:
        return _DEB["path"]
    build = build_dir(ctx)
    missing = [tool for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps") if shutil.which(tool) is None]
    if build is None or missing:
        SKIPPED.append(f"cannot build the package: {'no CPackConfig.cmake above ' + ctx.kvnode_path if build is None else 'missing ' + ', '.join(missing)} (scripts/setup.sh installs dpkg-dev)")
        _DEB["path"] = None
        return None
    out_dir = os.path.join(os.path.dirname(ctx.workdir), "deb")
    os.makedirs(out_dir, exist_ok=True)
    run(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"), "-B", out_dir])
    debs = glob.glob(os.path.join(out_dir, "ringkv_*.deb"))
    check_eq(len(debs), 1, f"one ringkv .deb in {out_dir}")
    _DEB["path"] = debs[0]
    print(f"  built {os.path.basename(debs[0])} ({os.path.getsize(debs[0])} bytes)")
    return debs[0]


def verify_unit(unit_path, workdir=None, root=None):
    """systemd-analyze verify on the unit. Its ExecStart binary must exist, so a unit unpacked
    under `root` is verified as a copy in `workdir` whose ExecStart points into `root`
    (verify --root would need a whole systemd tree there)."""
    if shutil.which("systemd-analyze") is None:
        SKIPPED.append("systemd-analyze is missing (scripts/setup.sh installs systemd)")
        return
    if root is not None:
        with open(unit_path) as f:
            text = f.read()
        check("ExecStart=/usr/bin/kvnode " in text, "the unit starts /usr/bin/kvnode")
        os.makedirs(os.path.join(workdir, "unit"), exist_ok=True)
        unit_path = os.path.join(workdir, "unit", "ringkv.service")
        with open(unit_path, "w") as f:
            f.write(text.replace("ExecStart=/usr/bin/kvnode ", f"ExecStart={root}/usr/bin/kvnode "))
    rc, out = run(["systemd-analyze", "verify", unit_path], check_rc=False)
    # Offline (no systemd running) it may only note that; any complaint about the unit fails.
    complaints = [line for line in out.splitlines() if "ringkv" in line]
    check(rc == 0 and not complaints, f"systemd-analyze verify {unit_path}: exit {rc}:\n{out}")


def help_works(kvnode, kv):
    _, out = run([kvnode, "--help"])
    check("--restore-snapshot" in out and "--log-file" in out, f"kvnode --help: {out[:300]}")
    _, out = run([kv, "--help"])
    check("snapshot" in out, f"kv --help: {out[:300]}")


@test
def deb_contents_and_scratch_root(ctx):
    deb = make_deb(ctx)
    if deb is None:
        return
    _, listing = run(["dpkg-deb", "-c", deb])
    paths = [line.split()[-1] for line in listing.splitlines() if line.strip()]
    for expected in EXPECTED_FILES:
        check(expected in paths, f"{expected} is in the package: {paths}")
    _, depends = run(["dpkg-deb", "-f", deb, "Depends"])
    for library in ("librocksdb", "libuv1", "libsodium", "adduser"):
        check(library in depends, f"Depends names {library}: {depends.strip()}")
    control = os.path.join(ctx.workdir, "control")
    run(["dpkg-deb", "-e", deb, control])
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        check(os.path.isfile(os.path.join(control, script)), f"control has {script}")
    with open(os.path.join(control, "conffiles")) as f:
        check_eq(f.read().split(), ["/etc/ringkv/ringkv.conf"], "conffiles")

    root = os.path.join(ctx.workdir, "root")
    run(["dpkg-deb", "-x", deb, root])
    kvnode = os.path.join(root, "usr/bin/kvnode")
    help_works(kvnode, os.path.join(root, "usr/bin/kv"))

    # The example config as shipped, with a scratch data dir and a free port.
    port = free_port("127.0.0.1")
    log_path = os.path.join(ctx.workdir, "example.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([kvnode, "--config", os.path.join(root, "etc/ringkv/ringkv.conf"),
                                 "--data", os.path.join(ctx.workdir, "data"), "--listen", f"127.0.0.1:{port}"],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        wait_until(lambda: proc.poll() is not None or can_connect("127.0.0.1", port), 20.0,
                   "the packaged kvnode with the example config to listen")
        check(proc.poll() is None, f"kvnode with the example config exited {proc.returncode}: "
                                   f"{open(log_path, 'rb').read().decode()[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    check_eq(rc, 0, "the packaged kvnode stops cleanly on SIGTERM")
    check("node node1 id" in open(log_path, "rb").read().decode(), "the example config named the node node1")

    verify_unit(os.path.join(root, UNIT), workdir=ctx.workdir, root=root)


def package_installed():
    rc, out = run(["dpkg-query", "-W", "-f=${Status}", "ringkv"], check_rc=False)
    return rc == 0 and "installed" in out and "not-installed" not in out


@test
def dpkg_install_and_purge(ctx):
    deb = make_deb(ctx)
    if deb is None:
        return
    if os.geteuid() != 0:
        SKIPPED.append("dpkg -i needs root")
        return
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if package_installed() or os.path.exists("/usr/bin/kvnode") or os.path.exists("/etc/ringkv"):
            SKIPPED.append("ringkv (or a /usr/bin/kvnode or /etc/ringkv) is already here; left untouched")
            return
        try:
            run(["dpkg", "-i", deb], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            check(package_installed(), "dpkg -i installed ringkv")
            user = pwd.getpwnam("ringkv")
            check(user.pw_uid < 1000, f"ringkv is a system user: uid {user.pw_uid}")
            help_works("/usr/bin/kvnode", "/usr/bin/kv")
            verify_unit("/" + UNIT)
        finally:
            run(["dpkg", "-P", "ringkv"], check_rc=False)
        check(not package_installed(), "dpkg -P removed ringkv")
        check(not os.path.exists("/usr/bin/kvnode") and not os.path.exists("/etc/ringkv"),
              "purge removed the binaries and the config")
        check("ringkv" not in [u.pw_name for u in pwd.getpwall()], "purge removed the ringkv user")


if __name__ == "__main__":
    rc = run_tests()
    for reason in SKIPPED:
        print(f"skipped: {reason}")
    sys.exit(77 if rc == 0 and SKIPPED else rc)
