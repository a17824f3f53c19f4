# SPDX-License-Identifier: MIT
"""instance - a whole postino instance (master, smtpd, qmgr, local, anvil) in a
temporary directory, for the end-to-end mail path tests.

    inst = Instance(testcase, main={"message_size_limit": "20000"},
                    users=["alice"], aliases="postmaster: alice\\n")
    inst.start()
    with inst.smtp() as s: s.sendmail(...)
    inst.wait_maildir("alice", 1)

Users are real accounts (useradd) with unique names: Instance.user("alice")
gives the account name behind the short name "alice"; their homes are
under the instance directory.  The accounts and the directory go away in
the test's cleanup, after the instance was stopped (abort, then SIGKILL to
whatever still carries the instance's MAIL_CONFIG).

Sanitizer builds: the daemons run in the background with stderr on
/dev/null, so ASAN_OPTIONS/UBSAN_OPTIONS point log_path into the instance
(asan/); any report there fails the test at cleanup (check_sanitizer()).

Every wait is a bounded poll (WAIT seconds by default) that fails with a
message saying what never happened; nothing depends on how fast it
happens.  Only loopback addresses are used.  Needs root (useradd, and the
instance's daemons switch users); the tests skip when not root.
"""
import glob
import os
import poplib
import pwd
import re
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cmd"))
from postino_testlib import (alive, free_port,  # noqa: E402,F401
                             poll_until, program, run)

WAIT = 60           # seconds: upper bound of a poll
IS_ROOT = os.geteuid() == 0
DOMAIN = "example.test"
MYHOSTNAME = "mx." + DOMAIN
CMD_LEAK = re.compile(r"ERROR: LeakSanitizer")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer", "UndefinedBehaviorSanitizer")


DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

DOVECOT_CONF = """protocols = pop3
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = {mail_location}
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
{extra}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def start_dovecot(tc, d, users, mail_location, extra=""):
    """Debian's dovecot-pop3d on a free loopback port, for test case tc,
    with its configuration, state and log under directory d; users are
    (login, password, uid, gid, home) tuples served from a passwd-file
    with plaintext auth; extra is more main configuration lines.  Stopped
    at tc's cleanup.  Returns the port once POP3 answers."""
    for sub in ("", "run", "state"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, sub), 0o755)
    passwd = os.path.join(d, "passwd")
    with open(passwd, "w") as f:
        for login, password, uid, gid, home in users:
            f.write("%s:{PLAIN}%s:%d:%d::%s::\n"
                    % (login, password, uid, gid, home))
    os.chmod(passwd, 0o644)
    port = free_port()
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(DOVECOT_CONF.format(d=d, port=port,
                                    mail_location=mail_location,
                                    extra=extra))
    proc = subprocess.Popen([DOVECOT, "-F", "-c", conf],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=WAIT)
        proc.stdout.close()
    tc.addCleanup(stop)

    def up():
        if proc.poll() is not None:
            log = ""
            p = os.path.join(d, "dovecot.log")
            if os.path.exists(p):
                with open(p) as f:
                    log = f.read()
            raise AssertionError("dovecot exited with %d: %s %s"
                                 % (proc.returncode,
                                    proc.stdout.read().decode(), log))
        try:
            c = poplib.POP3("127.0.0.1", port, timeout=5)
        except OSError:
            return False
        c.quit()
        return True
    poll_until("dovecot on port %d" % port, up)
    return port


def message(sender, rcpt, subject, body="hello\n", headers=None):
    """A small RFC 5322 message (str, LF line ends)."""
    lines = ["From: <%s>" % sender, "To: <%s>" % rcpt, "Subject: %s" % subject]
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    return "\n".join(lines) + "\n\n" + body


