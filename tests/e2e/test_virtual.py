#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_virtual - virtual mailbox domains and the virtual(8) delivery agent.

Hash tables (no servers): Maildir and mbox under virtual_mailbox_base
with the headers virtual prepends (Return-Path:, X-Original-To:,
Delivered-To:), user+ext@domain / user@domain / @domain search order,
static: uid/gid maps, files owned by the looked-up ids, unknown users
refused at RCPT (550 5.1.1), virtual_minimum_uid (deferred 4.3.5, never
bounced), Delivered-To: loops (bounced 5.4.6), a table that fails
(deferred 4.3.0 "table lookup failure", never a bounce).

Directories (real servers): an LDAP-defined user (slapd,
scripts/lib/slapd.sh) and an SQL-defined user (mariadbd,
scripts/lib/mariadb.sh, PostfixAdmin schema) get their mail in their
Maildir under virtual_mailbox_base, read back through dovecot-pop3d; a
stopped (SIGSTOP) slapd gives 451 4.3.0 at RCPT, and a directory that
is down when virtual delivers defers the mail in qmgr, never bounces it.
A missing slapd, mariadbd or dovecot fails the test.
"""
import os
import poplib
import pwd
import re
import subprocess
import time
import unittest

from directories import Mariadb, Slapd
from instance import (DOVECOT, Instance, free_port, message, poll_until,
                      start_dovecot, WAIT)
from postino_testlib import program

VDOMAIN = "virt.test"

VIRTUAL_LINE = "virtual unix - n n - - virtual\n"


def postmap(inst, path, text):
    inst.postmap(path, text)


def vinstance(tc, mailbox_maps, extra_main=None, master_extra="",
              users=("vmail",)):
    """An instance with a virtual mailbox domain; base owned by vmail."""
    i = Instance(tc, users=list(users), master_extra=VIRTUAL_LINE
                 + master_extra)
    base = os.path.join(i.dir, "vmail")
    os.mkdir(base, 0o755)
    pw = pwd.getpwnam(i.user("vmail"))
    os.chown(base, pw.pw_uid, pw.pw_gid)
    main = {
        "virtual_mailbox_domains": VDOMAIN,
        "virtual_mailbox_base": base,
        "virtual_mailbox_maps": mailbox_maps,
        "virtual_uid_maps": "static:%d" % pw.pw_uid,
        "virtual_gid_maps": "static:%d" % pw.pw_gid,
        "recipient_delimiter": "+",
    }
    main.update(extra_main or {})
    i.set_main(**main)
    i.vbase = base
    i.vuid, i.vgid = pw.pw_uid, pw.pw_gid
    return i


def slurp(path):
    with open(path, "rb") as f:
        return f.read()


def maildir_files(path):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    return out


def wait_maildir(path, count):
    poll_until("%d messages in %s" % (count, path),
               lambda: len(maildir_files(path)) >= count)
    return [slurp(p) for p in maildir_files(path)]


class HashTables(unittest.TestCase):

    def setUp(self):
        self.i = vinstance(self, "")
        self.vmbox = os.path.join(self.i.conf, "vmailbox")
        postmap(self.i, self.vmbox,
                "joe@%s %s/joe/\n" % (VDOMAIN, VDOMAIN)
                + "joe+box@%s %s/joe-box/\n" % (VDOMAIN, VDOMAIN)
                + "ann@%s %s/ann\n" % (VDOMAIN, VDOMAIN)
                + "@catch.test catch.test/all/\n")
        self.i.set_main(virtual_mailbox_maps="hash:" + self.vmbox,
                        virtual_mailbox_domains=VDOMAIN + ", catch.test")

    def test_maildir_mbox_headers_ownership(self):
        i = self.i
        i.start()
        i.send("sender@ext.test", ["joe@" + VDOMAIN],
               message("sender@ext.test", "joe@" + VDOMAIN, "to joe"))
        i.send("sender@ext.test", ["ann@" + VDOMAIN],
               message("sender@ext.test", "ann@" + VDOMAIN, "to ann"))
        i.send("sender@ext.test", ["JOE+Box@" + VDOMAIN, "joe+other@" + VDOMAIN,
                                   "whoever@catch.test"],
               message("sender@ext.test", "joe@" + VDOMAIN, "ext"))
        joe = wait_maildir(os.path.join(i.vbase, VDOMAIN, "joe"), 2)
        box = wait_maildir(os.path.join(i.vbase, VDOMAIN, "joe-box"), 1)
        catch = wait_maildir(os.path.join(i.vbase, "catch.test", "all"), 1)
        i.wait_queue_empty()
        first = [m for m in joe if b"Subject: to joe" in m][0]
        self.assertTrue(first.startswith(
            b"Return-Path: <sender@ext.test>\nX-Original-To: joe@virt.test\n"
            b"Delivered-To: joe@virt.test\n"), first[:200])
        self.assertIn(b"Delivered-To: joe+box@virt.test\n", box[0])
        self.assertIn(b"X-Original-To: JOE+Box@virt.test\n", box[0])
        self.assertIn(b"Delivered-To: whoever@catch.test\n", catch[0])
        # mbox
        ann = os.path.join(i.vbase, VDOMAIN, "ann")
        poll_until("ann's mbox", lambda: os.path.exists(ann)
                   and b"to ann" in slurp(ann))
        data = slurp(ann)
        self.assertTrue(data.startswith(b"From sender@ext.test "), data[:80])
        self.assertIn(b"\nDelivered-To: ann@virt.test\n", data)
        # Files and directories belong to the looked-up ids.
        for p in [ann, os.path.join(i.vbase, VDOMAIN),
                  os.path.join(i.vbase, VDOMAIN, "joe", "new")] \
                + maildir_files(os.path.join(i.vbase, VDOMAIN, "joe")):
            st = os.stat(p)
            self.assertEqual((st.st_uid, st.st_gid), (i.vuid, i.vgid), p)
        log = i.log()
        self.assertRegex(log, r"virtual\[\d+\]: [0-9A-F]+: to=<joe@virt\.test>, "
                         r"relay=virtual, delay=[0-9.]+, delays=[0-9./]+, "
                         r"dsn=2\.0\.0, status=sent \(delivered to maildir\)")
        self.assertRegex(log, r"to=<ann@virt\.test>, relay=virtual, .*"
                         r"status=sent \(delivered to mailbox\)")

    def test_unknown_user_refused_at_rcpt(self):
        i = self.i
        i.start()
        with i.smtp() as s:
            s.ehlo("client.test")
            s.mail("sender@ext.test")
            code, text = s.rcpt("nobody@" + VDOMAIN)
            self.assertEqual(code, 550, text)
            self.assertIn(b"5.1.1", text)
            code, text = s.rcpt("joe@" + VDOMAIN)
            self.assertEqual(code, 250, text)

    def test_minimum_uid_defers(self):
        i = self.i
        i.set_main(virtual_uid_maps="static:50")
        i.start()
        i.send("sender@ext.test", ["joe@" + VDOMAIN],
               message("sender@ext.test", "joe@" + VDOMAIN, "low uid"))
        i.wait_log(r"to=<joe@virt\.test>, relay=virtual, .*dsn=4\.3\.5, "
                   r"status=deferred \(mail system configuration error: "
                   r"recipient joe@virt\.test: bad uid \"50\"")
        # The agent logs before qmgr has moved the message: wait for it.
        poll_until("the message in deferred/",
                   lambda: len(i.queue_files("deferred")) == 1)
        self.assertNotIn("status=bounced", i.log())

    def test_delivered_to_loop_bounces(self):
        i = self.i
        i.start()
        i.send("sender@ext.test", ["joe@" + VDOMAIN],
               message("sender@ext.test", "joe@" + VDOMAIN, "loop",
                       headers={"Delivered-To": "joe@virt.test"}))
        i.wait_log(r"to=<joe@virt\.test>, relay=virtual, .*dsn=5\.4\.6, "
                   r"status=bounced \(mail forwarding loop for joe@virt\.test\)")

    def test_table_failure_defers(self):
        # smtpd accepts through the hash table; virtual's own table (-o)
        # is a server that refuses connections: deferred, never bounced.
        # Named only in master.cf, it is not in proxy_read_maps: virtual
        # opens it itself and says that each lookup holds its loop.
        i = self.i
        i.blocking_ok = True
        cf = os.path.join(i.conf, "down.cf")
        with open(cf, "w") as f:
            f.write("hosts = 127.0.0.1:%d\nuser = x\npassword = y\n"
                    "dbname = d\nquery = SELECT 1 WHERE '%%s' = ''\n"
                    % free_port())
        i.master_cf = i.master_cf.replace(
            VIRTUAL_LINE, "virtual unix - n n - - virtual "
            "-o virtual_mailbox_maps=mysql:%s\n" % cf)
        i.write_conf()
        i.start()
        i.send("sender@ext.test", ["joe@" + VDOMAIN],
               message("sender@ext.test", "joe@" + VDOMAIN, "down"))
        i.wait_log(r"to=<joe@virt\.test>, relay=virtual, .*dsn=4\.3\.0, "
                   r"status=deferred \(mysql:%s: table lookup failure\)"
                   % re.escape(cf))
        poll_until("the message in deferred/",
                   lambda: len(i.queue_files("deferred")) == 1)
        self.assertNotIn("status=bounced", i.log())
        self.assertRegex(i.log(), r"virtual\[\d+\]: warning: blocking wait "
                         r"inside the event loop: mysql:%s" % re.escape(cf))
        i.check_sanitizer()


LDIF = """dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=lu1,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: lu1
cn: LDAP User
sn: User
mail: lu1@ldap.test
"""

SQL = """
INSERT INTO domain (domain, description, active) VALUES ('sql.test', 'x', 1);
INSERT INTO mailbox (username, name, maildir, local_part, domain, active)
  VALUES ('su1@sql.test', 'SQL User', 'sql.test/su1/', 'su1', 'sql.test', 1);
