# SPDX-License-Identifier: MIT
"""test_master - the master daemon and the postino command, end to end.

Each test builds an instance (main.cf, master.cf, queue directory, a
maillog_file) in a temporary directory and drives it with the built
postino command; the services are tests/e2e/echo_daemon, a minimal daemon
that follows the contract of core/mail/mail_server.h (greeting
"hello PID UID GREETING", echoes lines, logs "trigger X" for trigger
bytes).  Clients are plain sockets on 127.0.0.1.

Waits are bounded polls (WAIT seconds) that fail when the thing never
happens; no test passes or fails on how fast something happens.

When run as root the instance uses mail_owner = nobody; the non-root
test runs a whole instance as nobody.  POSTINO_BUILD names the build tree.
"""
import os
import pwd
import re
import signal
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "cmd"))
from postino_testlib import alive, build_dir, free_port, program, run  # noqa: E402
from postino_testlib import poll_until as testlib_poll_until  # noqa: E402

WAIT = 30           # seconds: upper bound of every poll
IS_ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody")


def echo_daemon():
    path = os.path.join(build_dir(), "tests", "e2e", "echo_daemon")
    if not os.access(path, os.X_OK):
        raise AssertionError("echo_daemon is not built (%s)" % path)
    return path


def master_program():
    path = os.path.join(build_dir(), "libexec", "postino", "master")
    if not os.access(path, os.X_OK):
        raise AssertionError("master is not built (%s)" % path)
    return path


def poll_until(what, fn, timeout=WAIT):
    return testlib_poll_until(what, fn, timeout)