class Instance:
    """A postino instance: conf/, queue/, home/, maillog, asan/."""

    def __init__(self, tc, main=None, master_extra="", users=(),
                 aliases="", smtpd_args="", port=None):
        if not IS_ROOT:
            tc.skipTest("the mail path tests need root (useradd, setuid)")
        self.tc = tc
        self.dir = tempfile.mkdtemp(prefix="postino-mp-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "conf")
        self.queue = os.path.join(self.dir, "queue")
        self.home = os.path.join(self.dir, "home")
        self.maillog = os.path.join(self.dir, "maillog")
        self.asan = os.path.join(self.dir, "asan")
        # more ASAN_OPTIONS for the daemons, ":name=value..." (tests that
        # measure memory turn the quarantine of freed blocks off)
        self.asan_extra = ""
        # A test that opens a directory table in the daemons themselves
        # (no lookup service) says so; every other test fails when a
        # daemon waited for DNS or a directory outside a task.
        self.blocking_ok = False
        self.spool = os.path.join(self.dir, "spool")
        for d in (self.conf, self.home, self.asan, self.spool):
            os.mkdir(d)
        os.chmod(self.home, 0o755)
        os.chmod(self.asan, 0o1777)
        os.chmod(self.spool, 0o1777)
        self.port = port or free_port()
        self.users = {}
        self.suffix = secrets.token_hex(3)
        tc.addCleanup(self.cleanup)
        for u in users:
            self.add_user(u)
        self.aliases_path = os.path.join(self.conf, "aliases")
        self.main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "maillog_file": self.maillog,
            "myhostname": MYHOSTNAME,
            "mydomain": DOMAIN,
            "myorigin": "$mydomain",
            "mydestination": "$mydomain, $myhostname, localhost",
            "mynetworks": "127.0.0.0/8",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "alias_maps": "hash:" + self.aliases_path,
            "alias_database": "hash:" + self.aliases_path,
            "home_mailbox": "Maildir/",
            "mail_owner": "nobody",
            "setgid_group": "nogroup",
            "smtpd_peername_lookup": "no",
            # the TLS summary lines ("... TLS connection established
            # ..."), as most sites set them
            "smtpd_tls_loglevel": "1",
            "smtp_tls_loglevel": "1",
            "lmtp_tls_loglevel": "1",
            "import_environment": "MAIL_CONFIG TZ LANG=C ASAN_OPTIONS "
                                  "UBSAN_OPTIONS LSAN_OPTIONS",
        }
        self.main.update(main or {})
        self.master_cf = (
            "127.0.0.1:%d inet n - n - 1 smtpd%s\n"
            "qmgr unix n - n 300 1 qmgr\n"
            "local unix - n n - - local\n"
            "anvil unix - - n - 1 anvil\n"
            "proxymap unix - - n - - proxymap\n" % (self.port, smtpd_args)
            + master_extra)
        self.write_aliases(aliases)
        self.write_conf()

    # -- set-up ---------------------------------------------------------

    def add_user(self, short):
        name = ("pe%s%s" % (short, self.suffix))[:31]
        home = os.path.join(self.home, short)
        r = subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh",
                            "-U", name], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise AssertionError("useradd %s: %s" % (name, r.stderr))
        self.users[short] = name
        pw = pwd.getpwnam(name)
        os.mkdir(home, 0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        return name

    def user(self, short):
        return self.users[short]

    def addr(self, short):
        return "%s@%s" % (self.users[short], DOMAIN)

    def user_home(self, short):
        return os.path.join(self.home, short)

    def write_as(self, short, relpath, text, mode=0o644):
        """Write a file owned by the user, under their home."""
        pw = pwd.getpwnam(self.users[short])
        path = os.path.join(self.user_home(short), relpath)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, mode)
        return path

    def write_conf(self):
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in self.main.items():
                v = v.replace("{spool}", self.spool).replace("{dir}",
                                                             self.dir)
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(self.master_cf)

    def set_main(self, **kw):
        self.main.update(kw)
        self.write_conf()

    def postmap(self, path, text):
        """Write TEXT to PATH (a name: in conf/) and build hash:PATH with
        postino's postmap; returns "hash:PATH"."""
        if not os.path.isabs(path):
            path = os.path.join(self.conf, path)
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([program("postmap"), "-c", self.conf,
                            "hash:" + path], capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("postmap %s: %s" % (path, r.stderr))
        return "hash:" + path

    def write_aliases(self, text):
        """Aliases file (names of users may be written {alice}); built
        with postalias."""
        text = re.sub(r"\{(\w+)\}", lambda m: self.users[m.group(1)], text)
        with open(self.aliases_path, "w") as f:
            f.write(text)
        r = run([program("postalias"), "hash:" + self.aliases_path])
        self.tc.assertEqual(r.rc, 0, r)

    def env(self):
        e = dict(os.environ)
        # exitcode=0: a report never changes what a process tells its
        # parent (the report itself fails the test, from asan/).
        e["ASAN_OPTIONS"] = ("log_path=%s/asan:abort_on_error=0:exitcode=0"
                             % self.asan) + self.asan_extra
        e["UBSAN_OPTIONS"] = "log_path=%s/ubsan:print_stacktrace=1" % self.asan
        e["LSAN_OPTIONS"] = ("log_path=%s/lsan:exitcode=0:suppressions=%s"
                             % (self.asan, os.path.join(HERE, "lsan.supp")))
        return e

    # -- control ----------------------------------------------------------

    def postino(self, *args, check=True, timeout=120):
        argv = [program("postino"), "-c", self.conf] + list(args)
        r = subprocess.run(argv, capture_output=True, env=self.env(),
                           timeout=timeout)
        out = r.stdout.decode(errors="replace")
        err = r.stderr.decode(errors="replace")
        if check and r.returncode != 0:
            raise AssertionError("postino %s: rc=%d %s%s"
                                 % (" ".join(args), r.returncode, out, err))
        return r.returncode, out + err

    def start(self):
        self.postino("check")
        self.postino("start")
        poll_until("smtpd listening on port %d" % self.port, self.listening)

    def listening(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            return False
        s.close()
        return True

    def stop(self):
        rc, _ = self.postino("status", check=False)
        if rc == 0:
            self.postino("stop")
            poll_until("the instance to stop",
                       lambda: not self.processes(), timeout=WAIT)

    def master_pid(self):
        rc, out = self.postino("status", check=False)
        m = re.search(r"PID: (\d+)", out)
        return int(m[1]) if rc == 0 and m else 0

    def processes(self, name=None):
        """{pid: program} of live processes of this instance."""
        found = {}
        key = ("MAIL_CONFIG=%s" % self.conf).encode()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % d, "rb") as f:
                    env = f.read().split(b"\0")
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if key not in env and self.conf.encode() not in cmd:
                continue
            if not alive(int(d)):
                continue
            prog = os.path.basename(cmd[0].decode(errors="replace"))
            if name is None or prog == name:
                found[int(d)] = prog
        return found

    def cleanup(self):
        try:
            if self.master_pid():
                self.postino("abort", check=False)
        except Exception:
            pass
        for _ in range(3):
            procs = self.processes()
            if not procs:
                break
            for pid in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        for name in self.users.values():
            subprocess.run(["userdel", name], capture_output=True, timeout=60)
            subprocess.run(["groupdel", name], capture_output=True,
                           timeout=60)
        reports = self.sanitizer_reports()
        blocking = [] if self.blocking_ok else self.blocking_waits()
        if os.environ.get("POSTINO_KEEP"):
            sys.stderr.write("instance kept in %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer reports from the daemons:\n"
                                 + reports[:6000])
        if blocking:
            raise AssertionError("a daemon waited inside its event loop:\n"
                                 + "\n".join(blocking[:20]))

    def blocking_waits(self):
        """Log lines of daemons that waited for DNS, the lookup service
        or a directory outside a task, holding every other client of
        their loop (task_blocking() in core/util/task.c)."""
        try:
            with open(self.maillog, errors="replace") as f:
                return [ln.rstrip("\n") for ln in f
                        if "blocking wait inside the event loop" in ln]
        except OSError:
            return []

    def sanitizer_reports(self):
        """Reports from the daemons (and anything else but the postino
        command's own leaks at exit: those are the control command's,
        not the mail system's; they are shown, not failed on)."""
        out = []
        for p in sorted(glob.glob(os.path.join(self.asan, "*"))):
            with open(p, errors="replace") as f:
                text = f.read()
            if not any(m in text for m in SANITIZER_MARKS):
                continue
            if CMD_LEAK.search(text) and not re.search(
                    r"ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)"
                    r"|runtime error:", text):
                mains = re.findall(r" in main (\S+)", text)
                if mains and all("core/cmd/postino.c" in m for m in mains):
                    sys.stderr.write("note: leak in the postino command "
                                     "(not a daemon): %s\n"
                                     % text.strip().splitlines()[-1])
                    continue
            out.append("== %s\n%s" % (os.path.basename(p), text))
        return "\n".join(out)

    def check_sanitizer(self):
        reports = self.sanitizer_reports()
        self.tc.assertEqual(reports, "", "sanitizer reports")

    # -- clients ----------------------------------------------------------

    def smtp(self, source="127.0.0.1", timeout=WAIT):
        s = smtplib.SMTP(timeout=timeout,
                         source_address=(source, 0))
        s.connect("127.0.0.1", self.port)
        return s

    def raw(self, source="127.0.0.1", timeout=WAIT):
        return RawClient(self.port, source, timeout)

    def send(self, sender, rcpts, msg, source="127.0.0.1"):
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        if isinstance(msg, str):
            msg = msg.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        with self.smtp(source) as s:
            s.ehlo("client.example.test")
            refused = s.sendmail(sender, rcpts, msg)
        return refused

    # -- results ----------------------------------------------------------

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, count=1, timeout=WAIT):
        return poll_until("%d x /%s/ in the log" % (count, pattern),
                          lambda: len(re.findall(pattern, self.log(), re.M))
                          >= count, timeout=timeout)

    def maildir(self, short, sub="new"):
        return os.path.join(self.user_home(short), "Maildir", sub)

    def maildir_files(self, short):
        """Delivered messages (new/ and cur/), as paths."""
        files = []
        for sub in ("new", "cur"):
            d = self.maildir(short, sub)
            if os.path.isdir(d):
                files += [os.path.join(d, n) for n in os.listdir(d)
                          if not n.startswith(".")]
        return sorted(files)

    def maildir_messages(self, short):
        out = []
        for p in self.maildir_files(short):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_maildir(self, short, count, timeout=WAIT):
        poll_until("%d messages in %s's Maildir" % (count, short),
                   lambda: len(self.maildir_files(short)) >= count,
                   timeout=timeout)
        return self.maildir_messages(short)

    def mbox(self, short):
        path = os.path.join(self.spool, self.users[short])
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def queue_files(self, *queues, complete=True):
        """Queue files; complete=True: only those cleanup finished (mode
        0700: a file left half-written by a killed smtpd is not mail)."""
        queues = queues or ("incoming", "active", "deferred", "hold")
        out = []
        for q in queues:
            for root, _, files in os.walk(os.path.join(self.queue, q)):
                for n in files:
                    p = os.path.join(root, n)
                    try:
                        mode = os.stat(p).st_mode
                    except FileNotFoundError:
                        continue
                    if not complete or mode & 0o100:
                        out.append(p)
        return out

    def wait_queue_empty(self, timeout=WAIT):
        poll_until("an empty queue (left: %s)" % self.queue_files(),
                   lambda: not self.queue_files(), timeout=timeout)


class RawClient:
    """A plain socket SMTP client: send bytes, read whole replies."""

    def __init__(self, port, source="127.0.0.1", timeout=WAIT):
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """One reply (multi-line joined); '' at EOF."""
        lines = []
        while True:
            line = self.f.readline().decode(errors="replace")
            if not line:
                return "\n".join(lines)
            lines.append(line.rstrip("\r\n"))
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def replies_until_eof(self, limit=100):
        out = []
        for _ in range(limit):
            r = self.reply()
            if not r:
                break
            out.append(r)
        return out

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
