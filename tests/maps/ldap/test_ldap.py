#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""maps.ldap - ldap: tables (maps/ldap, OpenLDAP client library) driven
through the built postmap against a real slapd started for the test
(scripts/lib/slapd.sh: mdb backend, own temporary directory, loopback
port; fixtures in fixtures.ldif).

Covers: present / absent / aliased users, multi-valued results, result
attributes and result_format, `domain` filtering (list, /file, table),
%s %u %d %1-9 %S %D expansion and suppression, RFC 4515 / RFC 4514
escaping against injection (checked in the explain output), special /
leaf / terminal result attributes and LDAP URLs, expansion and size
limits, binds and protocol versions, bad parameter files, failover, a
down / stopped (SIGSTOP) / killed server as a temporary error, a
long-lived reader that recovers after the server restarts, and the same
answers as Debian's postfix-ldap (Postfix's postmap) on the same server
and parameter files.

A missing slapd, ldap-utils, map_ldap.so, /usr/sbin/postmap or Postfix's
LDAP plugin fails the test; nothing is skipped.

Run: POSTINO_BUILD=<build dir> python3 test_ldap.py
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cmd"))
from postino_testlib import (build_dir, free_port, make_config, program,  # noqa: E402
                             run, source_dir, write)

SLAPD_SH = os.path.join(source_dir(), "scripts", "lib", "slapd.sh")
FIXTURES = os.path.join(HERE, "fixtures.ldif")
BASE = "dc=example,dc=com"
PEOPLE = "ou=people," + BASE
POSTFIX_POSTMAP = "/usr/sbin/postmap"
POSTFIX_LDAP_PLUGIN = "/usr/lib/postfix/postfix-ldap.so"


class Slapd:
    """A throwaway slapd (scripts/lib/slapd.sh) in its own directory."""

    def __init__(self, parent):
        if not os.path.exists("/usr/sbin/slapd"):
            raise AssertionError("slapd is not installed (Debian package slapd)")
        if shutil.which("ldapadd") is None:
            raise AssertionError("ldapadd is not installed (Debian package ldap-utils)")
        self.dir = tempfile.mkdtemp(prefix="slapd-", dir=parent)
        self.port = free_port()
        self.url = "ldap://127.0.0.1:%d" % self.port
        self.sh("start", str(self.port), FIXTURES)

    def sh(self, *args):
        r = subprocess.run(["sh", SLAPD_SH, args[0], self.dir] + list(args[1:]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if r.returncode != 0:
            raise AssertionError("slapd.sh %s failed: %s" %
                                 (args[0], r.stderr.decode(errors="replace")))
        return r.stdout.decode()

    def pid(self):
        with open(os.path.join(self.dir, "slapd.pid")) as f:
            return int(f.read().strip())

    def signal(self, sig):
        os.kill(self.pid(), sig)

    def kill(self):
        """SIGKILL and wait until the port is free."""
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError("slapd %d survived SIGKILL" % pid)

    def restart(self):
        self.sh("restart")

    def stop(self):
        self.sh("stop")


def setUpModule():
    global TMP, SERVER, POSTMAP
    path = os.path.join(build_dir(), "lib", "postino", "map_ldap.so")
    if not os.path.exists(path):
        raise AssertionError("map_ldap.so is not built (no %s)" % path)
    POSTMAP = program("postmap")
    TMP = tempfile.mkdtemp(prefix="postino-ldap-")
    SERVER = Slapd(TMP)


def tearDownModule():
    try:
        SERVER.stop()
    finally:
        shutil.rmtree(TMP, True)


class LdapCase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="case-", dir=TMP)
        self.cfg = make_config(os.path.join(self.tmp, "cfg"))
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            try:
                s.stop()
            except AssertionError:
                pass

    def new_server(self):
        s = Slapd(self.tmp)
        self.servers.append(s)
        return s

    def cf(self, name="t.cf", server=None, **params):
        """Write a parameter file; defaults suit the fixtures."""
        p = {"server_host": (server or SERVER).url, "search_base": BASE,
             "query_filter": "(mailLocalAddress=%s)",
             "result_attribute": "mailRoutingAddress", "timeout": "5"}
        p.update(params)
        text = "".join("%s = %s\n" % (k, v) for k, v in p.items()
                       if v is not None)
        return write(os.path.join(self.tmp, name), text)

    def q(self, key, cf, *flags, timeout=60):
        return run([POSTMAP, "-c", self.cfg] + list(flags) +
                   ["-q", key, "ldap:" + cf], timeout=timeout)

    def assertFound(self, key, cf, value):
        r = self.q(key, cf)
        self.assertEqual((r.rc, r.out), (0, value + "\n"), r)

    def assertNotFound(self, key, cf):
        r = self.q(key, cf)
        self.assertEqual((r.rc, r.out), (1, ""), r)
        self.assertNotIn("query error", r.err)
        return r

    def assertTempfail(self, key, cf, *words, timeout=60):
        r = self.q(key, cf, timeout=timeout)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.out, "", r)
        self.assertIn("fatal: table ldap:%s: query error:" % cf, r.err)
        for w in words:
            self.assertIn(w, r.err)
        return r

    def explain(self, key, cf):
        r = self.q(key, cf, "-x")
        return r


