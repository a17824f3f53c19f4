# SPDX-License-Identifier: MIT
"""netns - a network namespace of its own for a test, with its own
/etc/resolv.conf and /etc/hosts, and the DNS peers the tests resolve
through: dnsmasq serving test records (Dnsmasq), a real unbound serving a
test zone with NXDOMAIN, SERVFAIL and REFUSED names (Unbound), and a
server that reads every query and never answers (DropDns).

A test file runs itself again inside a fresh namespace:

    import netns
    ...
    if __name__ == "__main__":
        netns.enter(__file__)   # exits 77 when not root; returns inside
        unittest.main()

Outside, enter() makes the namespace (`ip netns add postino-PID-HEX`),
writes /etc/netns/NAME/resolv.conf (nameserver 127.0.0.1 and the given
options) and /etc/netns/NAME/hosts (localhost and the host's name), runs
`ip netns exec NAME python3 tests/cmd/run_unittest.py FILE ARGS` -- `ip
netns exec` bind-mounts those two files over /etc/resolv.conf and
/etc/hosts for everything started inside -- and at the end kills
whatever the test left running in the namespace (`ip netns pids`),
deletes the namespace and /etc/netns/NAME, and exits with the test's status.  Inside (POSTINO_NETNS set), loopback
is up and is the only interface: everything of the test (the postino
instance, dnsmasq, Postfix, the clients) runs there, and nothing reaches
the host's resolver or network.  Every address of 127.0.0.0/8 is usable:
the resolver's 127.0.0.1:53 is whichever peer the test starts there.

    dns = DropDns()                 # 127.0.0.1:53, UDP and TCP, never answers
    dns.wait_for("x.stall.test")    # a query for that name has arrived

    drop = DropDns("127.0.0.2")
    d = Dnsmasq(tc, ["--host-record=good.test,192.0.2.1"],
                drop={"stall.test": drop})   # *.stall.test forwarded there

    ub = Unbound(tc, ["a.test. MX 10 mx1.a.test.",
                      "mx1.a.test. A 127.0.0.11"],
                 servfail=["broken.test"], refused=["refused.test"],
                 drop={"stall.test": drop})
    ub.add("late.test. A 127.0.0.12"); ub.remove("a.test.")

query() is a minimal DNS client (one UDP question) for checking a peer.
"""
import os
import secrets
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cmd"))
from postino_testlib import poll_until  # noqa: E402

SKIP = 77
RUN_UNITTEST = os.path.join(HERE, "..", "cmd", "run_unittest.py")
ENV = "POSTINO_NETNS"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
UNBOUND_CONTROL = shutil.which("unbound-control") or "/usr/sbin/unbound-control"
# glibc's and c-ares' defaults: 5 s per try, 2 tries.
RESOLV_OPTIONS = "timeout:5 attempts:2"


def inside():
    """The namespace's name when running inside one made by enter()."""
    return os.environ.get(ENV)


def _ns_pids(name):
    r = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                       text=True, timeout=30)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def enter(path, resolv_options=RESOLV_OPTIONS, hosts="", timeout=1500,
          unittest=True):
    """Run python3 PATH (with this process's arguments) inside a new
    namespace and exit with its status; return at once when already
    inside one.  Exits 77 (ctest's SKIP) when not root.  resolv_options
    go on the "options" line of the namespace's resolv.conf; hosts is
    appended to its /etc/hosts.  unittest=False runs PATH by itself
    instead of through run_unittest.py (for scripts: bench/nostall.py)."""
    if inside():
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True,
                       timeout=30)
        return
    if os.geteuid() != 0:
        print("skip: needs root (ip netns add, mount)")
        sys.exit(SKIP)
    name = "postino-%d-%s" % (os.getpid(), secrets.token_hex(3))
    etc = os.path.join("/etc/netns", name)
    rc = 1
    try:
        os.makedirs(etc)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\n")
            if resolv_options:
                f.write("options %s\n" % resolv_options)
        with open(os.path.join(etc, "hosts"), "w") as f:
            # The host name too: programs that look it up at start
            # (slapd) must not wait on a DNS peer that never answers.
            f.write("127.0.0.1 localhost %s\n::1 localhost\n%s"
                    % (socket.gethostname(), hosts))
        subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
        env = dict(os.environ)
        env[ENV] = name
        # Through run_unittest.py again, so that a skipped test still
        # exits 77 from inside.
        runner = [RUN_UNITTEST] if unittest else []
        p = subprocess.Popen(["ip", "netns", "exec", name, sys.executable]
                             + runner + [os.path.abspath(path)]
                             + sys.argv[1:], env=env)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print("FAIL: the test did not end within %d s" % timeout,
                  file=sys.stderr)
            p.kill()
            p.wait(timeout=60)
            rc = 1
    finally:
        # Whatever the test left in the namespace (daemons that detached)
        # keeps it alive: end it first.
        for _ in range(5):
            pids = _ns_pids(name) if os.path.exists(
                os.path.join("/run/netns", name)) else []
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        subprocess.run(["ip", "netns", "del", name], capture_output=True,
                       timeout=30)
        shutil.rmtree(etc, ignore_errors=True)
    sys.exit(rc)


