# SPDX-License-Identifier: MIT
"""benchutil - what the benchmark scripts in bench/ share."""
import socket
import time


def loadavg():
    """The 1, 5 and 15 minute load averages: the machine may be shared,
    so every result records how busy it was."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wait_until(fn, timeout, interval=0.1):
    """Call fn until it is true or timeout seconds have passed; its last
    answer."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(interval)
    return fn()


def banner(port):
    """Whether an SMTP server on 127.0.0.1:port answers with a 220."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as so:
            return so.recv(64).startswith(b"220")
    except OSError:
        return False
