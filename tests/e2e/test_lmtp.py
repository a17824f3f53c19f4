#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_lmtp - postino's lmtp delivery agent against a real Dovecot LMTP
server (Debian's dovecot-lmtpd), over a unix socket and over TCP, into
Maildirs that Dovecot's IMAP server (dovecot-imapd) then reads back.

The test runs in a network namespace of its own (netns.py).  Dovecot is
started by the test with its configuration, state and log in the
instance directory: LMTP on a unix socket and on 127.0.0.1:PORT, IMAP
on another port, users from a passwd-file (real accounts: Dovecot
delivers as their uid), mail_location = maildir:~/Maildir, and the quota
plugin with one user whose quota is a few bytes: Dovecot accepts that
recipient at RCPT and refuses it after DATA (552 5.2.2 quota exceeded),
which is LMTP's one reply per recipient after DATA.  A recipient Dovecot
does not know is refused at RCPT (550 5.1.1).

postino routes the domains with transport_maps: lmtp.test ->
lmtp:unix:SOCKET, lmtpi.test -> lmtp:inet:127.0.0.1:PORT.  Checked: the
accepted recipients' messages are read back through IMAP with the body
sent; the refused ones bounce to the sender (a local user) with Dovecot's
reply quoted; the log lines (relay=, dsn=, status=) say so.

LmtpTempfail: with quota_full_tempfail = yes the full mailbox is a 452
after DATA: that recipient alone is deferred; once its quota is raised, a
flush delivers it, and the other recipient still has exactly one copy.
"""
import email
import imaplib
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import unittest

import netns
from instance import Instance, WAIT, free_port, message, poll_until
from postino_testlib import program

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DELIVERY_WAIT = 45
PASSWORD = "s3cret"

MASTER = ("smtp      unix  -       -       n       -       -       smtp\n"
          "relay     unix  -       -       n       -       -       smtp\n"
          "lmtp      unix  -       -       n       -       -       lmtp\n")

DOVECOT_CONF = """protocols = lmtp imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
hostname = lmtp.dovecot.test
quota_full_tempfail = {tempfail}
mail_plugins = quota
protocol lmtp {{
  mail_plugins = quota
}}
plugin {{
  quota = maildir:User quota
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service lmtp {{
  unix_listener {sock} {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lport}
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {iport}
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """Dovecot with LMTP (unix socket and TCP) and IMAP for USERS:
    (login, uid, gid, home, extra userdb fields)."""

    def __init__(self, tc, d, users, tempfail=False):
        self.dir = d
        self.users = list(users)
        for sub in ("", "run", "state"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chmod(os.path.join(d, sub), 0o755)
        self.write_passwd()
        self.sock = os.path.join(d, "lmtp.sock")
        self.lport, self.iport = free_port(), free_port()
        conf = os.path.join(d, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=d, sock=self.sock, lport=self.lport,
                                        iport=self.iport,
                                        tempfail="yes" if tempfail else "no"))
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", conf],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        tc.addCleanup(self.stop)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited with %d: %s %s"
                                     % (self.proc.returncode,
                                        self.proc.stdout.read().decode(),
                                        self.log()))
            if not os.path.exists(self.sock):
                return False
            try:
                c = smtplib.LMTP("127.0.0.1", self.lport, timeout=5)
                c.quit()
                c = imaplib.IMAP4("127.0.0.1", self.iport, timeout=5)
                c.logout()
            except OSError:
                return False
            return True
        poll_until("dovecot LMTP and IMAP", up)

    def write_passwd(self):
        """The passwd-file from self.users (Dovecot reads it again when
        it changes)."""
        path = os.path.join(self.dir, "passwd")
        with open(path + ".new", "w") as f:
            for login, uid, gid, home, extra in self.users:
                f.write("%s:{PLAIN}%s:%d:%d::%s::%s\n"
                        % (login, PASSWORD, uid, gid, home, extra))
        os.chmod(path + ".new", 0o644)
        os.rename(path + ".new", path)

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def imap_messages(self, login):
        """Every message of LOGIN's INBOX, through IMAP (bytes)."""
        c = imaplib.IMAP4("127.0.0.1", self.iport, timeout=WAIT)
        try:
            c.login(login, PASSWORD)
            typ, data = c.select("INBOX", readonly=True)
            if typ != "OK":
                raise AssertionError("SELECT: %s" % data)
            typ, data = c.search(None, "ALL")
            out = []
            for num in data[0].split():
                typ, parts = c.fetch(num, "(RFC822)")
                out.append(parts[0][1])
            return out
        finally:
            c.logout()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=WAIT)
        self.proc.stdout.close()


class Lmtp(unittest.TestCase):

    def setUp(self):
        self.start_dovecot(tempfail=False)

    def start_dovecot(self, tempfail):
        if not os.access(DOVECOT, os.X_OK):
            self.fail("dovecot is not installed (Debian: dovecot-lmtpd, "
                      "dovecot-imapd)")
        self.i = Instance(self, users=["alice", "bob", "full"],
                          master_extra=MASTER,
                          main={"default_transport": "smtp",
                                "minimal_backoff_time": "3600s",
                                "maximal_backoff_time": "7200s",
                                "queue_run_delay": "3600s"})
        users = []
        for short, extra in (("bob", ""),
                             ("full", "userdb_quota_rule=*:storage=1B")):
            pw = pwd.getpwnam(self.i.user(short))
            for dom in ("lmtp.test", "lmtpi.test"):
                users.append(("%s@%s" % (short, dom), pw.pw_uid, pw.pw_gid,
                              os.path.join(pw.pw_dir, dom), extra))
            for dom in ("lmtp.test", "lmtpi.test"):
                home = os.path.join(pw.pw_dir, dom)
                os.makedirs(home, exist_ok=True)
                os.chown(home, pw.pw_uid, pw.pw_gid)
        self.dovecot = Dovecot(self, os.path.join(self.i.dir, "dovecot"),
                               users, tempfail=tempfail)

    def transport(self, text):
        path = os.path.join(self.i.conf, "transport")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([program("postmap"), "hash:" + path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.i.set_main(transport_maps="hash:" + path)

    def wait_log(self, pattern):
        try:
            return self.i.wait_log(pattern, timeout=DELIVERY_WAIT)
        except AssertionError:
            lines = [ln for ln in self.i.log().splitlines()
                     if re.search(r"smtp|lmtp|qmgr|bounce|error", ln)]
            raise AssertionError("no /%s/ in the log; its lmtp/qmgr lines:\n%s"
                                 "\ndovecot's log:\n%s"
                                 % (pattern, "\n".join(lines[-25:]),
                                    self.dovecot.log()[-3000:]))

    def test_dovecot_alone(self):
        """The fixture: Dovecot's LMTP takes bob and refuses full after
        DATA (quota), and unknown at RCPT; IMAP reads bob's message."""
        for where in (self.dovecot.sock, ("127.0.0.1", self.dovecot.lport)):
            c = smtplib.LMTP(timeout=WAIT)
            if isinstance(where, str):
                c.connect(where)
            else:
                c.connect(*where)
            c.ehlo("client.test")
            c.mail("a@x.test")
            self.assertEqual(c.rcpt("bob@lmtp.test")[0], 250)
            self.assertEqual(c.rcpt("full@lmtp.test")[0], 250)
            self.assertEqual(c.rcpt("nobody@lmtp.test")[0], 550)
            c.putcmd("data")
            self.assertEqual(c.getreply()[0], 354)
            c.send(b"Subject: direct\r\n\r\nstraight to dovecot\r\n.\r\n")
            self.assertEqual(c.getreply()[0], 250)
            code, text = c.getreply()
            self.assertEqual(code, 552, text)
            self.assertIn(b"Quota exceeded", text)
            c.quit()
        msgs = self.dovecot.imap_messages("bob@lmtp.test")
        self.assertEqual(len(msgs), 2)
        self.assertIn(b"straight to dovecot", msgs[0])
        self.assertEqual(self.dovecot.imap_messages("full@lmtp.test"), [])

    def check_domain(self, dom, relay):
        i = self.i
        sender = i.addr("alice")
        body = "through lmtp to %s\n.a dotted line\n" % dom
        rcpts = ["bob@" + dom, "full@" + dom, "nobody@" + dom]
        i.send(sender, rcpts, message(sender, rcpts[0], "lmtp " + dom, body,
                                      {"Message-ID": "<%s@client.test>"
                                       % dom}))
        self.wait_log(r"to=<bob@%s>, relay=%s, (?:conn_use=\d+, )?"
                      r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, "
                      r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 <bob@%s> "
                      % (re.escape(dom), relay, re.escape(dom)))
        self.wait_log(r"to=<full@%s>, relay=%s, .*dsn=5\.2\.2, "
                      r"status=bounced \(host \S+ said: 552 5\.2\.2 "
                      r"<full@%s> Quota exceeded.* \(in reply to end of "
                      r"DATA command\)\)"
                      % (re.escape(dom), relay, re.escape(dom)))
        self.wait_log(r"to=<nobody@%s>, relay=%s, .*dsn=5\.1\.1, "
                      r"status=bounced \(host \S+ said: 550 5\.1\.1 "
                      r"<nobody@%s> .*\(in reply to RCPT TO command\)\)"
                      % (re.escape(dom), relay, re.escape(dom)))
        msgs = self.dovecot.imap_messages("bob@" + dom)
        self.assertEqual(len(msgs), 1)
        m = email.message_from_bytes(msgs[0])
        self.assertEqual(m["Subject"], "lmtp " + dom)
        self.assertEqual(m.get_payload().replace("\r\n", "\n"), body)
        self.assertEqual(self.dovecot.imap_messages("full@" + dom), [])
        # one DSN for the two refused recipients, quoting Dovecot
        dsn = i.wait_maildir("alice", 1, timeout=DELIVERY_WAIT)
        self.assertEqual(len(dsn), 1)
        text = dsn[0].decode(errors="replace")
        self.assertRegex(text, r"Final-Recipient: rfc822; ?full@%s"
                         % re.escape(dom))
        self.assertRegex(text, r"Final-Recipient: rfc822; ?nobody@%s"
                         % re.escape(dom))
        self.assertRegex(text, r"552 5\.2\.2 <full@%s> Quota exceeded"
                         % re.escape(dom))
        self.assertNotRegex(text, r"Final-Recipient: rfc822; ?bob@")
        i.wait_queue_empty()
        # Postfix's format: the DSN's diagnostic is the server's reply, of
        # type smtp (RFC 3464); the log says "host NAME[ADDR] said:".
        devs = []
        if not re.search(r"^Diagnostic-Code: smtp; ?552 5\.2\.2 <full@%s> "
                         r"Quota exceeded" % re.escape(dom), text, re.M):
            devs.append("DSN Diagnostic-Code is not \"smtp; 552 5.2.2 ...\": "
                        + "".join(re.findall(r"^Diagnostic-Code: .*\n", text,
                                             re.M)))
        return devs

    def test_unix_socket(self):
        self.transport("lmtp.test lmtp:unix:%s\n" % self.dovecot.sock)
        self.i.start()
        devs = self.check_domain("lmtp.test", r"[^,]*")
        # Postfix: relay=MYHOSTNAME[/path/of/socket]
        if not re.search(r"to=<bob@lmtp\.test>, relay=%s\[%s\]," % (
                re.escape("mx.example.test"), re.escape(self.dovecot.sock)),
                self.i.log()):
            devs.append("relay= of a unix socket is not "
                        "myhostname[path]: "
                        + "".join(re.findall(r"to=<bob@lmtp\.test>, relay=[^,]*",
                                             self.i.log())))
        self.assertEqual(devs, [], "\n".join(devs))

    def test_inet(self):
        self.transport("lmtpi.test lmtp:inet:127.0.0.1:%d\n"
                       % self.dovecot.lport)
        self.i.start()
        devs = self.check_domain("lmtpi.test", re.escape(
            "127.0.0.1[127.0.0.1]:%d" % self.dovecot.lport))
        if not re.search(r"to=<full@lmtpi\.test>, .*status=bounced \(host "
                         r"127\.0\.0\.1\[127\.0\.0\.1\] said: 552 ",
                         self.i.log()):
            devs.append("log: not \"host 127.0.0.1[127.0.0.1] said: 552\"")
        self.assertEqual(devs, [], "\n".join(devs))



class LmtpTempfail(Lmtp):
    """Dovecot with quota_full_tempfail = yes: the full mailbox is a 452
    after DATA; that recipient alone is deferred, and delivered on the
    retry after its quota grew -- the other recipient exactly once."""

    def setUp(self):
        self.start_dovecot(tempfail=True)

    test_dovecot_alone = None
    test_unix_socket = None
    test_inet = None

    def test_tempfail_after_data(self):
        i = self.i
        self.transport("lmtpi.test lmtp:inet:127.0.0.1:%d\n"
                       % self.dovecot.lport)
        i.set_main(minimal_backoff_time="3600s", queue_run_delay="3600s")
        i.start()
        sender = i.addr("alice")
        i.send(sender, ["bob@lmtpi.test", "full@lmtpi.test"],
               message(sender, "bob@lmtpi.test", "tempfail", "once\n"))
        self.wait_log(r"to=<bob@lmtpi\.test>, .*dsn=2\.0\.0, status=sent")
        self.wait_log(r"to=<full@lmtpi\.test>, .*dsn=4\.2\.2, "
                      r"status=deferred \(host \S+ said: 452 4\.2\.2 "
                      r"<full@lmtpi\.test> Quota exceeded.*\(in reply to end "
                      r"of DATA command\)\)")
        poll_until("the message in deferred/",
                   lambda: i.queue_files("deferred")
                   and not i.queue_files("active"))
        # room for it now
        # (a new rule: with none, Dovecot keeps the limit in maildirsize)
        self.dovecot.users = [u[:4] + ("userdb_quota_rule=*:storage=100M",)
                              if u[0].startswith("full@") else u
                              for u in self.dovecot.users]
        self.dovecot.write_passwd()
        # Dovecot applies the new limit once it notices the file (and
        # the Maildir's maildirsize) changed: flush until it takes the
        # message, a bounded number of times.
        sent = r"to=<full@lmtpi\.test>, .*dsn=2\.0\.0, status=sent"

        def delivered():
            if re.search(sent, i.log()):
                return True
            i.postino("flush")
            return False
        try:
            poll_until("the retry accepted", delivered, timeout=DELIVERY_WAIT,
                       interval=1)
        except AssertionError as e:
            raise AssertionError("%s\nDovecot's LMTP transactions for full: "
                                 "%d" % (e, self.dovecot.log().count(
                                     "lmtp(full@lmtpi.test)")))
        i.wait_queue_empty()
        self.assertEqual(len(self.dovecot.imap_messages("full@lmtpi.test")), 1)
        self.assertEqual(len(self.dovecot.imap_messages("bob@lmtpi.test")), 1)
        self.assertEqual(i.maildir_files("alice"), [])      # no DSN


if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()
