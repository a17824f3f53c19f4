#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_walkthrough - docs/walkthrough.md as one script, on an installed
tree, as root: privilege separation and chroot checked through /proc.

Steps (the document's): create the mail owner, the set-gid group and two
users; "cmake --install" into a temporary prefix (the configuration
directory is created with main.cf, master.cf, aliases, dynamicmaps.cf and
nothing else; a second install keeps an edited file); make postdrop
set-gid; aliases + newaliases; myhostname / mydestination / mynetworks
with postconf -e; smtpd, qmgr and pickup chrooted in master.cf and
chroot-setup run; postino check (queue directory owners and modes,
maildrop not world-writable, postdrop set-gid; a changed chroot copy is
reported naming both files); a user's "sendmail -t" while postino is
stopped; start; /proc: the master alone as root, smtpd/qmgr/pickup as
mail_owner inside the chroot, local as root outside it; the waiting
message and an ordinary user's "sendmail -t" are delivered; a
"sendmail -bs" dialogue; mailq shows held mail, postsuper -H releases one
and postsuper -d removes the other; the log shows the whole path; stop.

Needs root; skips otherwise.  Every wait is a bounded poll.
"""
import grp
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

from instance import WAIT, free_port, poll_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "cmd"))
from postino_testlib import build_dir  # noqa: E402

IS_ROOT = os.geteuid() == 0
DOMAIN = "walk.test"
CHROOTED = ("smtpd", "qmgr", "pickup")


def sh(argv, user=None, stdin=b"", env=None, check=0):
    pre = []
    if user is not None:
        pw = pwd.getpwnam(user)
        pre = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
               "--init-groups", "--"]
    if isinstance(stdin, str):
        stdin = stdin.encode()
    e = dict(os.environ)
    e.pop("MAIL_CONFIG", None)
    e.update(env or {})
    r = subprocess.run(pre + [str(a) for a in argv], input=stdin,
                       capture_output=True, env=e, timeout=300)
    r.out = r.stdout.decode(errors="replace")
    r.err = r.stderr.decode(errors="replace")
    if r.returncode < 0:
        raise AssertionError("%s: signal %d: %s" % (argv, -r.returncode,
                                                     r.err))
    if check is not None and r.returncode != check:
        raise AssertionError("%s: rc=%d\n%s%s" % (" ".join(map(str, argv)),
                                                   r.returncode, r.out, r.err))
    return r


class Walkthrough(unittest.TestCase):

    def setUp(self):
        if not IS_ROOT:
            self.skipTest("the walk-through needs root")
        self.top = tempfile.mkdtemp(prefix="postino-walk-")
        os.chmod(self.top, 0o755)
        self.prefix = os.path.join(self.top, "prefix")
        self.queue = os.path.join(self.top, "spool")
        self.home = os.path.join(self.top, "home")
        self.maillog = os.path.join(self.top, "maillog")
        os.mkdir(self.home)
        os.chmod(self.home, 0o755)
        sfx = secrets.token_hex(3)
        self.owner = "pwown" + sfx
        self.group = "pwdrp" + sfx
        self.alice = "pwalice" + sfx
        self.bob = "pwbob" + sfx
        self.accounts = []
        self.addCleanup(self.cleanup)

    def cleanup(self):
        pc = os.path.join(self.prefix, "sbin", "postino")
        if os.path.exists(pc):
            sh([pc, "abort"], check=None)
        for name in self.accounts:
            subprocess.run(["userdel", name], capture_output=True, timeout=60)
            subprocess.run(["groupdel", name], capture_output=True,
                           timeout=60)
        subprocess.run(["groupdel", self.group], capture_output=True,
                       timeout=60)
        if os.environ.get("POSTINO_KEEP"):
            sys.stderr.write("walk-through kept in %s\n" % self.top)
        else:
            shutil.rmtree(self.top, ignore_errors=True)

    def bin(self, name):
        return os.path.join(self.prefix, "sbin", name)

    def useradd(self, name, home):
        argv = ["useradd", "-M", "-d", home, "-s", "/bin/sh", "-U", name]
        sh(argv)
        self.accounts.append(name)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern):
        poll_until("/%s/ in the log" % pattern,
                   lambda: re.search(pattern, self.log(), re.M))

    def maildir(self, user):
        d = os.path.join(self.home, user, "Maildir", "new")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def wait_mail(self, user, n):
        poll_until("%d message(s) for %s" % (n, user),
                   lambda: len(self.maildir(user)) >= n)
        out = []
        for name in self.maildir(user):
            with open(os.path.join(self.home, user, "Maildir", "new",
                                   name), "rb") as f:
                out.append(f.read())
        return out

    def daemons(self):
        """{pid: (program, uid, root)} of this installation's processes."""
        found = {}
        libexec = os.path.join(self.prefix, "libexec", "postino") + "/"
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                exe = os.readlink("/proc/%s/exe" % d)
                root = os.readlink("/proc/%s/root" % d)
                with open("/proc/%s/status" % d) as f:
                    status = f.read()
            except OSError:
                continue
            if not exe.startswith(libexec):
                continue
            uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M)[1])
            found[int(d)] = (exe[len(libexec):], uid, root)
        return found

    def test_walkthrough(self):
        # 1. The mail owner, the set-gid group, two users.
        sh(["groupadd", "--system", self.group])
        self.useradd(self.owner, "/nonexistent")
        for u in (self.alice, self.bob):
            h = os.path.join(self.home, u)
            self.useradd(u, h)
            os.mkdir(h, 0o755)
            shutil.chown(h, u, u)

        # 2. Install.  The configuration directory gets the four files.
        sh(["cmake", "--install", build_dir(), "--prefix", self.prefix])
        conf = os.path.join(self.prefix, "etc", "postino")
        self.assertEqual(sorted(os.listdir(conf)),
                         ["aliases", "dynamicmaps.cf", "main.cf", "master.cf"])
        examples = os.path.join(self.prefix, "share", "doc", "postino",
                                "examples")
        for f in ("main.cf", "master.cf", "postino.service",
                  "postino@.service", "init.d-postino"):
            self.assertTrue(os.path.exists(os.path.join(examples, f)), f)
        with open(os.path.join(examples, "postino.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=%s start-fg" % (self.bin("postino")
                      + " -c " + conf), unit)
        # One smtpd serves many sessions: a descriptor each.
        self.assertRegex(unit, r"\nLimitNOFILE=\d{5,}\n")
        for d, names in (("sbin", ["postino", "sendmail", "mailq", "postqueue",
                                   "postsuper", "postdrop", "newaliases"]),
                         ("libexec/postino", ["master", "smtpd", "qmgr",
                                              "pickup", "local"]),
                         ("lib/postino", ["map_hash.so"])):
            for n in names:
                self.assertTrue(os.path.exists(os.path.join(self.prefix, d, n)),
                                "%s/%s" % (d, n))
        # Installing again keeps an edited file.
        with open(os.path.join(conf, "aliases"), "a") as f:
            f.write("# edited by the administrator\n")
        sh(["cmake", "--install", build_dir(), "--prefix", self.prefix])
        with open(os.path.join(conf, "aliases")) as f:
            self.assertIn("# edited by the administrator", f.read())

        postdrop = self.bin("postdrop")
        shutil.chown(postdrop, "root", self.group)
        os.chmod(postdrop, 0o2755)

        # 3 + 4. Settings, aliases, chroot in master.cf.
        port = free_port()
        settings = {
            "queue_directory": self.queue,
            "data_directory": os.path.join(self.top, "data"),
            "mail_owner": self.owner,
            "setgid_group": self.group,
            "myhostname": "mail." + DOMAIN,
            "mydestination": "$myhostname, localhost.$mydomain, localhost, "
                             "$mydomain",
            "mynetworks": "127.0.0.0/8",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "maillog_file": self.maillog,
            "alias_maps": "hash:%s/aliases" % conf,
            "alias_database": "hash:%s/aliases" % conf,
            "home_mailbox": "Maildir/",
            "header_checks": "regexp:%s/header_checks" % conf,
            "smtpd_peername_lookup": "no",
        }
        sh([self.bin("postconf"), "-e"] + ["%s=%s" % kv for kv in
                                             settings.items()])
        with open(os.path.join(conf, "header_checks"), "w") as f:
            f.write("/^Subject: hold/ HOLD\n")
        with open(os.path.join(conf, "aliases"), "a") as f:
            f.write("postmaster: root\nroot: %s\n" % self.alice)
        sh([self.bin("newaliases")])
        self.assertTrue(os.path.exists(os.path.join(conf, "aliases.db")))
        mcf = os.path.join(conf, "master.cf")
        with open(mcf) as f:
            lines = f.read().split("\n")
        out = []
        for line in lines:
            f = line.split()
            if f and not line.startswith(("#", " ", "\t")):
                if f[0] == "smtp" and f[1] == "inet":
                    f[0] = "127.0.0.1:%d" % port
                if f[0] in ("127.0.0.1:%d" % port, "qmgr", "pickup"):
                    f[4] = "y"
                line = " ".join(f)
            out.append(line)
        with open(mcf, "w") as f:
            f.write("\n".join(out))
        chroot_setup = os.path.join(self.prefix, "libexec", "postino",
                                    "chroot-setup")

        # 5. Check: queue directories, modes, set-gid postdrop.
        r = sh([self.bin("postino"), "check"])
        sh([chroot_setup])
        owner, group = pwd.getpwnam(self.owner), grp.getgrnam(self.group)
        md = os.stat(os.path.join(self.queue, "maildrop"))
        self.assertEqual(stat.S_IMODE(md.st_mode), 0o730)
        self.assertEqual((md.st_uid, md.st_gid), (owner.pw_uid, group.gr_gid))
        self.assertFalse(md.st_mode & stat.S_IWOTH)
        for q in ("incoming", "active", "deferred", "hold"):
            st = os.stat(os.path.join(self.queue, q))
            self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid),
                             (0o700, owner.pw_uid), q)
        pd = os.stat(postdrop)
        self.assertTrue(pd.st_mode & stat.S_ISGID)
        self.assertEqual(pd.st_gid, group.gr_gid)
        # A wrong mode is fixed by check; a changed chroot copy reported.
        os.chmod(os.path.join(self.queue, "deferred"), 0o755)
        with open(os.path.join(self.queue, "etc", "hosts"), "a") as f:
            f.write("# stale\n")
        r = sh([self.bin("postino"), "check"])
        self.assertIn("%s/deferred: mode 0755, should be 0700: fixed"
                      % self.queue, r.err)
        self.assertIn("%s/etc/hosts and /etc/hosts differ" % self.queue, r.err)
        sh([chroot_setup])
        r = sh([self.bin("postino"), "check"])
        self.assertNotIn("differ", r.err)

        # 7a. A user's mail while postino is stopped waits in maildrop.
        msg = "To: %s\nSubject: while stopped\n\nwaiting\n" % self.bob
        sh([self.bin("sendmail"), "-t"], user=self.alice, stdin=msg)
        self.assertEqual(len(os.listdir(os.path.join(self.queue,
                                                     "maildrop"))), 1)

        # 6. Start; who runs as whom, and where.
        sh([self.bin("postino"), "start"])
        poll_until("smtpd, qmgr, pickup, local running",
                   lambda: {p for p, _, _ in self.daemons().values()}
                   >= {"master", "smtpd", "qmgr", "pickup"})
        self.wait_log(r"postino/master\[\d+\]: daemon started -- version")
        bob_mail = self.wait_mail(self.bob, 1)
        self.assertIn(b"waiting", bob_mail[0])
        # A snapshot in which every process has settled: a program the
        # master has just started runs as root until it has read its
        # configuration and dropped its privileges, as in Postfix.
        def settled():
            p = self.daemons()
            root = sorted(prog for prog, u, _ in p.values()
                          if u == 0 and prog not in ("local", "virtual"))
            return p if root == ["master"] else None
        procs = poll_until("a snapshot with only the master as root",
                           settled)
        real_queue = os.path.realpath(self.queue)
        seen = set()
        for pid, (prog, uid, root) in procs.items():
            seen.add(prog)
            if prog in ("master", "local", "virtual"):
                self.assertEqual((uid, root), (0, "/"), (pid, prog))
            elif prog in CHROOTED:
                self.assertEqual((uid, root), (owner.pw_uid, real_queue),
                                 (pid, prog))
            else:
                self.assertNotEqual(uid, 0, (pid, prog))
        self.assertIn("local", seen)

        # Only the master runs as root (and the agents that deliver as
        # the users).  A process the master has just forked is a second
        # "master" until it execs its program: look again until none is.
        def root_programs():
            return sorted(p for p, u, _ in self.daemons().values()
                          if u == 0 and p not in ("local", "virtual"))
        poll_until("only the master as root (seen: %s)" % root_programs(),
                   lambda: root_programs() == ["master"])

        # 7b. An ordinary user's sendmail -t, and a -bs dialogue.
        msg = "To: %s\nSubject: from bob\n\nhi alice\n" % self.alice
        sh([self.bin("sendmail"), "-t"], user=self.bob, stdin=msg)
        self.wait_mail(self.alice, 1)
        dialogue = ("HELO client.%s\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n"
                    "DATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n"
                    % (DOMAIN, self.alice, self.bob))
        r = sh([self.bin("sendmail"), "-bs"], user=self.alice, stdin=dialogue)
        codes = re.findall(r"^(\d{3})[ ]", r.out, re.M)
        self.assertEqual(codes, ["220", "250", "250", "250", "354", "250",
                                 "221"], r.out)
        self.assertIn(b"via -bs", b"".join(self.wait_mail(self.bob, 2)))
        # Over SMTP, to the alias.
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            for line in ("HELO c.test", "MAIL FROM:<x@remote.test>",
                         "RCPT TO:<root@%s>" % DOMAIN, "DATA"):
                s.sendall(line.encode() + b"\r\n")
                self.assertRegex(f.readline(), rb"^(250|354)")
            s.sendall(b"Subject: to root\r\n\r\nfor root\r\n.\r\nQUIT\r\n")
            self.assertTrue(f.readline().startswith(b"250"))
        self.wait_mail(self.alice, 2)

        # 8. mailq with held mail, release and delete.
        for k in range(2):
            msg = "To: %s\nSubject: hold %d\n\nheld\n" % (self.bob, k)
            sh([self.bin("sendmail"), "-t"], user=self.alice, stdin=msg)
        hold = os.path.join(self.queue, "hold")
        maildrop = os.path.join(self.queue, "maildrop")
        # Held files appear (still incomplete) before pickup removes the
        # maildrop files: wait for both.
        poll_until("two held messages, picked up",
                   lambda: len(os.listdir(hold)) == 2
                   and not os.listdir(maildrop))
        ids = sorted(os.listdir(hold))
        r = sh([self.bin("mailq")])
        self.assertTrue(r.out.startswith("-Queue ID-  --Size-- "), r.out)
        for qid in ids:
            self.assertRegex(r.out, r"(?m)^%s! +\d+ \w{3} \w{3} [ \d]\d "
                             r"\d\d:\d\d:\d\d  %s@mail\.%s$"
                             % (qid, self.alice, re.escape(DOMAIN)))
        self.assertIn("-- 0 Kbytes in 2 Requests.", r.out)
        r = sh([self.bin("mailq")], user=self.bob, check=77)
        self.assertIn("Queue report unavailable", r.err)
        r = sh([self.bin("postsuper"), "-H", ids[0]])
        self.assertIn("Released from hold: 1 message", r.err)
        sh([self.bin("postqueue"), "-i", ids[0]])
        self.wait_mail(self.bob, 3)
        r = sh([self.bin("postsuper"), "-d", ids[1]])
        self.assertIn("postsuper: %s: removed" % ids[1], r.err)
        self.assertEqual(sh([self.bin("mailq")]).out, "Mail queue is empty\n")

        # The log tells the story.
        log = self.log()
        for pat in (r"postino/pickup\[\d+\]: [0-9A-F]+: uid=%d from=<%s>"
                    % (pwd.getpwnam(self.alice).pw_uid, self.alice),
                    r"postino/qmgr\[\d+\]: [0-9A-F]+: from=<%s@mail\.%s>, "
                    r"size=\d+, nrcpt=1 \(queue active\)"
                    % (self.alice, re.escape(DOMAIN)),
                    r"postino/local\[\d+\]: [0-9A-F]+: to=<%s@mail\.%s>.*"
                    r"status=sent" % (self.bob, re.escape(DOMAIN)),
                    r"postino/qmgr\[\d+\]: [0-9A-F]+: removed",
                    r"postino/postsuper\[\d+\]: %s: removed" % ids[1]):
            self.assertRegex(log, pat)
        # No fatal or panic line at all (virtual runs without a
        # virtual_mailbox_base: it warns and would defer, not die).
        self.assertEqual([line for line in log.splitlines()
                          if re.search(r"(fatal|panic):", line)], [])

        # Stop.
        sh([self.bin("postino"), "stop"])
        poll_until("no daemon left", lambda: not self.daemons())


if __name__ == "__main__":
    unittest.main()