class Lookups(LdapCase):

    def test_present_absent_aliased(self):
        cf = self.cf()
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        self.assertFound("al@example.com", cf, "alice@mail.example.com")
        self.assertFound("alice.liddell@example.com", cf,
                         "alice@mail.example.com")
        self.assertFound("bob@example.org", cf, "bob@mail.example.com")
        self.assertNotFound("nobody@example.com", cf)
        self.assertNotFound("alice", cf)
        # An entry without the result attribute is not found.
        cf2 = self.cf("mail.cf", query_filter="(uid=%s)",
                      result_attribute="mail")
        self.assertNotFound("dave", cf2)
        self.assertFound("bob", cf2, "bob@example.com")

    def test_case_folding(self):
        cf = self.cf()
        self.assertFound("Alice@EXAMPLE.com", cf, "alice@mail.example.com")
        r = self.explain("AL@Example.COM", cf)
        self.assertIn('filter "(mailLocalAddress=al@example.com)"', r.out)

    def test_multi_valued(self):
        cf = self.cf(query_filter="(uid=%s)", result_attribute="mail")
        self.assertFound("carol", cf,
                         "carol@example.org,carol.ann@example.org,c.ann@example.org")
        cf2 = self.cf("two.cf", result_attribute="mailRoutingAddress, mailHost")
        self.assertFound("bob@example.com", cf2,
                         "bob@mail.example.com,mx2.example.com")
        # Several entries.
        cf3 = self.cf("many.cf", query_filter="(|(uid=%s)(uid=bob))",
                      result_attribute="mail")
        self.assertFound("alice", cf3, "alice@example.com,bob@example.com")

    def test_result_format(self):
        cf = self.cf(result_attribute="mailHost", result_format="smtp:[%s]")
        self.assertFound("alice@example.com", cf, "smtp:[mail.example.com]")
        cf = self.cf("u.cf", query_filter="(uid=%s)", result_attribute="mail",
                     result_format="%u")
        self.assertFound("carol", cf, "carol,carol.ann,c.ann")
        cf = self.cf("d.cf", result_format="%d for %U at %D, 100%%")
        self.assertFound("al@example.com", cf,
                         "mail.example.com for al at example.com, 100%")
        # %D needs a domain in the key: the whole lookup is suppressed.
        cf = self.cf("D.cf", query_filter="(uid=%s)", result_attribute="mail",
                     result_format="%s %D")
        self.assertNotFound("bob", cf)
        # result_filter is the old name.
        cf = self.cf("old.cf", result_attribute="mailHost",
                     result_filter="relay:%s")
        self.assertFound("bob@example.com", cf, "relay:mx2.example.com")

    def test_domain_filter(self):
        cf = self.cf(domain="example.com")
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        self.assertNotFound("bob@example.org", cf)
        r = self.explain("bob@example.org", cf)
        self.assertIn("not in the domain list: not searched", r.out)
        self.assertNotIn("search server", r.out)
        for key in ("alice", "@example.com", "example.com"):
            r = self.explain(key, cf)
            self.assertEqual(r.rc, 1, r)
            self.assertNotIn("search server", r.out)
        # A /file and a table, and "!" to exclude.
        lst = write(os.path.join(self.tmp, "domains"),
                    "# comment\nexample.net\n  example.org\n")
        tab = write(os.path.join(self.tmp, "domtab"), "example.com ok\n")
        cf = self.cf("f.cf", domain="%s, texthash:%s" % (lst, tab))
        self.assertFound("bob@example.org", cf, "bob@mail.example.com")
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        self.assertNotFound("eve@sub.example.net", cf)
        cf = self.cf("n.cf", domain="!example.org, example.org, example.com")
        self.assertNotFound("bob@example.org", cf)
        self.assertFound("bob@example.com", cf, "bob@mail.example.com")

    def test_expansions(self):
        cf = self.cf(query_filter="(uid=%u)", result_attribute="mail")
        self.assertFound("alice@elsewhere.test", cf, "alice@example.com")
        self.assertFound("alice", cf, "alice@example.com")
        r = self.explain("@example.com", cf)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("lacks a part", r.out)
        dom = "ou=domains," + BASE
        cf = self.cf("d.cf", search_base=dom, query_filter="(associatedDomain=%d)",
                     result_attribute="associatedDomain")
        self.assertFound("x@example.org", cf, "example.org")
        r = self.explain("example.org", cf)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("lacks a part", r.out)
        cf = self.cf("n.cf", search_base=dom,
                     query_filter="(associatedDomain=%2.%1)",
                     result_attribute="associatedDomain")
        self.assertFound("user@mail.example.com", cf, "example.com")
        self.assertFound("user@a.b.c.example.org", cf, "example.org")
        self.assertNotFound("user@com", cf)
        cf = self.cf("3.cf", search_base=dom,
                     query_filter="(associatedDomain=%3.%2.%1)",
                     result_attribute="associatedDomain")
        self.assertNotFound("user@example.com", cf)
        # %d in the search base; a base that does not exist because of the
        # key is "not found", a fixed one that does not exist is an error.
        cf = self.cf("b.cf", search_base="ou=%d," + dom, scope="base",
                     query_filter="(associatedDomain=%d)",
                     result_attribute="ou")
        self.assertFound("a@example.com", cf, "example.com")
        self.assertNotFound("a@nonexistent.test", cf)
        cf = self.cf("nb.cf", search_base="ou=missing," + BASE)
        self.assertTempfail("alice@example.com", cf, "search base",
                            "not found")

    def test_filter_injection(self):
        cf = self.cf(query_filter="(&(objectClass=inetOrgPerson)(mail=%s))",
                     result_attribute="uid")
        for key in ("*", "*)(uid=*", "*)(|(uid=*", "x\\29", "(", ")", "\\",
                    "alice@example.com)(mail=*", "odd*@example.com"):
            r = self.explain(key, cf)
            self.assertEqual((r.rc, r.out.endswith("answer: not found\n")),
                             (1, True), r)
        r = self.explain("*)(uid=*", cf)
        self.assertIn('filter "(&(objectClass=inetOrgPerson)(mail=\\2A\\29\\28uid=\\2A))"',
                      r.out)
        r = self.explain("x\\29", cf)
        self.assertIn("(mail=x\\5C29)", r.out)
        # The escaped "*" matches a literal star only.
        self.assertFound("odd*name@example.com", cf, "x)(y")

    def test_base_injection(self):
        cf = self.cf(search_base="uid=%u," + PEOPLE, scope="base",
                     query_filter="(|(objectClass=inetOrgPerson)(uid=%u))",
                     result_attribute="mail")
        self.assertFound("alice@x.test", cf, "alice@example.com")
        # "x)(y" is a real uid: RFC 4514 quoting of the base finds it.
        self.assertFound("x)(y@x.test", cf, "odd*name@example.com")
        # A key that tries to rewrite the DN finds nothing.
        for key in ("alice,ou=people,dc=example,dc=com@x.test",
                    "alice+cn=x@x.test", "bob\\,@x.test", "#bob@x.test"):
            self.assertNotFound(key, cf)
        r = self.explain("alice,ou=people@x.test", cf)
        self.assertIn('base "uid=alice\\2Cou\\3Dpeople,ou=people,dc=example,dc=com"',
                      r.out)

    def test_special_leaf_terminal(self):
        cf = self.cf(result_attribute="mail",
                     special_result_attribute="member, memberURL")
        r = self.q("staff@example.com", cf)
        self.assertEqual(r.out, "alice@example.com,bob@example.com,"
                         "carol@example.org,carol.ann@example.org,"
                         "c.ann@example.org,eve@sub.example.net\n", r)
        self.assertIn("uid=ghost,ou=people,dc=example,dc=com", r.err)
        self.assertFound("urlgroup@example.com", cf,
                         "carol@example.org,carol.ann@example.org,c.ann@example.org")
        r = self.explain("staff@example.com", cf)
        self.assertIn("member (depth 2)", r.out)
        # recursion_limit 1: devs' members are too deep.
        cf1 = self.cf("r.cf", result_attribute="mail", recursion_limit="1",
                      special_result_attribute="member")
        self.assertTempfail("staff@example.com", cf1, "recursion limit")
        self.assertFound("devs@example.com", cf1,
                         "carol@example.org,carol.ann@example.org,"
                         "c.ann@example.org,eve@sub.example.net")
        # leaf: the group's own mailLocalAddress is left out.
        cf2 = self.cf("l.cf", result_attribute="",
                      special_result_attribute="member",
                      leaf_result_attribute="mailLocalAddress")
        self.assertFound("devs@example.com", cf2,
                         "carol@example.org,eve@sub.example.net")
        self.assertFound("alice@example.com", cf2,
                         "alice@example.com,al@example.com,alice.liddell@example.com")
        # terminal: an entry with mailRoutingAddress stops there.
        cf3 = self.cf("t.cf", result_attribute="mail",
                      special_result_attribute="member",
                      terminal_result_attribute="mailRoutingAddress")
        self.assertFound("routed@example.com", cf3,
                         "routed-list@lists.example.com")
        self.assertFound("staff@example.com", cf3,
                         "alice@mail.example.com,bob@mail.example.com,"
                         "carol@mail.example.org,eve@mail.example.net")

    def test_limits(self):
        cf = self.cf(query_filter="(uid=%s)", result_attribute="mail",
                     expansion_limit="2")
        self.assertTempfail("carol", cf, "expansion limit")
        self.assertFound("alice", cf, "alice@example.com")
        cf = self.cf("e3.cf", query_filter="(uid=%s)", result_attribute="mail",
                     expansion_limit="3")
        self.assertFound("carol", cf,
                         "carol@example.org,carol.ann@example.org,c.ann@example.org")
        cf = self.cf("s.cf", query_filter="(|(uid=%s)(objectClass=inetOrgPerson))",
                     result_attribute="uid", size_limit="1")
        self.assertTempfail("alice", cf, "Size limit exceeded")
        cf = self.cf("s0.cf", query_filter="(|(uid=%s)(uid=bob))",
                     result_attribute="uid", size_limit="2")
        self.assertFound("alice", cf, "alice,bob")

    def test_bind_and_version(self):
        cf = self.cf(bind_dn="cn=admin," + BASE, bind_pw="secret")
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        cf = self.cf("bad.cf", bind_dn="cn=admin," + BASE, bind_pw="wrong")
        self.assertTempfail("alice@example.com", cf, SERVER.url,
                            "Invalid credentials")
        cf = self.cf("no.cf", bind="no")
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        # slapd refuses LDAPv2 binds: proves `version` reaches the wire.
        cf = self.cf("v2.cf", version="2", bind_dn="cn=admin," + BASE,
                     bind_pw="secret")
        self.assertTempfail("alice@example.com", cf, "Protocol error")
        cf = self.cf("v3.cf", version="3", bind_dn="cn=admin," + BASE,
                     bind_pw="secret")
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        cf = self.cf("scope.cf", scope="one")
        self.assertNotFound("alice@example.com", cf)
        cf = self.cf("scope2.cf", scope="one", search_base=PEOPLE)
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")

    def test_bad_files(self):
        r = self.q("x", os.path.join(self.tmp, "missing.cf"))
        self.assertEqual(r.rc, 1)
        self.assertIn("missing.cf", r.err)
        self.assertIn("No such file or directory", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1, r)
        bad = write(os.path.join(self.tmp, "bad.cf"),
                    "server_host = %s\n# fine\nsearch_base\n" % SERVER.url)
        r = self.q("x", bad)
        self.assertEqual(r.rc, 1)
        self.assertIn("bad.cf, line 3", r.err)
        for params, words in (({"scope": "deep"}, ["scope", "deep"]),
                              ({"query_filter": "(mail=%x)"}, ["%x"]),
                              ({"query_filter": "(mail=%s)%"}, ["query_filter"]),
                              ({"result_format": "%q"}, ["result_format"]),
                              ({"timeout": "ten"}, ["timeout", "ten"]),
                              ({"version": "4"}, ["version"]),
                              ({"bind": "maybe"}, ["bind"]),
                              ({"server_host": "http://x/"}, ["server_host"]),
                              ({"domain": "texthash:/nonexistent/x"},
                               ["domain", "/nonexistent/x"])):
            cf = self.cf("p.cf", **params)
            r = self.q("alice@example.com", cf)
            self.assertEqual((r.rc, r.out), (1, ""), (params, r))
            for w in words:
                self.assertIn(w, r.err, (params, r))
            self.assertNotIn("query error", r.err, (params, r))
        # NUL bytes and huge lines: a message naming the file, no crash.
        nul = write(os.path.join(self.tmp, "nul.cf"),
                    b"server_host = " + SERVER.url.encode() +
                    b"\nsearch_base = dc=example,\0dc=com\n" +
                    b"x" * 200000 + b" = y\n")
        r = self.q("alice@example.com", nul)
        self.assertIn("nul.cf", r.err)
        # Unused parameters are named (typos).
        cf = self.cf("typo.cf", result_atribute="mail")
        r = self.q("alice@example.com", cf)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("unused parameter: result_atribute=mail", r.err)
        self.assertIn("typo.cf, line", r.err)


