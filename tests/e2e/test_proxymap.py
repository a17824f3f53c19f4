#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_proxymap - the lookup service (core/proxymap) with a real slapd.

smtpd's ldap: tables (virtual_mailbox_maps, virtual_alias_maps and a
check_recipient_access table) are opened through proxymap, which owns the
directory connections and the result cache: the cache counters of every
table appear in proxymap's log, none in smtpd's.  A proxy: table that
proxy_read_maps does not list is refused (451 4.3.0 at RCPT, "request for
unapproved table" in the log), never treated as "not found".  proxymap
killed with SIGKILL is restarted by the master and the daemons' next
lookups reconnect.  A missing slapd fails the test.
"""
import os
import re
import signal
import threading
import time
import unittest

from directories import Slapd, people_ldif
from instance import Instance, poll_until, IS_ROOT

LDIF = people_ldif(3) + """dn: uid=alias1,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alias1
cn: alias
sn: alias
mail: alias1@ldap.test
description: lu2@ldap.test

dn: uid=blocked,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: blocked
cn: blocked
sn: blocked
mail: blocked@ldap.test
title: REJECT blocked by the directory

"""


def ldap_cf(path, port, attr, fmt=None):
    with open(path, "w") as f:
        f.write("server_host = ldap://127.0.0.1:%d\n"
                "search_base = ou=people,dc=example,dc=com\n"
                "query_filter = (mail=%%s)\nresult_attribute = %s\n"
                "%sdomain = ldap.test\nversion = 3\nbind = no\ntimeout = 5\n"
                % (port, attr, "result_format = %s\n" % fmt if fmt else ""))


def setup(tc, **main):
    slapd = Slapd(tc, LDIF)
    i = Instance(tc)
    mbox = os.path.join(i.conf, "ldap-mailbox.cf")
    alias = os.path.join(i.conf, "ldap-alias.cf")
    access = os.path.join(i.conf, "ldap-access.cf")
    ldap_cf(mbox, slapd.port, "uid", "%D/%s/")
    ldap_cf(alias, slapd.port, "description")
    ldap_cf(access, slapd.port, "title")
    conf = {
        "virtual_mailbox_domains": "ldap.test",
        "virtual_mailbox_maps": "ldap:" + mbox,
        "virtual_alias_maps": "ldap:" + alias,
        "virtual_mailbox_base": os.path.join(i.dir, "vmail"),
        "smtpd_recipient_restrictions":
            "check_recipient_access ldap:%s, permit_mynetworks, "
            "reject_unauth_destination" % access,
        "postino_lookup_cache_ttl": "300s",
    }
    conf.update(main)
    i.set_main(**conf)
    i.start()
    return i, slapd, (mbox, alias, access)


def rcpt(i, addr):
    with i.smtp() as s:
        s.ehlo("client.test")
        code, text = s.mail("sender@ext.test")
        if code != 250:
            raise AssertionError("MAIL: %d %s" % (code, text))
        code, text = s.rcpt(addr)
        s.quit()
    return code, text.decode(errors="replace")


def dispatchers(i):
    """The proxymap processes the master started (not their workers)."""
    master = i.master_pid()
    found = []
    for pid in i.processes("proxymap"):
        try:
            with open("/proc/%d/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == master:
            found.append(pid)
    return found


def dispatcher(i):
    """The proxymap process the master started (not one of its workers)."""
    found = dispatchers(i)
    return found[0] if found else None


@unittest.skipUnless(IS_ROOT, "needs root")
class ProxyMap(unittest.TestCase):

    def test_ldap_tables_through_the_service(self):
        i, slapd, (mbox, alias, access) = setup(self)
        for _ in range(2):          # the second round comes from the cache
            self.assertEqual(rcpt(i, "lu1@ldap.test")[0], 250)
            self.assertEqual(rcpt(i, "alias1@ldap.test")[0], 250)
            code, text = rcpt(i, "nobody@ldap.test")
            self.assertEqual(code, 550, text)
            code, text = rcpt(i, "blocked@ldap.test")
            self.assertEqual(code, 554, text)
            self.assertIn("blocked by the directory", text)
        # The cache answers while the directory is stopped.
        slapd.pause()
        try:
            self.assertEqual(rcpt(i, "lu1@ldap.test")[0], 250)
        finally:
            slapd.resume()
        i.stop()
        log = i.log()
        for cf in (mbox, alias, access):
            self.assertRegex(log, r"proxymap\[\d+\]: statistics: table ldap:%s: "
                             r"cache hits=[1-9]\d* misses=[1-9]\d* "
                             r"entries=[1-9]\d*" % re.escape(cf))
        self.assertNotRegex(log, r"smtpd\[\d+\]: statistics: table")
        i.check_sanitizer()

    def unapproved(self, prefix, blocking_ok=False):
        """An instance whose virtual_mailbox_maps is PREFIX + an ldap:
        table that proxy_read_maps does not list."""
        slapd = Slapd(self, LDIF)
        i = Instance(self)
        i.blocking_ok = blocking_ok
        mbox = os.path.join(i.conf, "ldap-mailbox.cf")
        ldap_cf(mbox, slapd.port, "uid", "%D/%s/")
        i.set_main(virtual_mailbox_domains="ldap.test",
                   virtual_mailbox_maps=prefix + "ldap:" + mbox,
                   virtual_mailbox_base=os.path.join(i.dir, "vmail"),
                   proxy_read_maps="$virtual_alias_maps")
        i.start()
        return i, mbox

    def test_unapproved_table_is_refused(self):
        i, mbox = self.unapproved("proxy:")
        code, text = rcpt(i, "lu1@ldap.test")
        self.assertEqual(code, 451, text)
        self.assertIn("4.3.0", text)
        i.wait_log(r"proxymap\[\d+\]: warning: request for unapproved "
                   r"table: \"ldap:%s\"" % re.escape(mbox))
        i.check_sanitizer()

    def test_unapproved_routed_table_is_read_in_process_and_reported(self):
        # ldap:TABLE (no proxy:) that proxy_read_maps does not list is
        # opened by smtpd itself, as the warning at open says; each of
        # its lookups then holds smtpd's loop, which smtpd logs (the line
        # every other end-to-end test fails on: Instance.blocking_waits).
        i, mbox = self.unapproved("", blocking_ok=True)
        code, text = rcpt(i, "lu1@ldap.test")
        self.assertEqual(code, 250, text)
        i.wait_log(r"smtpd\[\d+\]: warning: ldap:%s: not in proxy_read_maps: "
                   r"opened in this process" % re.escape(mbox))
        i.wait_log(r"smtpd\[\d+\]: warning: blocking wait inside the event "
                   r"loop: ldap:%s \(1 so far\)" % re.escape(mbox))
        i.check_sanitizer()

    def test_tables_that_never_block_are_read_in_process(self):
        # proxy:texthash: (like the default proxy:unix:passwd.byname) is
        # read by smtpd itself when proxy_read_maps approves it: the
        # service would only add a round trip.  Proven with the service
        # stopped: the in-process table answers, the unapproved one (which
        # only the service may refuse) does not.
        i = Instance(self)
        ok = os.path.join(i.conf, "vmailbox")
        other = os.path.join(i.conf, "vother")
        with open(ok, "w") as f:
            f.write("hu1@hash.test hash.test/hu1/\n")
        with open(other, "w") as f:
            f.write("ou1@other.test other.test/ou1/\n")
        i.set_main(virtual_mailbox_domains="hash.test other.test",
                   virtual_mailbox_maps="proxy:texthash:%s proxy:texthash:%s"
                   % (ok, other),
                   virtual_mailbox_base=os.path.join(i.dir, "vmail"),
                   proxy_read_maps="proxy:texthash:" + ok,
                   ipc_timeout="3s")
        i.start()
        code, text = rcpt(i, "ou1@other.test")
        self.assertEqual(code, 451, text)
        pid = dispatcher(i)
        self.assertIsNotNone(pid)
        os.kill(pid, signal.SIGSTOP)
        try:
            code, text = rcpt(i, "hu1@hash.test")
            self.assertEqual(code, 250, text)
        finally:
            os.kill(pid, signal.SIGCONT)
        i.wait_log(r"proxymap\[\d+\]: warning: request for unapproved "
                   r"table: \"texthash:%s\"" % re.escape(other))
        self.assertNotIn("unapproved table: \"texthash:%s\"" % ok, i.log())
        i.check_sanitizer()

    def test_service_killed_clients_reconnect(self):
        i, slapd, _ = setup(self)
        self.assertEqual(rcpt(i, "lu1@ldap.test")[0], 250)
        old = dispatcher(i)
        self.assertIsNotNone(old)
        os.kill(old, signal.SIGKILL)
        poll_until("proxymap %d gone" % old,
                   lambda: old not in i.processes("proxymap"))
        # smtpd's idle connection is broken: the next lookup reconnects
        # (the master starts a new proxymap) and is answered.
        for addr, want in (("lu2@ldap.test", 250), ("nobody@ldap.test", 550),
                           ("lu1@ldap.test", 250)):
            code, text = rcpt(i, addr)
            self.assertEqual(code, want, text)
        new = dispatcher(i)
        self.assertIsNotNone(new)
        self.assertNotEqual(new, old)
        self.assertNotIn("status=bounced", i.log())
        i.check_sanitizer()

    def test_reload_drains_lookups_in_flight(self):
        # A lookup waiting on the directory when the mail system is
        # reloaded is answered by the old proxymap, which exits only
        # then; new lookups go to the new one.
        i, slapd, _ = setup(self, postino_lookup_cache_ttl="0")
        self.assertEqual(rcpt(i, "lu1@ldap.test")[0], 250)
        old = dispatcher(i)
        result = {}
        slapd.pause()
        try:
            t = threading.Thread(target=lambda: result.update(
                r=rcpt(i, "lu3@ldap.test")))
            t.start()
            time.sleep(0.5)     # the RCPT's lookup is at the stopped slapd
            i.postino("reload")
            poll_until("a new proxymap", lambda: any(
                p != old for p in dispatchers(i)))
            self.assertIn(old, dispatchers(i),
                          "the old proxymap left with a lookup in flight")
        finally:
            slapd.resume()
        t.join(60)
        self.assertEqual(result.get("r", (None,))[0], 250, result)
        poll_until("the old proxymap gone",
                   lambda: old not in dispatchers(i))
        self.assertEqual(rcpt(i, "lu2@ldap.test")[0], 250)
        self.assertNotIn("status=bounced", i.log())
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()
