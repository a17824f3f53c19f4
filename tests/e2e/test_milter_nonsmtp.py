#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_milter_nonsmtp - non_smtpd_milters: mail submitted with sendmail
(sendmail -> postdrop -> maildrop/ -> pickup) goes through the milters
as Postfix's cleanup sends it, a simulated ESMTP session from
localhost[127.0.0.1].

- A real OpenDKIM (Debian's opendkim, run by the test on a loopback
  port) signs mail submitted with sendmail, and mail from mynetworks
  over SMTP (smtpd_milters = the same milter, the usual DKIM setup);
  dkimpy verifies each delivered signature against the key OpenDKIM's
  opendkim-genkey made (no DNS: the TXT record comes from its file).
- pymilter (tests/e2e/milter_peer.py): the events and macros are those
  Debian's Postfix sends for the same submission (run side by side with
  the same milter), and an added header reaches the delivered mail.
- A reject at end of message: the message goes back to its sender, the
  recipient gets nothing, cleanup logs Postfix's milter-reject line.
- A milter that is down: milter_default_action=tempfail keeps the mail
  in maildrop/ (Postfix's milter-reject CONNECT line); accept delivers.
- A milter that does not answer: pickup waits no longer than
  milter_content_timeout (on its loop, in the scan's task: the instance
  fails on any blocking wait), then applies the default action.
- receive_override_options=no_milters on pickup: the milter hears
  nothing.
"""
import dkim
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from instance import DOMAIN, poll_until, WAIT
from postino_testlib import free_port
from test_submit import Submit

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "milter_peer.py")
OPENDKIM = shutil.which("opendkim") or "/usr/sbin/opendkim"
GENKEY = shutil.which("opendkim-genkey") or "/usr/sbin/opendkim-genkey"


def wait_port(port, what):
    import socket

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            return False
        return True
    poll_until(what, up, timeout=WAIT)


class Peer:
    """milter_peer.py on a loopback port; its events in self.log."""

    def __init__(self, tc, cfg):
        self.dir = tempfile.mkdtemp(prefix="postino-nsmilter-")
        tc.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.cfg = os.path.join(self.dir, "cfg.json")
        self.set(cfg)
        self.port = free_port()
        self.log = os.path.join(self.dir, "log")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", PEER, self.cfg,
             "inet:%d@127.0.0.1" % self.port, self.log])
        tc.addCleanup(self.stop)
        wait_port(self.port, "milter_peer on port %d" % self.port)

    def set(self, cfg):
        tmp = self.cfg + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.rename(tmp, self.cfg)

    def events(self):
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def wait_close(self, count=1):
        poll_until("%d milter sessions" % count, lambda: len(
            [e for e in self.events() if e["ev"] == "close"]) >= count,
            timeout=WAIT)
        return self.events()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class OpenDkim:
    """opendkim in the foreground, signing for DOMAIN with a key made by
    opendkim-genkey; self.txt is the DNS record for selector "sel"."""

    def __init__(self, tc, domain):
        for p in (OPENDKIM, GENKEY):
            if not os.access(p, os.X_OK):
                raise AssertionError("%s is not installed (Debian: opendkim, "
                                     "opendkim-tools)" % p)
        self.dir = tempfile.mkdtemp(prefix="postino-dkim-")
        tc.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        subprocess.run([GENKEY, "-D", self.dir, "-d", domain, "-s", "sel"],
                       check=True, capture_output=True, timeout=60)
        with open(os.path.join(self.dir, "sel.txt")) as f:
            # sel._domainkey IN TXT ( "v=DKIM1; ..." "p=..." )  ; comment
            self.txt = "".join(re.findall(r'"([^"]*)"', f.read()))
        self.port = free_port()
        conf = os.path.join(self.dir, "opendkim.conf")
        with open(conf, "w") as f:
            f.write("Mode s\nDomain %s\nSelector sel\nKeyFile %s\n"
                    "Socket inet:%d@127.0.0.1\nCanonicalization "
                    "relaxed/relaxed\nRequireSafeKeys false\n"
                    "InternalHosts 127.0.0.1\nSyslog false\n"
                    "PidFile %s\n" % (domain, os.path.join(self.dir,
                                                           "sel.private"),
                                      self.port,
                                      os.path.join(self.dir, "pid")))
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen([OPENDKIM, "-f", "-x", conf],
                                     stdout=self.err, stderr=self.err)
        tc.addCleanup(self.stop)
        wait_port(self.port, "opendkim on port %d" % self.port)

    def dnsfunc(self, name, timeout=5):
        if name in (b"sel._domainkey.%s." % DOMAIN.encode(),
                    b"sel._domainkey.%s" % DOMAIN.encode()):
            return self.txt.encode()
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.err.close()


def verify(raw, dnsfunc):
    """Does the first DKIM-Signature of RAW (a delivered message, LF line
    ends) verify?"""
    return dkim.verify(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
                       dnsfunc=dnsfunc)


class NonSmtpMilters(unittest.TestCase):

    def test_opendkim_signs_local_and_smtp_mail(self):
        i = Submit(self)
        od = OpenDkim(self, DOMAIN)
        milter = "inet:127.0.0.1:%d" % od.port
        i.set_main(smtpd_milters=milter, non_smtpd_milters="$smtpd_milters",
                   milter_default_action="tempfail")
        i.start()
        r = i.sendmail([i.user("bob")], "From: %s\nTo: %s\nSubject: local\n\n"
                       "signed by opendkim\n" % (i.addr("alice"),
                                                 i.addr("bob")))
        self.assertEqual(r.returncode, 0, r.err)
        got = i.wait_maildir("bob", 1)[0]
        self.assertIn(b"DKIM-Signature:", got)
        self.assertIn(b"d=%s" % DOMAIN.encode(), got)
        self.assertTrue(verify(got, od.dnsfunc), got)
        # The check itself: a changed body no longer verifies.
        self.assertFalse(verify(got.replace(b"signed by", b"forged by"),
                                od.dnsfunc))
        # And over SMTP from mynetworks (smtpd_milters).
        i.send(i.addr("alice"), [i.addr("bob")],
               "From: %s\r\nTo: %s\r\nSubject: smtp\r\n\r\nover smtp\r\n"
               % (i.addr("alice"), i.addr("bob")))
        got = [m for m in i.wait_maildir("bob", 2) if b"over smtp" in m][0]
        self.assertTrue(verify(got, od.dnsfunc), got)
        self.assertFalse(os.listdir(i.maildrop))
        i.check_sanitizer()

    def _postfix_events(self, cfg):
        """The milter's events for one sendmail submission to Debian's
        Postfix (the oracle), with the same milter."""
        from smtp_peers import PostfixMx
        peer = Peer(self, cfg)
        mx = PostfixMx(self, address="127.0.0.31", users=("bob", "joe"),
                       extra_main={"non_smtpd_milters":
                                   "inet:127.0.0.1:%d" % peer.port,
                                   "myorigin": "pfx.test"})
        r = subprocess.run(["/usr/sbin/sendmail", "-C", mx.conf, "-f",
                            "joe@pfx.test", "bob@pfx.test"],
                           input=b"From: joe@pfx.test\nSubject: hi\n\nx\n",
                           capture_output=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = mx.wait_maildir("bob", 1)[0]
        self.assertIn(b"X-Milter: seen", got)
        return peer.wait_close(1)

    @staticmethod
    def _shape(events, sender, rcpt, qid_ok):
        """Events with what differs between the two MTAs taken out: the
        names of the macros, and the values that must be the same."""
        out = []
        same = ("_", "{daemon_addr}", "{client_addr}", "{client_name}")
        for e in events:
            s = {"ev": e["ev"]}
            if "macros" in e:
                s["macros"] = sorted(e["macros"])
                s["values"] = {k: v for k, v in e["macros"].items()
                               if k in same}
                if "{mail_addr}" in e["macros"]:
                    s["mail_addr_ok"] = e["macros"]["{mail_addr}"] == sender
                if "{rcpt_addr}" in e["macros"]:
                    s["rcpt_addr_ok"] = e["macros"]["{rcpt_addr}"] == rcpt
                if "i" in e["macros"]:
                    s["i_ok"] = qid_ok(e["macros"]["i"])
            for k in ("host", "addr", "name", "params"):
                if k in e:
                    s[k] = e[k]
            if e["ev"] == "mail":
                s["addr"] = e["addr"] == sender
            if e["ev"] == "rcpt":
                s["addr"] = e["addr"] == rcpt
            if e["ev"] == "header":
                s["name"] = e["name"]
                s.pop("value", None)
            out.append(s)
        return out

    def test_events_and_macros_as_postfix_and_header_edit(self):
        cfg = {"eom_actions": [["addheader", "X-Milter", "seen"]]}
        pfx = self._postfix_events(cfg)
        peer = Peer(self, cfg)
        i = Submit(self)
        i.set_main(non_smtpd_milters="inet:127.0.0.1:%d" % peer.port)
        i.start()
        r = i.sendmail(["-f", i.addr("alice"), i.addr("bob")],
                       "From: %s\nSubject: hi\n\nx\n" % i.addr("alice"))
        self.assertEqual(r.returncode, 0, r.err)
        got = i.wait_maildir("bob", 1)[0]
        self.assertIn(b"X-Milter: seen", got)
        mine = peer.wait_close(1)
        qid = re.search(r"([0-9A-F]+): uid=\d+ from=<%s>"
                        % re.escape(i.addr("alice")), i.log()).group(1)
        self.assertEqual(
            self._shape(mine, i.addr("alice"), i.addr("bob"),
                        lambda v: v == qid),
            self._shape(pfx, "joe@pfx.test", "bob@pfx.test",
                        lambda v: re.fullmatch("[0-9A-F]+", v) is not None))
        # The simulated session, spelled out.
        self.assertEqual(mine[0]["host"], "localhost")
        self.assertEqual(mine[0]["addr"], ["127.0.0.1", 0])
        self.assertEqual(mine[0]["macros"]["_"], "localhost [127.0.0.1]")
        self.assertEqual(mine[1]["name"], "localhost")
        self.assertEqual(mine[2]["addr"], i.addr("alice"))
        self.assertNotIn("Received", [e.get("name") for e in mine])
        i.check_sanitizer()

    def test_reject_goes_back_to_sender(self):
        peer = Peer(self, {"eom": "reject"})
        i = Submit(self)
        i.set_main(non_smtpd_milters="inet:127.0.0.1:%d" % peer.port)
        i.start()
        r = i.sendmail(["-f", i.addr("alice"), i.addr("bob")],
                       "Subject: refused\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_log(r"postino/cleanup\[\d+\]: [0-9A-F]+: milter-reject: "
                   r"END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.7\.1 "
                   r"Command rejected; from=<%s> to=<%s>"
                   % (re.escape(i.addr("alice")), re.escape(i.addr("bob"))))
        raw = i.wait_maildir("alice", 1)[0]
        self.assertIn(b"Undelivered Mail Returned to Sender", raw)
        self.assertIn(b"Status: 5.7.1", raw)
        # The reason without its codes, as Postfix's cleanup words it.
        self.assertIn(b"Diagnostic-Code: X-Postino; Command rejected", raw)
        self.assertIn(b"Subject: refused", raw)
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        i.wait_queue_empty()
        self.assertEqual(i.maildir_files("bob"), [])
        i.check_sanitizer()

    def test_discard_and_rcpt_refusal(self):
        peer = Peer(self, {"eom": "discard"})
        i = Submit(self)
        i.set_main(non_smtpd_milters="inet:127.0.0.1:%d" % peer.port)
        i.start()
        r = i.sendmail([i.addr("bob")], "Subject: dropped\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_log(r"milter-discard: END-OF-MESSAGE from "
                   r"localhost\[127\.0\.0\.1\]: milter triggers DISCARD "
                   r"action")
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        # A refused recipient: Postfix's configuration error, and the
        # mail waits in maildrop/.
        peer.set({"rcpt": "reject"})
        r = i.sendmail([i.addr("bob")], "Subject: waits\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_log(r"warning: [0-9A-F]+: milter configuration error: can't "
                   r"reject recipient in non-smtpd\(8\) submission")
        i.wait_log(r"warning: [0-9A-F]+: message not accepted, try again "
                   r"later")
        self.assertEqual(len(i.maildrop_files()), 1)
        i.wait_queue_empty()
        self.assertEqual(i.maildir_files("bob"), [])
        self.assertEqual(i.maildir_files("alice"), [])
        i.check_sanitizer()

    def test_milter_down(self):
        i = Submit(self)
        down = "inet:127.0.0.1:%d" % free_port()
        i.set_main(non_smtpd_milters=down)
        i.start()
        r = i.sendmail([i.addr("bob")], "Subject: waits\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_log(r"milter-reject: CONNECT from localhost\[127\.0\.0\.1\]: "
                   r"4\.7\.1 Service unavailable - try again later")
        self.assertEqual(len(i.maildrop_files()), 1)
        self.assertEqual(i.maildir_files("bob"), [])
        # default_action=accept: as if the milter were not there; the
        # waiting message goes too.
        i.set_main(non_smtpd_milters="{ %s, default_action=accept }" % down)
        i.postino("reload")
        r = i.sendmail([i.addr("bob")], "Subject: accepted\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_maildir("bob", 2)
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        i.check_sanitizer()

    def test_slow_milter_is_bounded_by_its_timeout(self):
        """A milter that does not answer holds pickup no longer than
        milter_content_timeout; default_action=accept then delivers."""
        peer = Peer(self, {"sleep": {"eom": 30}})
        i = Submit(self)
        i.set_main(non_smtpd_milters="{ inet:127.0.0.1:%d, "
                   "default_action=accept, content_timeout=1s }" % peer.port)
        i.start()
        r = i.sendmail([i.addr("bob")], "Subject: slow\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        got = i.wait_maildir("bob", 1)[0]
        self.assertIn(b"Subject: slow", got)
        i.wait_log(r"warning: milter inet:127\.0\.0\.1:%d: can't read "
                   r"SMFIC_BODYEOB reply packet header" % peer.port)
        i.check_sanitizer()

    def test_no_milters_on_pickup(self):
        peer = Peer(self, {"eom": "reject"})
        i = Submit(self)
        i.master_cf = i.master_cf.replace(
            "pickup unix n - n 60 1 pickup\n",
            "pickup unix n - n 60 1 pickup\n"
            "  -o receive_override_options=no_milters\n")
        i.set_main(non_smtpd_milters="inet:127.0.0.1:%d" % peer.port)
        i.start()
        r = i.sendmail([i.addr("bob")], "Subject: no milters\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_maildir("bob", 1)
        self.assertEqual(peer.events(), [])
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()