"""

DIR_TIMEOUT = 3     # seconds: the tables' timeouts


class Directories(unittest.TestCase):

    def setUp(self):
        self.slapd = Slapd(self, LDIF)
        self.db = Mariadb(self, SQL)
        self.i = i = vinstance(self, "")
        self.ldap_cf = os.path.join(i.conf, "ldap-vmailbox.cf")
        with open(self.ldap_cf, "w") as f:
            f.write("server_host = ldap://127.0.0.1:%d\n"
                    "search_base = ou=people,dc=example,dc=com\n"
                    "query_filter = (mail=%%s)\nresult_attribute = uid\n"
                    "result_format = %%D/%%s/\ndomain = ldap.test\n"
                    "bind = no\ntimeout = %d\n"
                    % (self.slapd.port, DIR_TIMEOUT))
        self.sql_cf = os.path.join(i.conf, "mysql-vmailbox.cf")
        with open(self.sql_cf, "w") as f:
            f.write("hosts = inet:127.0.0.1:%d\nuser = postino\n"
                    "password = secret\ndbname = postfixadmin\n"
                    "query = SELECT maildir FROM mailbox WHERE "
                    "username='%%s' AND active = '1'\ndomain = sql.test\n"
                    "connect_timeout = %d\nread_timeout = %d\n"
                    "retry_interval = 1\n"
                    % (self.db.port, DIR_TIMEOUT, DIR_TIMEOUT))
        i.set_main(virtual_mailbox_domains="ldap.test, sql.test",
                   virtual_mailbox_maps="proxy:ldap:%s, proxy:mysql:%s"
                   % (self.ldap_cf, self.sql_cf))

    def start_dovecot(self, users):
        """dovecot-pop3d for users {login: maildir}, as vmail."""
        i = self.i
        if not os.access(DOVECOT, os.X_OK):
            self.fail("dovecot is not installed (Debian: dovecot-pop3d)")
        return start_dovecot(self, os.path.join(i.dir, "dovecot"),
                             [(login, "pw-" + login, i.vuid, i.vgid, maildir)
                              for login, maildir in users.items()],
                             "maildir:~")

    def pop3(self, port, login):
        c = poplib.POP3("127.0.0.1", port, timeout=WAIT)
        try:
            c.user(login)
            c.pass_("pw-" + login)
            count, _ = c.stat()
            out = []
            for k in range(1, count + 1):
                _, lines, _ = c.retr(k)
                out.append(b"\n".join(lines) + b"\n")
            c.quit()
            return out
        finally:
            c.close()

    def test_ldap_and_sql_users_through_pop3(self):
        i = self.i
        i.start()
        with i.smtp() as s:
            s.ehlo("client.test")
            s.mail("sender@ext.test")
            self.assertEqual(s.rcpt("nobody@ldap.test")[0], 550)
            self.assertEqual(s.rcpt("nobody@sql.test")[0], 550)
        for rcpt in ("lu1@ldap.test", "su1@sql.test"):
            i.send("sender@ext.test", [rcpt],
                   message("sender@ext.test", rcpt, "hello " + rcpt,
                           "body for %s\n" % rcpt))
        ldap_md = os.path.join(i.vbase, "ldap.test", "lu1")
        sql_md = os.path.join(i.vbase, "sql.test", "su1")
        wait_maildir(ldap_md, 1)
        wait_maildir(sql_md, 1)
        i.wait_queue_empty()
        port = self.start_dovecot({"lu1@ldap.test": ldap_md,
                                   "su1@sql.test": sql_md})
        for login, md in (("lu1@ldap.test", ldap_md), ("su1@sql.test", sql_md)):
            got = self.pop3(port, login)
            self.assertEqual(len(got), 1, login)
            self.assertIn(b"Delivered-To: %s\n" % login.encode(), got[0])
            self.assertIn(b"Subject: hello %s\n" % login.encode(), got[0])
            self.assertIn(b"\nbody for %s\n" % login.encode(), got[0])
            on_disk = wait_maildir(md, 1)[0]
            self.assertEqual(got[0], on_disk)
        i.check_sanitizer()

    def test_every_daemon_waits_for_the_directory_in_a_task(self):
        # Each daemon that reads a directory table through the lookup
        # service waits for the answer in a task on its loop; a wait
        # outside one is logged and fails the test at cleanup
        # (Instance.blocking_waits).  Directory lookups here: pickup's
        # cleanup (virtual_alias_maps for a sendmail recipient), local
        # (alias_maps), local's forwarding through cleanup, qmgr's bounce
        # through cleanup (virtual_alias_maps for the sender), virtual
        # (virtual_mailbox_maps) and smtpd (its checks).
        i = self.i
        alias_cf = os.path.join(i.conf, "ldap-alias.cf")
        valias_cf = os.path.join(i.conf, "ldap-valias.cf")
        for path, filt, domain in ((alias_cf, "uid", ""),
                                   (valias_cf, "mail", "domain = ldap.test\n")):
            with open(path, "w") as f:
                f.write("server_host = ldap://127.0.0.1:%d\n"
                        "search_base = ou=people,dc=example,dc=com\n"
                        "query_filter = (%s=%%s)\nresult_attribute = mail\n"
                        "%sbind = no\ntimeout = %d\n"
                        % (self.slapd.port, filt, domain, DIR_TIMEOUT))
        i.set_main(alias_maps="proxy:ldap:" + alias_cf,
                   virtual_alias_maps="proxy:ldap:" + valias_cf)
        i.master_cf += "pickup unix n - n 60 1 pickup\n"
        i.write_conf()
        i.start()
        lu1 = os.path.join(i.vbase, "ldap.test", "lu1")
        env = i.env()
        env["MAIL_CONFIG"] = i.conf

        def sendmail(sender, rcpt, subject):
            r = subprocess.run(
                [program("sendmail"), "-f", sender, rcpt],
                input=("Subject: %s\n\n%s\n" % (subject, subject)).encode(),
                env=env, capture_output=True, timeout=WAIT)
            self.assertEqual(r.returncode, 0, r.stderr)

        # pickup: virtual alias of a sendmail recipient.
        sendmail("root@" + i.main["mydomain"], "lu1@ldap.test", "picked up")
        # local: the alias lu1 -> lu1@ldap.test, forwarded through cleanup.
        i.send("sender@ext.test", ["lu1@" + i.main["mydomain"]],
               message("sender@ext.test", "lu1@" + i.main["mydomain"],
                       "aliased"))
        # qmgr: the bounce for an unknown local user goes to the sender,
        # whose virtual alias is in the directory.
        sendmail("lu1@ldap.test", "nosuchuser@" + i.main["mydomain"],
                 "bounced")
        got = wait_maildir(lu1, 3)
        i.wait_queue_empty()
        text = b"".join(got)
        for want in (b"Subject: picked up", b"Subject: aliased",
                     b"Subject: Undelivered Mail Returned to Sender"):
            self.assertIn(want, text)
        self.assertRegex(i.log(), r"local\[\d+\]: [0-9A-F]+: "
                         r"to=<lu1@%s>, relay=local, .*status=sent "
                         r"\(forwarded as " % re.escape(i.main["mydomain"]))
        self.assertEqual(i.blocking_waits(), [])
        i.check_sanitizer()

    def test_outage_451_at_rcpt_and_deferral(self):
        i = self.i
        # Mail from this sender is accepted on hold, so that the outage
        # can start before virtual delivers it.
        hold = os.path.join(i.conf, "hold")
        postmap(i, hold, "held@ext.test HOLD\n")
        i.set_main(smtpd_sender_restrictions="check_sender_access hash:" + hold)
        i.start()
        i.send("held@ext.test", ["lu1@ldap.test", "su1@sql.test"],
               message("held@ext.test", "lu1@ldap.test", "held"))
        poll_until("the message in hold/", lambda: i.queue_files("hold"))
        for server, rcpt, other in ((self.slapd, "lu1@ldap.test",
                                     "su1@sql.test"),
                                    (self.db, "su1@sql.test",
                                     "lu1@ldap.test")):
            server.pause()
            try:
                with i.smtp() as s:
                    s.ehlo("client.test")
                    s.mail("sender@ext.test")
                    code, text = s.rcpt(rcpt)
                    self.assertEqual(code, 451, text)
                    self.assertIn(b"4.3.0", text)
                    # The other directory's users are still served.
                    self.assertEqual(s.rcpt(other)[0], 250)
            finally:
                server.resume()
        self.slapd.pause()
        self.db.pause()
        try:
            r = subprocess.run([program("postsuper"), "-c", i.conf, "-H",
                                "ALL"], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            i.postino("flush")
            i.wait_log(r"to=<lu1@ldap\.test>, relay=virtual, .*dsn=4\.3\.0, "
                       r"status=deferred \((?:proxy:)?ldap:\S+: table lookup failure\)")
            i.wait_log(r"to=<su1@sql\.test>, relay=virtual, .*dsn=4\.3\.0, "
                       r"status=deferred \((?:proxy:)?mysql:\S+: table lookup failure\)")
            poll_until("the message in deferred/",
                       lambda: len(i.queue_files("deferred")) == 1)
        finally:
            self.slapd.resume()
            self.db.resume()
        self.assertNotIn("status=bounced", i.log())
        # The directories are back: a flush delivers to both (after the
        # mysql: table's retry_interval).
        time.sleep(1.5)
        i.postino("flush")
        for md in (os.path.join(i.vbase, "ldap.test", "lu1"),
                   os.path.join(i.vbase, "sql.test", "su1")):
            self.assertEqual(len(wait_maildir(md, 1)), 1)
        i.wait_queue_empty()
        i.check_sanitizer()

if __name__ == "__main__":
    unittest.main()