class Client:
    """A connection to an echo service: greeting parsed."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock.settimeout(WAIT)
        self.f = self.sock.makefile("rb")
        line = self.f.readline().decode()
        m = re.match(r"hello (\d+) (\d+) (.*)\n", line)
        if not m:
            raise AssertionError("bad greeting %r" % line)
        self.pid, self.uid, self.greeting = int(m[1]), int(m[2]), m[3]

    def echo(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self.f.readline().decode().rstrip("\n")

    def close(self):
        self.f.close()
        self.sock.close()


class Instance:
    """A postino instance in a temporary directory."""

    def __init__(self, tc, master_cf, main_extra="", as_user=None):
        self.tc = tc
        self.as_user = as_user
        self.dir = tempfile.mkdtemp(prefix="postino-master-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "conf")
        self.queue = os.path.join(self.dir, "queue")
        self.maillog = os.path.join(self.dir, "maillog")
        os.mkdir(self.conf)
        self.port = free_port()
        main = ["queue_directory = %s" % self.queue,
                "maillog_file = %s" % self.maillog,
                "inet_protocols = ipv4",
                "import_environment = MAIL_CONFIG TZ LANG=C ASAN_OPTIONS "
                "UBSAN_OPTIONS LSAN_OPTIONS"]
        if IS_ROOT and as_user is None:
            main += ["mail_owner = nobody", "setgid_group = nogroup"]
        self.write("main.cf", "\n".join(main) + "\n" + main_extra)
        self.write("master.cf", master_cf)
        if as_user:
            for root, dirs, files in os.walk(self.dir):
                for n in dirs + files + [""]:
                    os.chown(os.path.join(root, n), as_user.pw_uid,
                             as_user.pw_gid)
        tc.addCleanup(self.cleanup)

    def write(self, name, text):
        text = text.replace("{echo}", echo_daemon()).replace(
            "{port}", str(self.port))
        path = os.path.join(self.conf, name)
        with open(path, "w") as f:
            f.write(text)
        if self.as_user:
            os.chown(path, self.as_user.pw_uid, self.as_user.pw_gid)

    def postino(self, *args):
        argv = [program("postino"), "-c", self.conf] + list(args)
        if self.as_user:
            argv = ["setpriv", "--reuid=%d" % self.as_user.pw_uid,
                    "--regid=%d" % self.as_user.pw_gid, "--clear-groups",
                    "--"] + argv
        return run(argv, timeout=120)

    def start(self):
        r = self.postino("start")
        self.tc.assertEqual(r.rc, 0, r)
        return r

    def master_pid(self):
        r = self.postino("status")
        m = re.search(r"is running: PID: (\d+)", r.err)
        return int(m[1]) if r.rc == 0 and m else 0

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, count=1):
        return poll_until("%d x /%s/ in the log" % (count, pattern),
                          lambda: len(re.findall(pattern, self.log(), re.M))
                          >= count)

    def processes(self):
        """Pids of live processes that belong to this instance."""
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % d, "rb") as f:
                    env = f.read().split(b"\0")
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if (("MAIL_CONFIG=%s" % self.conf).encode() in env
                    or self.conf.encode() in cmd) and alive(int(d)):
                found.append(int(d))
        return [p for p in found if p != os.getpid()]

    def cleanup(self):
        if self.master_pid():
            self.postino("abort")
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


ECHO_CF = """# test master.cf
127.0.0.1:{port} inet n - n - 1 {echo}
"""


class TestLifecycle(unittest.TestCase):

    def test_start_status_stop(self):
        inst = Instance(self, ECHO_CF)
        r = inst.start()
        self.assertIn("postino/postino-script: starting the Postino mail system",
                      r.err)
        pid = inst.master_pid()
        self.assertTrue(pid and alive(pid))
        with open(os.path.join(inst.queue, "pid", "master.pid")) as f:
            self.assertEqual(int(f.read().strip()), pid)
        inst.wait_log(r"postino/master\[%d\]: daemon started -- version "
                      r"\S+, configuration %s$" % (pid, re.escape(inst.conf)))
        inst.wait_log(r"ready: service 127")
        child = int(re.search(r"echo_daemon\[(\d+)\]: ready", inst.log())[1])
        # Children get their sockets from fd 3 and the -n/-t arguments.
        with open("/proc/%d/cmdline" % child, "rb") as f:
            argv = f.read().split(b"\0")
        self.assertEqual(argv[:5], [b"echo_daemon", b"-n",
                                    ("127.0.0.1:%d" % inst.port).encode(),
                                    b"-t", b"inet"])
        fds = sorted(int(x) for x in os.listdir("/proc/%d/fd" % child))
        # 0-2, the listener (3), the status channel (4), the log file,
        # the notify pipe and the event loop's own (epoll, eventfd):
        # nothing from the master leaks.
        self.assertEqual(fds[:5], [0, 1, 2, 3, 4])
        for fd in fds[5:]:
            target = os.readlink("/proc/%d/fd/%d" % (child, fd))
            self.assertTrue(target == inst.maillog
                            or target.startswith("pipe:")
                            or target in ("anon_inode:[eventpoll]",
                                          "anon_inode:[eventfd]"), target)
        c = Client(inst.port)
        self.assertEqual(c.pid, child)
        self.assertEqual(c.echo("ping"), "ping")
        self.assertEqual(c.greeting, "echo")
        c.close()

        r = inst.postino("start")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("the Postino mail system is already running", r.err)

        r = inst.postino("stop")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("stopping the Postino mail system", r.err)
        r = inst.postino("status")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("the Postino mail system is not running", r.err)
        self.assertIn("postino/master[%d]: terminating on signal 15" % pid,
                      inst.log())
        self.assertFalse(os.path.exists(os.path.join(inst.queue, "pid",
                                                     "master.pid")))
        poll_until("child exit", lambda: not alive(child))
        self.assertFalse(alive(pid))
        r = inst.postino("stop")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("is not running", r.err)

    def test_abort(self):
        inst = Instance(self, ECHO_CF)
        inst.start()
        c = Client(inst.port)
        pid = inst.master_pid()
        r = inst.postino("abort")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("aborting the Postino mail system", r.err)
        poll_until("child killed", lambda: not alive(c.pid))
        self.assertFalse(alive(pid))
        self.assertEqual(inst.postino("status").rc, 1)
        c.close()

    def test_start_fg(self):
        inst = Instance(self, ECHO_CF)
        self.assertEqual(inst.postino("check").rc, 0)
        proc = subprocess.Popen([program("postino"), "-c", inst.conf,
                                 "start-fg"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            # postino execs the master: same pid.
            poll_until("master running", lambda: inst.master_pid() == proc.pid)
            c = Client(inst.port)
            self.assertEqual(c.echo("x"), "x")
            c.close()
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=WAIT), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        self.assertEqual(inst.postino("status").rc, 1)

    def test_options_and_wakeup(self):
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 1 {echo}
  -o { echo_greeting = hi there }
  -o echo_busy_limit=0
tick unix - - n 1 1 {echo}
qmgr unix n - n - 1 {echo}
cleanup unix n - n - 0 cleanup -o header_checks=
bounce unix - - n - 0 bounce
""")
        r = inst.postino("flush")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("is the mail system running?", r.err)
        inst.start()
        c = Client(inst.port)
        self.assertEqual(c.greeting, "hi there")
        c.close()
        # wakeup 1: the master writes 'W' to private/tick every second.
        inst.wait_log(r"echo_daemon\[\d+\]: trigger W$", 2)
        self.assertTrue(os.path.exists(os.path.join(inst.queue, "private",
                                                    "tick")))
        inst.wait_log(r"ready: service qmgr type unix")
        r = inst.postino("flush")
        self.assertEqual(r.rc, 0, r)
        inst.wait_log(r"echo_daemon\[\d+\]: trigger F$")
        st = os.stat(os.path.join(inst.queue, "public", "qmgr"))
        self.assertEqual(st.st_mode & 0o777, 0o666)
        st = os.stat(os.path.join(inst.queue, "private", "tick"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        # cleanup and bounce are libraries: no socket, no process.
        self.assertFalse(os.path.exists(os.path.join(inst.queue, "public",
                                                     "cleanup")))
        self.assertFalse(os.path.exists(os.path.join(inst.queue, "private",
                                                     "bounce")))
        self.assertNotRegex(inst.log(), r"cleanup|bounce")

    def test_fifo_trigger(self):
        # A fifo service (Postfix's older pickup/qmgr entries): the
        # skeleton reads the master's wakeup bytes from the fifo itself.
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 1 {echo}
tick fifo - - n 1 1 {echo} -o echo_trigger=yes
""")
        inst.start()
        inst.wait_log(r"echo_daemon\[\d+\]: trigger W$", 2)
        st = os.stat(os.path.join(inst.queue, "private", "tick"))
        self.assertTrue(stat.S_ISFIFO(st.st_mode))
        self.assertNotIn("warning", inst.log())

    def test_stock_master_cf(self):
        inst = Instance(self, "")
        src = os.path.join(os.environ.get("POSTINO_SOURCE") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", ".."),
            "etc", "master.cf")
        shutil.copy(src, os.path.join(inst.conf, "master.cf"))
        r = inst.postino("check")
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("error:", r.err)
        self.assertNotRegex(r.err, r"program \S+/(cleanup|bounce):")


class TestProcesses(unittest.TestCase):

    def test_restart_after_kill(self):
        inst = Instance(self, ECHO_CF)
        inst.start()
        c = Client(inst.port)
        first = c.pid
        c.close()
        os.kill(first, signal.SIGKILL)
        inst.wait_log(r"warning: process %s pid %d killed by signal 9$"
                      % (re.escape(echo_daemon()), first))

        def new_child():
            c = Client(inst.port)
            c.close()
            return c.pid if c.pid != first else 0
        poll_until("a new child", new_child)
        self.assertNotIn("throttling", inst.log())

    def test_throttle(self):
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 1 {echo}
broken unix - - n - 1 {echo} -o echo_fail=yes
tick unix - - n 1 1 {echo}
""", "service_throttle_time = 3600s\n")
        inst.start()
        inst.wait_log(r"postino/master\[\d+\]: warning: process %s pid \d+ "
                      r"exit status 1$" % re.escape(echo_daemon()))
        inst.wait_log(r"warning: %s: bad command startup -- service "
                      r"\"broken\" \(private/broken\) is throttling for 3600 "
                      r"seconds$" % re.escape(echo_daemon()))
        # The master keeps running its loop (wakeups keep coming) and the
        # other services keep working; the broken one is not retried.
        n = len(re.findall("trigger W", inst.log()))
        inst.wait_log("trigger W", n + 3)
        self.assertEqual(len(re.findall(r"exit status 1$", inst.log(),
                                        re.M)), 1)
        c = Client(inst.port)
        self.assertEqual(c.echo("ok"), "ok")
        c.close()

    def test_throttle_expires(self):
        inst = Instance(self, "broken unix - - n - 1 {echo} -o echo_fail=yes\n",
                        "service_throttle_time = 1s\n")
        inst.start()
        inst.wait_log(r"exit status 1$", 2)
        self.assertIn("is throttling for 1 seconds", inst.log())

    def test_max_idle(self):
        # The skeleton (mail_server.h): a process without clients for
        # max_idle seconds exits, and the master starts a fresh one.
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 1 {echo} -o max_idle=1s -o max_use=0
""")
        inst.start()
        a = Client(inst.port)
        self.assertEqual(a.echo("a"), "a")
        a.close()
        inst.wait_log(r"echo_daemon\[%d\]: exit: 1 clients served$" % a.pid)
        poll_until("old process exit", lambda: not alive(a.pid))
        b = Client(inst.port)
        self.assertNotEqual(b.pid, a.pid)
        self.assertEqual(b.echo("b"), "b")
        b.close()
        self.assertNotIn("drain", inst.log())

    def test_max_use(self):
        # max_use counts accepted clients; the process exits when it has
        # none in flight, never cutting a client short.
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 1 {echo} -o max_use=2 -o max_idle=0
""")
        inst.start()
        a = Client(inst.port)
        b = Client(inst.port)
        self.assertEqual(a.pid, b.pid)
        self.assertEqual(a.echo("a"), "a")
        a.close()
        # Used up, but b is still in flight: still served.
        self.assertEqual(b.echo("b"), "b")
        self.assertTrue(alive(b.pid))
        b.close()
        inst.wait_log(r"echo_daemon\[%d\]: exit: 2 clients served$" % a.pid)
        poll_until("old process exit", lambda: not alive(a.pid))
        c = Client(inst.port)
        self.assertNotEqual(c.pid, a.pid)
        self.assertEqual(c.echo("c"), "c")
        c.close()

    def test_maxproc(self):
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 2 {echo} -o echo_busy_limit=1
""")
        inst.start()
        a = Client(inst.port)          # the first process is now busy
        b = Client(inst.port)          # so the master started a second
        self.assertNotEqual(a.pid, b.pid)
        self.assertEqual(a.echo("a"), "a")
        self.assertEqual(b.echo("b"), "b")
        inst.wait_log(r"reached its process limit 2")
        # A third client waits in the backlog: no third process.
        s = socket.create_connection(("127.0.0.1", inst.port), timeout=WAIT)
        a.close()
        s.settimeout(WAIT)
        line = s.makefile("rb").readline().decode()
        pid = int(line.split()[1])
        self.assertIn(pid, (a.pid, b.pid))
        s.close()
        b.close()
        self.assertEqual(len(re.findall(r"ready: service 127", inst.log())), 2)

    def test_reload_keeps_sessions_and_socket(self):
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 1 {echo} -o echo_greeting=v1
""")
        inst.start()
        pid = inst.master_pid()
        old = Client(inst.port)
        self.assertEqual(old.greeting, "v1")
        stop = threading.Event()
        failures, greetings = [], []

        def hammer():
            while not stop.is_set() or len(greetings) < 50:
                try:
                    c = Client(inst.port)
                    greetings.append(c.greeting)
                    c.close()
                except Exception as e:     # refused, reset, bad greeting
                    failures.append(repr(e))
                    return
        t = threading.Thread(target=hammer)
        t.start()
        try:
            poll_until("some connections", lambda: len(greetings) > 20)
            inst.write("master.cf", "127.0.0.1:{port} inet n - n - 1 {echo} "
                       "-o echo_greeting=v2\n")
            r = inst.postino("reload")
            self.assertEqual(r.rc, 0, r)
            self.assertIn("refreshing the Postino mail system", r.err)
            inst.wait_log(r"postino/master\[%d\]: reload -- version \S+, "
                          r"configuration %s$" % (pid, re.escape(inst.conf)))
            poll_until("new configuration", lambda: "v2" in greetings[-5:])
        finally:
            stop.set()
            t.join(WAIT)
        self.assertEqual(failures, [])
        # The session that was open before the reload is still served,
        # by the old process, which exits once its last client leaves.
        self.assertEqual(old.echo("still here"), "still here")
        self.assertTrue(alive(old.pid))
        new = Client(inst.port)
        self.assertEqual(new.greeting, "v2")
        self.assertNotEqual(new.pid, old.pid)
        old.close()
        poll_until("old process exit", lambda: not alive(old.pid))
        self.assertEqual(new.echo("x"), "x")
        new.close()
        self.assertEqual(inst.master_pid(), pid)

    def test_reload_with_broken_master_cf(self):
        inst = Instance(self, ECHO_CF)
        inst.start()
        inst.write("master.cf", ECHO_CF + "bad unix - - n - x {echo}\n")
        r = inst.postino("reload")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("master.cf, line 3: bad maxproc field \"x\"", r.err)
        self.assertIn("not reloaded", r.err)
        c = Client(inst.port)
        self.assertEqual(c.echo("fine"), "fine")
        c.close()

    def test_master_killed(self):
        inst = Instance(self, ECHO_CF)
        inst.start()
        pid = inst.master_pid()
        old = Client(inst.port)
        os.kill(pid, signal.SIGKILL)
        poll_until("master gone", lambda: not alive(pid))
        r = inst.postino("status")
        self.assertEqual(r.rc, 1, r)
        # The orphaned child keeps its session and lets the port go.
        self.assertEqual(old.echo("orphan"), "orphan")
        inst.wait_log(r"echo_daemon\[%d\]: drain: 1 clients" % old.pid)
        inst.start()
        self.assertNotEqual(inst.master_pid(), pid)
        new = Client(inst.port)
        self.assertNotEqual(new.pid, old.pid)
        self.assertEqual(new.echo("new"), "new")
        self.assertEqual(old.echo("orphan"), "orphan")
        old.close()
        poll_until("orphan exit", lambda: not alive(old.pid))
        new.close()


