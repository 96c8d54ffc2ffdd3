#!/usr/bin/env python3
"""Console behaviour of lkvm on a real terminal (a pty), with the echo guest.

Checks, each printed as PASS:/FAIL: lines:
  - typed bytes reach the guest through the 8250 and its echo comes back;
  - Ctrl-A x stops the guest and lkvm exits 0;
  - the terminal's mode after lkvm exits is exactly the mode before.
usage: console-pty.py LKVM ECHO_GUEST
"""
import os
import pty
import select
import subprocess
import sys
import termios
import time


def read_until(fd, want, timeout):
    buf = b""
    end = time.time() + timeout
    while want not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            buf += data
    return buf


def main():
    lkvm, guest = sys.argv[1], sys.argv[2]
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([lkvm, "run", "-k", guest], stdin=slave,
                            stdout=slave, stderr=slave, close_fds=True)
    failed = 0

    def result(ok, name, detail=""):
        nonlocal failed
        print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else " (%s)" % detail))
        failed += 0 if ok else 1

    out = read_until(master, b"echo: ready", 10)
    result(b"echo: ready" in out, "console: guest output on the terminal", repr(out[-200:]))
    os.write(master, b"hello\r")
    out = read_until(master, b"HELLO", 10)
    result(b"HELLO" in out, "console: typed input reaches the guest", repr(out[-200:]))
    raw = termios.tcgetattr(slave)
    result(raw != before, "console: terminal in raw mode while running", "mode unchanged")
    os.write(master, b"\x01x")
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "hung"
    result(rc == 0, "console: Ctrl-A x stops the guest with status 0", "status %s" % rc)
    after = termios.tcgetattr(slave)
    result(after == before, "console: terminal mode restored at exit", "mode differs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