class Examples(LdapCase):
    """etc/ldap-*.cf against the fixtures (their own directory layout),
    by postino and by Postfix."""

    CASES = {
        "ldap-virtual-mailbox-domains.cf": [
            ("example.com", "example.com"), ("example.org", "example.org"),
            ("example.net", None), ("alice@example.com", None)],
        "ldap-virtual-mailbox-maps.cf": [
            ("alice@example.com", "example.com/alice/"),
            ("carol@example.org", "example.org/carol/"),
            ("eve@sub.example.net", None), ("alice", None),
            ("@example.com", None), ("nobody@example.com", None)],
        "ldap-virtual-alias-maps.cf": [
            ("al@example.com", "alice@mail.example.com"),
            ("staff@example.com", "alice@mail.example.com,bob@mail.example.com,"
             "carol@mail.example.org,eve@mail.example.net"),
            ("routed@example.com", "routed-list@lists.example.com"),
            ("dave@example.com", None), ("staff", None)],
        "ldap-transport-maps.cf": [
            ("alice@example.com", "smtp:[mail.example.com]"),
            ("bob@example.com", "smtp:[mx2.example.com]"),
            ("bob@example.org", None)],
    }

    def local_copy(self, name):
        with open(os.path.join(source_dir(), "etc", name)) as f:
            text = f.read()
        out = []
        for line in text.splitlines():
            key = line.split("=", 1)[0].strip()
            if key == "server_host":
                line = "server_host = %s" % SERVER.url
            elif key == "bind_dn":
                line = "bind_dn = cn=admin," + BASE
            elif key == "bind_pw":
                line = "bind_pw = secret"
            out.append(line)
        return write(os.path.join(self.tmp, name), "\n".join(out) + "\n")

    def test_examples(self):
        compat = PostfixCompat("test_same_answers")
        compat.tmp = self.tmp
        for name, cases in self.CASES.items():
            cf = self.local_copy(name)
            for key, value in cases:
                if value is None:
                    self.assertNotFound(key, cf)
                else:
                    self.assertFound(key, cf, value)
                theirs = compat.postfix(["-q", key, "ldap:" + cf])
                self.assertEqual(theirs.out, value + "\n" if value else "",
                                 (name, key, theirs))