class TestCheck(unittest.TestCase):

    QUEUES = ["incoming", "active", "deferred", "hold", "corrupt",
              "maildrop", "defer", "bounce", "trace", "public", "private", "pid"]
    MODES = {"public": 0o710, "maildrop": 0o730, "pid": 0o755}

    def test_creates_queue_directories(self):
        inst = Instance(self, ECHO_CF,
                        "my_domain_part = example\n"
                        "myhostname = mail.$my_domain_part\n"
                        "bogus_parameter = 1\n")
        r = inst.postino("check")
        self.assertEqual(r.rc, 0, r)
        created = re.findall(r"^postino/postino-script: warning: creating "
                             r"missing queue directory (\S+)$", r.err, re.M)
        self.assertEqual(sorted(created),
                         sorted([inst.queue] + [os.path.join(inst.queue, q)
                                                for q in self.QUEUES]))
        for q in self.QUEUES:
            st = os.stat(os.path.join(inst.queue, q))
            self.assertEqual(st.st_mode & 0o7777, self.MODES.get(q, 0o700), q)
            if IS_ROOT and q != "pid":
                self.assertEqual(st.st_uid, NOBODY.pw_uid, q)
        if IS_ROOT:
            st = os.stat(os.path.join(inst.queue, "maildrop"))
            self.assertEqual(st.st_gid, 65534)
        main_cf = os.path.join(inst.conf, "main.cf")
        with open(main_cf) as f:
            line = [n for n, text in enumerate(f, 1)
                    if text.startswith("bogus_parameter")][0]
        self.assertRegex(r.err, r"warning: %s, line %d: unknown parameter "
                         r"bogus_parameter\n" % (re.escape(main_cf), line))
        self.assertNotIn("my_domain_part", r.err)
        r = inst.postino("check")
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("creating missing", r.err)

    def expect_error(self, master_cf, message):
        inst = Instance(self, master_cf)
        where = os.path.join(inst.conf, "master.cf")
        for cmd in ("check", "start"):
            r = inst.postino(cmd)
            self.assertEqual(r.rc, 1, r)
            self.assertIn("%s, %s" % (where, message), r.err)
        self.assertEqual(inst.postino("status").rc, 1)
        # The master itself refuses too.
        r = run([master_program(), "-d", "-c", inst.conf])
        self.assertEqual(r.rc, 1, r)
        self.assertIn("%s, %s" % (where, message), r.err)

    def test_bad_type(self):
        self.expect_error("# x\nsmtp inetx n - n - 1 smtpd\n",
                          "line 2: unknown service type \"inetx\"")

    def test_bad_maxproc(self):
        self.expect_error("smtp inet n - n - lots smtpd\n",
                          "line 1: bad maxproc field \"lots\"")

    def test_bad_bool(self):
        self.expect_error("smtp inet n maybe n - 1 smtpd\n",
                          "line 1: bad unpriv field \"maybe\"")

    def test_missing_field(self):
        self.expect_error("\n\nlocal unix - n\n",
                          "line 3: field \"chroot\" is missing")

    def test_missing_brace(self):
        self.expect_error("a unix - - n - 1 {echo}\n  -o { x = y\n",
                          "line 1: missing '}'")

    def test_private_inet(self):
        self.expect_error("25 inet y - n - 1 smtpd\n",
                          "line 1: inet service \"25\" cannot be private")

    def test_hostile_lines(self):
        inst = Instance(self, ECHO_CF)
        with open(os.path.join(inst.conf, "master.cf"), "ab") as f:
            f.write(b"nul unix - - n - 1 sm\0tpd\n")
            f.write(b"long unix - - n - 1 " + b"x" * 200000 + b"\n")
            f.write(b"\xff\xfe unix - - n - 1 \xff\n")
        r = inst.postino("check")
        # Postfix's reading rules: text after a NUL is dropped, an
        # over-long line is skipped; both with a warning naming the line.
        self.assertEqual(r.rc, 0, r)
        self.assertIn("master.cf, line 3: text after null byte may be "
                      "ignored", r.err)
        self.assertIn("master.cf, line 4: logical line longer than", r.err)
        self.assertRegex(r.err, r"master.cf, line 5: service \"\S+\": "
                         r"program \S+: No such file or directory")
        with open(os.path.join(inst.conf, "master.cf"), "ab") as f:
            f.write(b"x unix - - n - 1 a -o {\n")
        r = inst.postino("check")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("master.cf, line 6: missing '}'", r.err)

    def test_bad_main_cf(self):
        inst = Instance(self, ECHO_CF)
        with open(os.path.join(inst.conf, "main.cf"), "a") as f:
            f.write("this is not a parameter\n")
        for cmd in ("check", "start"):
            r = inst.postino(cmd)
            self.assertEqual(r.rc, 1, r)
            self.assertRegex(r.err, r"main\.cf, line \d+: missing '=' after "
                             r"attribute name")