# -- DNS messages -------------------------------------------------------------

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
          "TXT": 16, "AAAA": 28, "ANY": 255}
QTYPE_NAMES = {v: k for k, v in QTYPES.items()}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(msg):
    """(qname, qtype name) of the first question of a DNS message, or
    None when it cannot be parsed."""
    try:
        if struct.unpack("!H", msg[4:6])[0] < 1:
            return None
        pos, labels = 12, []
        while msg[pos]:
            n = msg[pos]
            if n & 0xC0:
                return None
            labels.append(msg[pos + 1:pos + 1 + n].decode(errors="replace"))
            pos += 1 + n
        qtype = struct.unpack("!H", msg[pos + 1:pos + 3])[0]
        return ".".join(labels).lower(), QTYPE_NAMES.get(qtype, str(qtype))
    except (IndexError, struct.error):
        return None


def query(name, qtype="A", server="127.0.0.1", port=53, timeout=2.0):
    """One UDP question; returns (rcode, answer count), or None when no
    answer came within timeout seconds."""
    qid = secrets.randbelow(65536)
    msg = (struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
           + encode_name(name) + struct.pack("!HH", QTYPES[qtype], 1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, (server, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = s.recvfrom(4096)
            except socket.timeout:
                return None
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                flags, _, ancount = struct.unpack("!HHH", data[2:8])
                return flags & 0xF, ancount
    return None


# -- the peers ----------------------------------------------------------------

class DropDns:
    """A DNS server on ADDRESS:PORT (UDP and TCP) that reads every query
    and never answers; it records what it was asked.  Runs on a thread
    of the test process until stop() (registered as tc's cleanup when tc
    is given)."""

    def __init__(self, address="127.0.0.1", port=53, tc=None):
        self.address, self.port = address, port
        self.lock = threading.Lock()
        self.queries = []       # (monotonic time, qname, qtype, "udp"/"tcp")
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((address, port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((address, port))
        self.tcp.listen(64)
        self.held = []          # TCP connections, kept open, never answered
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.udp, selectors.EVENT_READ, "udp")
        self.sel.register(self.tcp, selectors.EVENT_READ, "listen")
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if tc is not None:
            tc.addCleanup(self.stop)

    def _record(self, msg, proto):
        q = question(msg)
        if q:
            with self.lock:
                self.queries.append((time.monotonic(), q[0], q[1], proto))

    def _run(self):
        bufs = {}
        while not self.done.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                try:
                    if key.data == "udp":
                        msg, _ = self.udp.recvfrom(65535)
                        self._record(msg, "udp")
                    elif key.data == "listen":
                        c, _ = self.tcp.accept()
                        self.held.append(c)
                        bufs[c] = b""
                        self.sel.register(c, selectors.EVENT_READ, "tcp")
                    else:
                        c = key.fileobj
                        data = c.recv(65535)
                        if not data:
                            self.sel.unregister(c)
                            continue
                        bufs[c] += data
                        while len(bufs[c]) >= 2:
                            n = struct.unpack("!H", bufs[c][:2])[0]
                            if len(bufs[c]) < 2 + n:
                                break
                            self._record(bufs[c][2:2 + n], "tcp")
                            bufs[c] = bufs[c][2 + n:]
                except OSError:
                    pass

    def names(self):
        with self.lock:
            return [q[1] for q in self.queries]

    def asked(self, suffix):
        """How many queries for SUFFIX or a name under it."""
        suffix = suffix.lower().rstrip(".")
        return sum(1 for n in self.names()
                   if n == suffix or n.endswith("." + suffix))

    def wait_for(self, suffix, count=1, timeout=60):
        """Until COUNT queries for names under SUFFIX have arrived."""
        poll_until("%d DNS queries for %s (got: %s)"
                   % (count, suffix, self.names()[-10:]),
                   lambda: self.asked(suffix) >= count, timeout=timeout)

    def stop(self):
        if self.done.is_set():
            return
        self.done.set()
        self.thread.join(timeout=10)
        for s in [self.udp, self.tcp] + self.held:
            try:
                s.close()
            except OSError:
                pass
        self.sel.close()



def stop_process(proc, directory=None):
    """Stop a peer (TERM, then KILL after 30 s), close its stderr pipe if
    it has one and remove its directory if one is given."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    if proc.stderr:
        proc.stderr.close()
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


class Dnsmasq:
    """dnsmasq on ADDRESS:PORT answering from RECORDS (dnsmasq options:
    --host-record=, --mx-host=, --txt-record=, --ptr-record=, ...) and
    nothing else: no upstream, no /etc/hosts; names it does not know under
    the LOCAL domains are NXDOMAIN.  drop maps a domain to a DropDns that
    dnsmasq forwards that domain's queries to (so they are never
    answered).  Stopped at tc's cleanup."""

    def __init__(self, tc, records, address="127.0.0.1", port=53,
                 local=("test", "invalid"), drop=None, extra=()):
        self.address, self.port = address, port
        self.dir = tempfile.mkdtemp(prefix="postino-dnsmasq-")
        argv = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--no-poll", "--bind-interfaces",
                "--listen-address=" + address, "--port=%d" % port,
                "--user=root", "--group=root",
                "--pid-file=" + os.path.join(self.dir, "dnsmasq.pid"),
                "--log-facility=" + os.path.join(self.dir, "dnsmasq.log")]
        for dom, peer in (drop or {}).items():
            # A more specific --server wins over --local for that domain.
            argv.append("--server=/%s/%s#%d" % (dom, peer.address, peer.port))
        argv += ["--local=/%s/" % d for d in local]
        argv += list(records) + list(extra)
        if not os.access(DNSMASQ, os.X_OK):
            raise AssertionError("dnsmasq is not installed "
                                 "(Debian: dnsmasq-base)")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        tc.addCleanup(self.stop)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited with %d: %s" % (
                    self.proc.returncode,
                    self.proc.stderr.read().decode(errors="replace")))
            # Any answer at all (NXDOMAIN included) means it is serving.
            return query("probe.invalid", "A", address, port,
                         timeout=0.5) is not None
        poll_until("dnsmasq answering on %s:%d" % (address, port), up,
                   timeout=30)

    def stop(self):
        stop_process(self.proc, self.dir)


