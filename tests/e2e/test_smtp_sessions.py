#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_sessions - many concurrent SMTP sessions, idle and slow, with
real mail going through meanwhile (issue 8: one client must not be able
to hurt the others).

bench/idle-conns.py opens POSTINO_SESSIONS connections (1,500 by
default; bench/RESULTS-sessions.md runs it with 10,000): a fifth of them
are slow clients that send "NOOP" one byte a second, the rest stay idle.
Once every one has its banner, messages are sent with smtplib and fresh
connections check that a new client is still greeted.  Every banner must
arrive, every message must be accepted and delivered, every slow client
answered; memory (RSS of every process of the instance) is printed for
the record, not asserted.  Every wait is bounded; nothing depends on how
fast it happens.
"""
import json
import os
import resource
import subprocess
import sys
import unittest

from instance import Instance, WAIT, poll_until, program
from postino_testlib import source_dir

SESSIONS = int(os.environ.get("POSTINO_SESSIONS", "1500"))
MAIL = int(os.environ.get("POSTINO_SESSIONS_MAIL", "20"))
HOLD = float(os.environ.get("POSTINO_SESSIONS_HOLD", "0"))


def instance_rss(i):
    """{program: [processes, RSS KiB, CPU seconds]} over the instance's
    processes."""
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    for pid, prog in i.processes().items():
        try:
            with open("/proc/%d/status" % pid) as f:
                rss = int(next(x for x in f if x.startswith("VmRSS:"))
                          .split()[1])
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, StopIteration):
            continue
        e = out.setdefault(prog, [0, 0, 0.0])
        e[0] += 1
        e[1] += rss
        e[2] = round(e[2] + (int(fields[11]) + int(fields[12])) / hz, 2)
    return out


class Sessions(unittest.TestCase):

    def test_idle_slow_and_mail(self):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if hard < SESSIONS + 256:
            self.skipTest("open files hard limit %d is below %d sessions"
                          % (hard, SESSIONS))
        # maxproc "-" (default_process_limit): should one smtpd's share of
        # the descriptors be too small, the master starts another.
        i = Instance(self, users=["alice"])
        i.master_cf = i.master_cf.replace(" n - n - 1 smtpd",
                                          " n - n - - smtpd")
        i.write_conf()
        # Started with the usual soft limit of 1,024 open files (a shell's,
        # systemd's default): the master raises it to the hard limit, or
        # one smtpd could not hold more than a thousand sessions.
        i.postino("check")

        def soft_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        r = subprocess.run([program("postino"), "-c", i.conf, "start"],
                           capture_output=True, env=i.env(), timeout=120,
                           preexec_fn=soft_limit)
        self.assertEqual(r.returncode, 0, r)
        poll_until("smtpd listening", i.listening)
        with i.raw() as c:
            self.assertEqual(c.reply()[:4], "220 ")
        before = instance_rss(i)
        slow = SESSIONS // 5
        argv = [sys.executable, os.path.join(source_dir(), "bench",
                                             "idle-conns.py"),
                "127.0.0.1", str(i.port), str(SESSIONS),
                "--slow", str(slow), "--mail", str(MAIL),
                "--rcpt", i.addr("alice"), "--fresh-every", "1",
                "--sources", "16", "--until-held", "--hold", str(HOLD),
                "--measure-at", "-1",
                "--measure-cmd", "echo held", "--duration", str(4 * WAIT + HOLD),
                "--report-at", "1,5,10,20,40,60,120,180,240"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        held = None
        reports = []
        try:
            for line in proc.stdout:
                reports.append(line.strip())
                if line.startswith("measure "):
                    held = instance_rss(i)
            proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self.assertEqual(proc.returncode, 0, reports)
        summary = json.loads(reports[-1].split(" ", 1)[1])
        sys.stderr.write("\n".join(reports) + "\n")
        sys.stderr.write("[processes, RSS KiB, CPU s] before: %s\n"
                         "[processes, RSS KiB, CPU s] with %d sessions "
                         "held: %s\n" % (before, SESSIONS, held))
        self.assertEqual(summary["ever_banner"], SESSIONS, summary)
        self.assertEqual(summary["final"]["banner"], SESSIONS, summary)
        self.assertIsNotNone(summary["held_s"], summary)
        self.assertEqual(summary["slow_answered"], slow, summary)
        self.assertEqual(summary["mail"]["sent"], MAIL, summary)
        self.assertEqual(summary["mail"]["failed"], [], summary)
        self.assertGreater(summary["fresh"]["tried"], 0, summary)
        self.assertEqual(summary["fresh"]["greeted"],
                         summary["fresh"]["tried"], summary)
        self.assertIsNotNone(held)
        i.wait_maildir("alice", MAIL)
        i.wait_queue_empty()
        # The held sessions ended as lost connections, nothing worse.
        self.assertNotRegex(i.log(), r"smtpd\[\d+\]: (fatal|panic|warning: "
                            r"accept)")


if __name__ == "__main__":
    unittest.main()