class TestPrivileges(unittest.TestCase):

    def test_non_root_instance(self):
        user = NOBODY if IS_ROOT else None
        inst = Instance(self, ECHO_CF + "sub unix - - y - 1 {echo}\n",
                        as_user=user)
        inst.start()
        c = Client(inst.port)
        self.assertEqual(c.uid, os.geteuid() if user is None else user.pw_uid)
        c.close()
        self.assertRegex(inst.log(), r"postino/master\[\d+\]: not running as "
                         r"root: every service runs as \S+ \(the unpriv and "
                         r"chroot columns of master.cf are ignored\)")
        inst.wait_log(r"ready: service sub type unix")
        pid = inst.master_pid()
        with open("/proc/%d/status" % pid) as f:
            uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M)[1]
        self.assertEqual(int(uid), os.geteuid() if user is None
                         else user.pw_uid)
        r = inst.postino("stop")
        self.assertEqual(r.rc, 0, r)

    @unittest.skipUnless(IS_ROOT, "needs root: privilege drop and chroot")
    def test_root_drops_privileges(self):
        inst = Instance(self, """
127.0.0.1:{port} inet n - n - 1 {echo}
rootly unix - n n - 1 {echo}
jailed unix - - y - 1 {echo}
""")
        inst.start()
        c = Client(inst.port)
        self.assertEqual(c.uid, NOBODY.pw_uid)
        c.close()
        m = inst.wait_log(r"ready: service rootly")
        pids = {}
        for name in ("rootly", "jailed"):
            inst.wait_log(r"ready: service %s" % name)
            pids[name] = int(re.search(r"echo_daemon\[(\d+)\]: ready: service "
                                       r"%s" % name, inst.log())[1])
        with open("/proc/%d/status" % pids["rootly"]) as f:
            self.assertRegex(f.read(), r"Uid:\s+0\s")
        self.assertEqual(os.readlink("/proc/%d/root" % pids["jailed"]),
                         inst.queue)
        with open("/proc/%d/status" % pids["jailed"]) as f:
            text = f.read()
        self.assertRegex(text, r"Uid:\s+%d\s" % NOBODY.pw_uid)
        self.assertRegex(text, r"Groups:\s+%d?\s*\n" % NOBODY.pw_gid)
        st = os.stat(os.path.join(inst.queue, "private", "jailed"))
        self.assertEqual(st.st_uid, NOBODY.pw_uid)
        del m

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_missing_mail_owner(self):
        inst = Instance(self, ECHO_CF, "mail_owner = no_such_user_here\n")
        r = inst.postino("start")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("mail_owner \"no_such_user_here\" is not a user on this "
                      "system", r.err)
        self.assertEqual(inst.postino("status").rc, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