class Servers(LdapCase):

    def test_down_is_temporary(self):
        dead = "ldap://127.0.0.1:%d" % free_port()
        cf = self.cf(server_host=dead)
        r = self.assertTempfail("alice@example.com", cf, dead,
                                "Can't contact LDAP server")
        self.assertEqual(len([l for l in r.err.splitlines() if "fatal" in l]), 1)

    def test_failover(self):
        dead = "127.0.0.1:%d" % free_port()
        cf = self.cf(server_host="%s %s" % (dead, SERVER.url))
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        r = self.explain("alice@example.com", cf)
        self.assertIn("connected to %s" % SERVER.url, r.out)
        self.assertIn("search server %s" % SERVER.url, r.out)
        # host:port form and server_port.
        cf = self.cf("p.cf", server_host="127.0.0.1",
                     server_port=str(SERVER.port))
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")

    def test_stopped_server(self):
        s = self.new_server()
        cf = self.cf(server=s, timeout="1")
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")
        s.signal(signal.SIGSTOP)
        try:
            # Bounded: the subprocess timeout catches a hang.
            self.assertTempfail("alice@example.com", cf, s.url, "Timed out",
                                timeout=30)
            cf2 = self.cf("b.cf", server=s, timeout="1", bind="no")
            self.assertTempfail("alice@example.com", cf2, s.url, "Timed out",
                                timeout=30)
            # Failover from the stopped server to a working one.
            cf3 = self.cf("f.cf", timeout="1",
                          server_host="%s %s" % (s.url, SERVER.url))
            r = self.q("alice@example.com", cf3, timeout=30)
            self.assertEqual((r.rc, r.out), (0, "alice@mail.example.com\n"), r)
            self.assertIn(s.url, r.err)
        finally:
            s.signal(signal.SIGCONT)
        self.assertFound("alice@example.com", cf, "alice@mail.example.com")

    @staticmethod
    def tcp_conns(pid, port):
        """Client-side TCP connections of process pid to 127.0.0.1:port,
        as {inode: state} (01 established, 08 close-wait)."""
        inodes = set()
        fd_dir = "/proc/%d/fd" % pid
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        conns = {}
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                remote, state, inode = fields[2], fields[3], fields[9]
                if inode in inodes and remote == "0100007F:%04X" % port:
                    conns[inode] = state
        return conns

    def wait_established(self, proc, port, exclude=()):
        """Wait (bounded) until proc holds an established connection to
        port other than those in exclude; return its inode."""
        for _ in range(600):
            self.assertIsNone(proc.poll(), "the long-lived postmap exited")
            for inode, state in self.tcp_conns(proc.pid, port).items():
                if state == "01" and inode not in exclude:
                    return inode
            time.sleep(0.05)
        self.fail("the long-lived postmap never connected to port %d" % port)

    def wait_reading(self, proc):
        """Wait (bounded) until proc is blocked reading its stdin: the
        lookups sent so far are answered (a connection that is up says
        only that the search may still be running)."""
        for _ in range(600):
            self.assertIsNone(proc.poll(), "the long-lived postmap exited")
            try:
                with open("/proc/%d/syscall" % proc.pid) as f:
                    call = f.read().split()
            except OSError:
                call = []
            # read(2) is syscall 0 on x86_64, fd 0 its first argument.
            if call[:2] == ["0", "0x0"]:
                return
            time.sleep(0.05)
        self.fail("the long-lived postmap never went back to reading")

    def test_killed_and_restarted(self):
        # postmap -q - buffers its answers (as Postfix's does), so the
        # test follows the reader's connections in /proc and reads the
        # answers at the end.
        s = self.new_server()
        cf = self.cf(server=s)
        proc = subprocess.Popen([POSTMAP, "-c", self.cfg, "-q", "-",
                                 "ldap:" + cf], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"alice@example.com\n")
            proc.stdin.flush()
            first = self.wait_established(proc, s.port)
            self.wait_reading(proc)
            s.kill()
            self.assertTempfail("alice@example.com", cf, s.url)
            s.restart()
            # The reader's kept connection is dead: it reconnects by itself.
            proc.stdin.write(b"bob@example.com\n")
            proc.stdin.flush()
            second = self.wait_established(proc, s.port, exclude=(first,))
            self.wait_reading(proc)
            # Once more after a clean restart (SIGTERM).
            s.restart()
            proc.stdin.write(b"al@example.com\n")
            proc.stdin.flush()
            self.wait_established(proc, s.port, exclude=(first, second))
            out, err = proc.communicate(
                b"nobody@example.com\ncarol@example.org\n", timeout=60)
            self.assertEqual(out.decode(),
                             "alice@example.com\talice@mail.example.com\n"
                             "bob@example.com\tbob@mail.example.com\n"
                             "al@example.com\talice@mail.example.com\n"
                             "carol@example.org\tcarol@mail.example.org\n",
                             err)
            self.assertEqual(proc.returncode, 0, err)
            self.assertNotIn(b"fatal", err)
            # The dead kept connection was noticed and replaced.
            self.assertIn(b"search: Can't contact LDAP server", err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


class PostfixCompat(LdapCase):
    """Debian's postfix-ldap must answer exactly as postino does."""

    KEYS = ["alice@example.com", "Alice@Example.COM", "al@example.com",
            "bob@example.org", "carol@example.org", "nobody@example.com",
            "alice", "bob", "carol", "@example.com", "example.com",
            "staff@example.com", "devs@example.com", "routed@example.com",
            "urlgroup@example.com", "*", "*)(uid=*", "x\\29",
            "odd*name@example.com", "user@mail.example.com", "user@com",
            "x)(y@x.test", "alice,ou=people@x.test", "eve@sub.example.net"]

    def configs(self):
        dom = "ou=domains," + BASE
        tab = write(os.path.join(self.tmp, "domtab"), "example.com ok\n")
        yield self.cf("c1.cf")
        yield self.cf("c2.cf", result_attribute="mail",
                      special_result_attribute="member, memberURL")
        yield self.cf("c3.cf", result_attribute="",
                      special_result_attribute="member",
                      leaf_result_attribute="mailLocalAddress")
        yield self.cf("c4.cf", result_attribute="mail",
                      special_result_attribute="member",
                      terminal_result_attribute="mailRoutingAddress")
        yield self.cf("c5.cf", query_filter="(uid=%u)", result_attribute="mail",
                      result_format="%u at %D")
        yield self.cf("c6.cf", search_base=dom,
                      query_filter="(associatedDomain=%2.%1)",
                      result_attribute="associatedDomain")
        yield self.cf("c7.cf", domain="example.com, texthash:%s" % tab,
                      result_attribute="mailRoutingAddress mailHost")
        yield self.cf("c8.cf", query_filter="(&(objectClass=inetOrgPerson)(mail=%s))",
                      result_attribute="uid cn", result_format="smtp:[%s]")
        yield self.cf("c9.cf", search_base="uid=%u," + PEOPLE, scope="base",
                      query_filter="(|(objectClass=inetOrgPerson)(uid=%u))",
                      result_attribute="mail")
        yield self.cf("c10.cf", query_filter="(uid=%s)", result_attribute="mail",
                      expansion_limit="2")
        yield self.cf("c11.cf", search_base="ou=%d," + dom, scope="base",
                      query_filter="(associatedDomain=%d)",
                      result_attribute="ou")
        yield self.cf("c12.cf", bind_dn="cn=admin," + BASE, bind_pw="secret",
                      result_attribute="mail", query_filter="mail=%s")

    def postfix(self, args, stdin=b""):
        for p in (POSTFIX_POSTMAP, POSTFIX_LDAP_PLUGIN):
            if not os.path.exists(p):
                raise AssertionError("%s is missing: install Debian's postfix "
                                     "and postfix-ldap" % p)
        pcfg = os.path.join(self.tmp, "pfcfg")
        if not os.path.isdir(pcfg):
            make_config(pcfg, "meta_directory = /etc/postfix\n"
                        "shlib_directory = /usr/lib/postfix\n")
        return run([POSTFIX_POSTMAP, "-c", pcfg] + args, stdin=stdin)

    def test_same_answers(self):
        n = 0
        for cf in self.configs():
            for key in self.KEYS:
                mine = self.q(key, cf)
                theirs = self.postfix(["-q", key, "ldap:" + cf])
                self.assertEqual((mine.rc, mine.out), (theirs.rc, theirs.out),
                                 "%s key %r: postino %r postfix %r" %
                                 (cf, key, mine, theirs))
                n += 1
            # Keys on stdin, one process.
            keys = "".join(k + "\n" for k in self.KEYS
                           if k not in ("carol",) or not cf.endswith("c10.cf"))
            mine = run([POSTMAP, "-c", self.cfg, "-q", "-", "ldap:" + cf],
                       stdin=keys)
            theirs = self.postfix(["-q", "-", "ldap:" + cf], stdin=keys)
            self.assertEqual((mine.rc, mine.out), (theirs.rc, theirs.out),
                             "%s: postino %r postfix %r" % (cf, mine, theirs))
        self.assertGreater(n, 200)

    def test_empty_key(self):
        """An empty key is never searched: not found, with Postfix's
        warning 'table "ldap:FILE": empty query string -- ignored'."""
        def warnings(r):
            return [line for line in r.err.splitlines()
                    if line.startswith("postmap: warning: ")]
        n = 0
        for cf in self.configs():
            for args, stdin in ((["-q", ""], ""), (["-q", "-"], "\n"),
                                (["-q", "-"], "\nalice@example.com\n\n")):
                mine = run([POSTMAP, "-c", self.cfg] + args + ["ldap:" + cf],
                           stdin=stdin)
                theirs = self.postfix(args + ["ldap:" + cf], stdin=stdin)
                self.assertEqual((mine.rc, mine.out, warnings(mine)),
                                 (theirs.rc, theirs.out, warnings(theirs)),
                                 "%s %r: postino %r postfix %r" %
                                 (cf, args, mine, theirs))
                n += len(warnings(theirs))
        self.assertGreater(n, 0)
        # Every server down: Postfix connects before it looks at the key,
        # so an empty key is a temporary error (postmap: fatal), not an
        # ignored query.
        dead = self.cf("dead.cf", server_host="ldap://127.0.0.1:%d"
                       % free_port(), timeout="2")
        for args, stdin in ((["-q", ""], ""), (["-q", "-"], "\n")):
            mine = run([POSTMAP, "-c", self.cfg] + args + ["ldap:" + dead],
                       stdin=stdin)
            theirs = self.postfix(args + ["ldap:" + dead], stdin=stdin)
            for r in (mine, theirs):
                self.assertEqual((r.rc, r.out), (1, ""), r)
                self.assertIn("fatal:", r.err, r)
                self.assertNotIn("empty query string", r.err, r)

    def test_same_errors(self):
        dead = "ldap://127.0.0.1:%d" % free_port()
        for cf in (self.cf("e1.cf", server_host=dead),
                   self.cf("e2.cf", bind_dn="cn=admin," + BASE, bind_pw="no"),
                   self.cf("e3.cf", search_base="ou=missing," + BASE),
                   self.cf("e4.cf", query_filter="(uid=%s)",
                           result_attribute="mail", expansion_limit="1")):
            for key in ("alice@example.com", "carol"):
                mine = self.q(key, cf)
                theirs = self.postfix(["-q", key, "ldap:" + cf])
                self.assertEqual((mine.rc, mine.out), (theirs.rc, theirs.out),
                                 "%s key %r: postino %r postfix %r" %
                                 (cf, key, mine, theirs))


if __name__ == "__main__":
    unittest.main()