UNBOUND_CONF = """server:
    interface: {address}@{port}
    port: {port}
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    logfile: "{dir}/unbound.log"
    use-syslog: no
    log-queries: yes
    verbosity: 1
    num-threads: 1
    module-config: "iterator"
    trust-anchor-file: ""
    auto-trust-anchor-file: ""
    root-hints: ""
    do-not-query-localhost: no
    do-not-query-address: {nowhere}
    access-control: 127.0.0.0/8 allow
    cache-max-ttl: 0
    cache-max-negative-ttl: 0
    infra-host-ttl: 0
    harden-referral-path: no
    qname-minimisation: no
    # Answers in the order of the records (tests of the client's own
    # shuffling need a fixed order).
    rrset-roundrobin: no
{zones}
remote-control:
    control-enable: yes
    control-interface: "{dir}/control.sock"
    control-use-cert: no
{forwards}"""


class Unbound:
    """A real unbound on ADDRESS:PORT serving RECORDS (unbound local-data
    lines: "a.test. MX 10 mx1.a.test.", "mx1.a.test. A 127.0.0.11",
    "null.test. MX 0 .") in the LOCAL zones ("static": a name it has no
    record for is NXDOMAIN, a known name without the type asked is
    NODATA).  Names under a domain of servfail are answered SERVFAIL at
    once (forwarded to an address unbound must not query), names under
    a domain of refused are answered REFUSED, and drop maps a domain to a
    DropDns that unbound forwards its queries to (never answered: the
    client times out).  No validation, no cache worth speaking of, no
    root-only paths: configuration, pid file, log and the control socket
    live in a temporary directory.  add()/remove() change local data
    while it runs (unbound-control over a unix socket).  Stopped at tc's
    cleanup."""

    # unbound refuses to query this address: a zone forwarded here has
    # no usable server and is SERVFAIL without waiting.
    NOWHERE = "127.0.0.254"

    def __init__(self, tc, records, address="127.0.0.1", port=53,
                 local=("test", "invalid"), servfail=(), refused=(),
                 drop=None):
        if not os.access(UNBOUND, os.X_OK):
            raise AssertionError("unbound is not installed "
                                 "(Debian: unbound)")
        self.address, self.port = address, port
        self.dir = tempfile.mkdtemp(prefix="postino-unbound-")
        os.chmod(self.dir, 0o755)
        zones = []
        for d in local:
            zones.append('    local-zone: "%s." static' % d.rstrip("."))
        for d in refused:
            zones.append('    local-zone: "%s." refuse' % d.rstrip("."))
        forwards = []
        for d, addr, p in ([(d, self.NOWHERE, 53) for d in servfail]
                           + [(d, peer.address, peer.port)
                              for d, peer in (drop or {}).items()]):
            # transparent: the forward-zone answers, not the static zone
            # above it.
            zones.append('    local-zone: "%s." transparent' % d.rstrip("."))
            forwards.append('forward-zone:\n    name: "%s."\n'
                            '    forward-addr: %s@%d\n'
                            % (d.rstrip("."), addr, p))
        for r in records:
            # A record with double quotes (TXT) goes in single quotes:
            # unbound.conf strings have no backslash escapes.
            if '"' in r:
                zones.append("    local-data: '%s'" % r)
            else:
                zones.append('    local-data: "%s"' % r)
        self.conf = os.path.join(self.dir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write(UNBOUND_CONF.format(
                address=address, port=port, dir=self.dir,
                nowhere=self.NOWHERE, zones="\n".join(zones),
                forwards="".join(forwards)))
        r = subprocess.run([UNBOUND + "-checkconf", self.conf],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("unbound-checkconf: %s%s"
                                 % (r.stdout, r.stderr))
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        tc.addCleanup(self.stop)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited with %d: %s %s" % (
                    self.proc.returncode,
                    self.proc.stderr.read().decode(errors="replace"),
                    self.log()))
            return query("probe.invalid", "A", address, port,
                         timeout=0.5) is not None
        poll_until("unbound answering on %s:%d" % (address, port), up,
                   timeout=30)

    def log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def control(self, *args):
        r = subprocess.run([UNBOUND_CONTROL, "-c", self.conf] + list(args),
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or r.stdout.strip() not in ("ok", ""):
            raise AssertionError("unbound-control %s: rc=%d %s%s"
                                 % (" ".join(args), r.returncode, r.stdout,
                                    r.stderr))
        return r.stdout

    def add(self, record):
        """One more local-data record, served from now on."""
        self.control("local_data", record)

    def remove(self, name):
        """Every record of NAME: from now on NXDOMAIN (NODATA when names
        below it exist)."""
        self.control("local_data_remove", name)
        self.control("flush", name)

    def stop(self):
        stop_process(self.proc, self.dir)
