#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""maps.mysql - mysql: tables (maps/mysql, MariaDB Connector/C) against
real mariadbd servers started for the test (scripts/lib/mariadb.sh): the
PostfixAdmin example maps of etc/, %-expansions, multi-row and NULL
results, domain filtering, legacy fields, stored procedures, SQL
injection attempts (checked on the query sent, through postmap -x),
failover, a hung server (SIGSTOP), a server killed and restarted under a
long-lived reader, and the same answers as Debian's postfix-mysql.

A missing mariadbd, mariadb client or Postfix postmap FAILS the test.

Run: POSTINO_BUILD=<build dir> python3 test_mysql.py
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

PF_POSTMAP = "/usr/sbin/postmap"
MARIADB_SH = os.path.join(source_dir(), "scripts", "lib", "mariadb.sh")
ETC = os.path.join(source_dir(), "etc")
# Small timeouts so that a hung server costs seconds, not minutes.
FAST = "connect_timeout = 2\nread_timeout = 2\nwrite_timeout = 2\n"

SETUP_SQL = """
CREATE DATABASE postfixadmin CHARACTER SET utf8mb4;
CREATE USER 'postino'@'localhost' IDENTIFIED BY 'secret';
CREATE USER 'postino'@'127.0.0.1' IDENTIFIED BY 'secret';
GRANT SELECT, EXECUTE ON postfixadmin.* TO 'postino'@'localhost';
GRANT SELECT, EXECUTE ON postfixadmin.* TO 'postino'@'127.0.0.1';
USE postfixadmin;
"""


class Server:
    """One throwaway mariadbd (scripts/lib/mariadb.sh)."""

    def __init__(self, directory, sql_file):
        self.dir = directory
        self.port = free_port()
        self.sql_file = sql_file
        self.sock = os.path.join(directory, "mysqld.sock")

    def sh(self, *args, timeout=120):
        r = subprocess.run(["bash", MARIADB_SH] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("mariadb.sh %s failed: %s" %
                                 (" ".join(args), r.stderr.decode()))
        return r.stdout.decode()

    def start(self, load=False):
        args = ["start", self.dir, str(self.port)]
        if load:
            args.append(self.sql_file)
        self.sh(*args)

    def stop(self):
        self.sh("stop", self.dir)

    def kill(self):
        self.sh("kill", self.dir)

    def pid(self):
        return int(self.sh("pid", self.dir).strip())

    def sql(self, text):
        r = subprocess.run(
            ["mariadb", "--no-defaults", "--protocol=socket",
             "--socket=" + self.sock, "-uroot", "-N", "-B", "-e", text],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise AssertionError("sql %r: %s" % (text, r.stderr.decode()))
        return r.stdout.decode()

    def postino_connections(self):
        return int(self.sql("SELECT COUNT(*) FROM information_schema.processlist"
                            " WHERE user = 'postino'").strip())


SERVERS = {}
TMP = None


def setUpModule():
    global TMP
    for b in ("mariadbd", "mariadb-install-db", "mariadb"):
        if shutil.which(b) is None and not os.access("/usr/sbin/" + b, os.X_OK):
            raise AssertionError("%s is missing: install Debian's mariadb-server "
                                 "and mariadb-client" % b)
    if not os.path.exists(os.path.join(build_dir(), "lib", "postino",
                                       "map_mysql.so")):
        raise AssertionError("map_mysql.so is not built (libmariadb-dev missing?)")
    TMP = tempfile.mkdtemp(prefix="postino-mysql-")
    sql = os.path.join(TMP, "load.sql")
    with open(sql, "w") as out:
        out.write(SETUP_SQL)
        for f in (os.path.join(ETC, "postfixadmin-schema.sql"),
                  os.path.join(HERE, "fixtures.sql")):
            with open(f) as inp:
                out.write(inp.read())
    # "a" serves the read-only tests; "b" is stopped, killed and
    # restarted; both hold the same data.
    for name in ("a", "b"):
        s = Server(os.path.join(TMP, name), sql)
        SERVERS[name] = s
        s.start(load=True)


def tearDownModule():
    for s in SERVERS.values():
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass
    if TMP:
        shutil.rmtree(TMP, True)


class MysqlCase(unittest.TestCase):
    counter = 0

    def setUp(self):
        self.postmap = program("postmap")
        self.tmp = tempfile.mkdtemp(prefix="t-", dir=TMP)
        self.cfg = os.path.join(self.tmp, "cfg")
        os.makedirs(self.cfg)
        write(os.path.join(self.cfg, "main.cf"), "compatibility_level = 3.6\n")
        self.a = SERVERS["a"]
        self.b = SERVERS["b"]

    def cf(self, body, hosts=None, name=None):
        """A parameter file for server a (or hosts) with body appended."""
        type(self).counter += 1
        path = os.path.join(self.tmp, name or "t%d.cf" % self.counter)
        write(path, "hosts = %s\nuser = postino\npassword = secret\n"
              "dbname = postfixadmin\n%s" %
              (hosts or "unix:" + self.a.sock, body))
        return "mysql:" + path

    def example(self, name, hosts=None):
        """etc/NAME with the connection lines pointed at server a."""
        with open(os.path.join(ETC, name)) as f:
            text = f.read()
        out = []
        for line in text.splitlines():
            if line.startswith("hosts ="):
                line = "hosts = " + (hosts or "unix:" + self.a.sock)
            out.append(line)
        path = os.path.join(self.tmp, name)
        write(path, "\n".join(out) + "\n")
        return "mysql:" + path

    def pm(self, *args, stdin=b"", timeout=60):
        return run([self.postmap, "-c", self.cfg] + list(args), stdin=stdin,
                   timeout=timeout)

    def q(self, key, table):
        return self.pm("-q", key, table)

    def explain(self, key, table):
        return self.pm("-x", "-q", key, table)

    def assertFound(self, key, table, value):
        r = self.q(key, table)
        self.assertEqual((r.rc, r.out), (0, value + "\n"), r)

    def assertNotFound(self, key, table):
        r = self.q(key, table)
        self.assertEqual((r.rc, r.out), (1, ""), r)
        self.assertNotIn("fatal", r.err, r)

    def assertTempfail(self, key, table, *words):
        r = self.q(key, table)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.out, "", r)
        self.assertIn("fatal", r.err, r)
        for w in words:
            self.assertIn(w, r.err, r)
        return r


class PostfixAdminMaps(MysqlCase):
    """The etc/mysql-*.cf examples on the PostfixAdmin-style fixtures."""

    def test_mailbox_domains(self):
        t = self.example("mysql-virtual-mailbox-domains.cf")
        self.assertFound("example.com", t, "example.com")
        self.assertFound("EXAMPLE.NET", t, "example.net")
        self.assertNotFound("inactive.org", t)     # active = 0
        self.assertNotFound("backup.example", t)   # backup MX: relayed
        self.assertNotFound("example.org", t)      # alias domain
        self.assertNotFound("nowhere.test", t)

    def test_mailbox_maps(self):
        t = self.example("mysql-virtual-mailbox-maps.cf")
        self.assertFound("alice@example.com", t, "example.com/alice/")
        self.assertFound("Alice@Example.COM", t, "example.com/alice/")
        self.assertFound("carol@example.net", t, "example.net/carol/")
        self.assertFound("o'brien@example.com", t, "example.com/obrien/")
        self.assertNotFound("dave@example.com", t)   # inactive mailbox
        self.assertNotFound("nobody@example.com", t)
        self.assertNotFound("@example.com", t)
        self.assertNotFound("alice", t)

    def test_alias_maps(self):
        t = self.example("mysql-virtual-alias-maps.cf")
        self.assertFound("postmaster@example.com", t,
                         "alice@example.com,bob@example.com")
        self.assertFound("info@example.com", t, "bob@example.com")
        self.assertFound("@example.net", t, "carol@example.net")  # catch-all
        self.assertFound("back\\slash@example.com", t, "alice@example.com")
        self.assertFound("utf8-\u00fc@example.com", t, "bob@example.com")
        self.assertNotFound("disabled@example.com", t)
        self.assertNotFound("anyone@example.net", t)  # caller tries @domain

    def test_alias_domain_maps(self):
        t = self.example("mysql-virtual-alias-domain-maps.cf")
        self.assertFound("alice@example.org", t, "alice@example.com")
        self.assertFound("postmaster@example.org", t,
                         "alice@example.com,bob@example.com")
        self.assertNotFound("nobody@example.org", t)
        self.assertNotFound("carol@old.example", t)   # inactive alias domain
        self.assertNotFound("alice@example.com", t)   # not an alias domain
        # No domain part: %d cannot expand, nothing is sent.
        r = self.explain("example.org", t)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("no query", r.out, r)
        self.assertNotIn("query sent", r.out, r)
        # Empty local part: %u suppresses.
        r = self.explain("@example.org", t)
        self.assertEqual(r.rc, 1, r)
        self.assertNotIn("query sent", r.out, r)

    def test_alias_domain_mailbox_maps(self):
        t = self.example("mysql-virtual-alias-domain-mailbox-maps.cf")
        self.assertFound("bob@example.org", t, "example.com/bob/")
        self.assertNotFound("dave@example.org", t)
        self.assertNotFound("bob@example.com", t)

    def test_alias_domain_catchall_maps(self):
        t = self.example("mysql-virtual-alias-domain-catchall-maps.cf")
        self.assertFound("whoever@example.info", t, "carol@example.net")
        self.assertNotFound("whoever@example.org", t)  # example.com has none
        self.assertNotFound("whoever@old.example", t)  # inactive

    def test_stdin_many_keys_one_connection(self):
        t = self.example("mysql-virtual-mailbox-maps.cf")
        keys = ["alice@example.com", "nobody@example.com", "bob@example.com",
                "carol@example.net"] * 50
        r = self.pm("-q", "-", t, stdin="".join(k + "\n" for k in keys))
        self.assertEqual(r.rc, 0, r)
        want = "".join("%s\t%s\n" % (k, {"alice@example.com": "example.com/alice/",
                                          "bob@example.com": "example.com/bob/",
                                          "carol@example.net": "example.net/carol/"}[k])
                       for k in keys if k != "nobody@example.com")
        self.assertEqual(r.out, want)


class Expansion(MysqlCase):
    """%-expansions, result_format, multi-row results, limits, domain."""

    def test_parts(self):
        t = self.cf("query = SELECT '%u|%d|%1|%2|%3|%4|%s|%%|%U|%D|%S'\n")
        self.assertFound("erin@mail.example.co.uk", t,
                         "erin|mail.example.co.uk|uk|co|example|mail|"
                         "erin@mail.example.co.uk|%|erin|mail.example.co.uk|"
                         "erin@mail.example.co.uk")

    def test_missing_parts_suppress(self):
        t = self.cf("query = SELECT '%5'\n")
        r = self.explain("erin@mail.example.co.uk", t)   # only 4 labels
        self.assertEqual(r.rc, 1, r)
        self.assertNotIn("query sent", r.out, r)
        t = self.cf("query = SELECT '%d'\n")
        self.assertNotFound("erin", t)
        self.assertFound("erin@x.test", t, "x.test")
        t = self.cf("query = SELECT '%u'\n")
        self.assertFound("plain", t, "plain")       # no @: %u is the key
        self.assertNotFound("@x.test", t)            # empty local part

    def test_multi_row_multi_column_nulls(self):
        t = self.cf("query = SELECT member, extra FROM lists "
                    "WHERE listname = '%s' ORDER BY pos\n")
        self.assertFound("staff", t, "alice@example.com,bob@example.com,"
                         "b2@example.com,carol@example.net")
        self.assertNotFound("nulls", t)     # only NULL columns
        self.assertNotFound("empty", t)     # only empty strings
        self.assertNotFound("none", t)      # zero rows

    def test_result_format(self):
        t = self.cf("query = SELECT member FROM lists WHERE listname = '%s'"
                    " ORDER BY pos\nresult_format = <%u> at [%d] for %S\n")
        self.assertFound("staff", t, "<alice> at [example.com] for staff,"
                         "<bob> at [example.com] for staff,"
                         "<carol> at [example.net] for staff")
        t = self.cf("query = SELECT 'host.example'\nresult_format = smtp:[%s]\n")
        self.assertFound("k", t, "smtp:[host.example]")
        # %D needs the key's domain: without one, no query at all.
        t = self.cf("query = SELECT 'v'\nresult_format = %s@%D\n")
        self.assertFound("a@b.test", t, "v@b.test")
        self.assertNotFound("ab", t)

    def test_expansion_limit(self):
        body = ("query = SELECT member FROM lists WHERE listname = '%s'"
                " ORDER BY pos\n")
        self.assertFound("staff", self.cf(body + "expansion_limit = 3\n"),
                         "alice@example.com,bob@example.com,carol@example.net")
        self.assertTempfail("staff", self.cf(body + "expansion_limit = 2\n"),
                            "expansion limit")
        t = self.example("mysql-virtual-mailbox-maps.cf")   # limit 1
        self.assertFound("bob@example.com", t, "example.com/bob/")

    def test_domain_filter(self):
        t = self.cf("query = SELECT goto FROM alias WHERE address = '%s'\n"
                    "domain = example.com, example.net\n")
        self.assertFound("info@example.com", t, "bob@example.com")
        for key in ("carol@example.org", "@example.net", "example.com",
                    "info"):
            r = self.explain(key, t)
            self.assertEqual(r.rc, 1, r)
            self.assertNotIn("query sent", r.out, (key, r))
        # A domain table: type:table patterns work too.
        dom = write(os.path.join(self.tmp, "doms"), "example.net ok\n")
        t = self.cf("query = SELECT goto FROM alias WHERE address = '%%s'\n"
                    "domain = texthash:%s\n" % dom)
        self.assertFound("carol@example.net", t, "carol@example.net")
        self.assertNotFound("info@example.com", t)

    def test_legacy_fields(self):
        t = self.cf("select_field = goto\ntable = alias\nwhere_field = address\n"
                    "additional_conditions = AND active = '1'\n")
        self.assertFound("info@example.com", t, "bob@example.com")
        self.assertNotFound("disabled@example.com", t)
        r = self.explain("info@example.com", t)
        self.assertIn("SELECT goto FROM alias WHERE address='info@example.com'"
                      " AND active = '1'", r.out, r)

    def test_stored_procedures(self):
        self.assertFound("info@example.com",
                         self.cf("query = CALL lookup_alias('%s')\n"),
                         "bob@example.com")
        self.assertNotFound("nobody@example.com",
                            self.cf("query = CALL lookup_alias('%s')\n"))
        self.assertTempfail("x", self.cf("query = CALL no_result('%s')\n"),
                            "no result set")
        self.assertNotFound("x", self.cf("query = CALL no_result('%s')\n"
                                         "require_result_set = no\n"))

    def test_sql_error_is_tempfail(self):
        self.assertTempfail("k", self.cf("query = SELECT x FROM no_such_table"
                                         " WHERE y = '%s'\n"),
                            "no_such_table")

    def test_bad_parameter_files(self):
        for body, words in (
                ("query = SELECT '%x'\n", ("query", "%x")),
                ("", ("query",)),
                ("query = SELECT 1\nexpansion_limit = many\n",
                 ("expansion_limit",)),
                ("query = SELECT 1\nconnect_timeout = 0\n",
                 ("connect_timeout",))):
            r = self.q("k", self.cf(body))
            self.assertEqual(r.rc, 1, r)
            for w in words:
                self.assertIn(w, r.err, r)
        p = os.path.join(self.tmp, "nodb.cf")
        write(p, "hosts = unix:/x\nquery = SELECT 1\n")
        r = self.q("k", "mysql:" + p)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("dbname", r.err, r)
        p = os.path.join(self.tmp, "badhost.cf")
        write(p, "hosts = inet:127.0.0.1:99999\ndbname = d\nquery = SELECT 1\n")
        r = self.q("k", "mysql:" + p)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("99999", r.err, r)
        p = os.path.join(self.tmp, "noeq.cf")
        write(p, "dbname = d\nthis line has no equals sign\n")
        r = self.q("k", "mysql:" + p)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("line 2", r.err, r)
        r = self.q("k", "mysql:" + os.path.join(self.tmp, "missing.cf"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("missing.cf", r.err, r)
        r = self.q("k", "mysql:relative-name")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("relative-name", r.err, r)

    def test_huge_key_and_query(self):
        t = self.cf("query = SELECT goto FROM alias WHERE address = '%s'\n")
        r = self.pm("-q", "-", t, stdin=("'" * 4000) + "\n")
        self.assertEqual((r.rc, r.out), (1, ""), r)


class Injection(MysqlCase):
    """Keys that would rewrite an unescaped query: not found, and the
    query sent carries them escaped."""

    ALIAS = "query = SELECT goto FROM alias WHERE address = '%s'\n"

    def check(self, key, escaped, table=None):
        t = table or self.cf(self.ALIAS)
        self.assertNotFound(key, t)
        r = self.explain(key, t)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("address = '%s'\n" % escaped, r.out, r)

    def test_quote(self):
        self.check("x' OR '1'='1", r"x\' or \'1\'=\'1")

    def test_backslash_quote(self):
        self.check("x\\' OR 1=1 -- ", r"x\\\' or 1=1 -- ")

    def test_trailing_backslash(self):
        self.check("x\\", r"x\\")

    def test_double_quote_and_comment(self):
        self.check('x" OR "1"="1', r'x\" or \"1\"=\"1')
        self.check("x'; DROP TABLE alias; -- ", r"x\'; drop table alias; -- ")
        self.assertEqual(self.a.sql("SELECT COUNT(*) FROM postfixadmin.alias")
                         .strip(), "12")

    def test_in_parts(self):
        t = self.cf("query = SELECT goto FROM alias WHERE address = "
                    "CONCAT('%u', '@', '%d')\n")
        self.assertNotFound("x' OR '1'='1@example.com", t)
        r = self.explain("a'b@c'd", t)
        self.assertIn(r"CONCAT('a\'b', '@', 'c\'d')", r.out, r)


class Servers(MysqlCase):
    """Failover, a hung server, a restarted server."""

    PORTQ = ("query = SELECT CONCAT(goto, ' via ', @@port) FROM alias "
             "WHERE address = '%s'\n" + FAST)

    def resume_b(self):
        try:
            os.kill(self.b.pid(), signal.SIGCONT)
        except (AssertionError, ProcessLookupError):
            pass

    def test_first_host_down_socket_then_tcp(self):
        t = self.cf(self.PORTQ, hosts="unix:%s/none.sock inet:127.0.0.1:%d"
                    % (self.tmp, self.a.port))
        self.assertFound("info@example.com", t,
                         "bob@example.com via %d" % self.a.port)
        r = self.explain("info@example.com", t)
        self.assertIn("none.sock: connect:", r.out, r)
        self.assertIn("query sent to inet:127.0.0.1:%d: SELECT" % self.a.port,
                      r.out, r)
        self.assertIn("answered 1 row", r.out, r)

    def test_first_host_down_tcp_then_socket(self):
        t = self.cf(self.PORTQ, hosts="127.0.0.1:%d, unix:%s"
                    % (free_port(), self.a.sock))
        self.assertFound("info@example.com", t,
                         "bob@example.com via %d" % self.a.port)

    def test_every_host_down(self):
        p1, p2 = free_port(), free_port()
        t = self.cf(self.PORTQ, hosts="inet:127.0.0.1:%d inet:127.0.0.1:%d"
                    % (p1, p2))
        self.assertTempfail("info@example.com", t, "127.0.0.1:%d" % p1,
                            "127.0.0.1:%d" % p2)

    def test_bad_password_is_tempfail(self):
        path = os.path.join(self.tmp, "pw.cf")
        write(path, "hosts = unix:%s\nuser = postino\npassword = wrong\n"
              "dbname = postfixadmin\nquery = SELECT 1\n" % self.a.sock)
        self.assertTempfail("k", "mysql:" + path, "Access denied")

    def test_stopped_server_tempfail_then_failover(self):
        t1 = self.cf(self.PORTQ, hosts="inet:127.0.0.1:%d" % self.b.port)
        t2 = self.cf(self.PORTQ, hosts="inet:127.0.0.1:%d unix:%s"
                     % (self.b.port, self.a.sock))
        self.assertFound("info@example.com", t1,
                         "bob@example.com via %d" % self.b.port)
        os.kill(self.b.pid(), signal.SIGSTOP)
        self.addCleanup(self.resume_b)
        # Hung server alone: a temporary error naming it (the run's own
        # timeout catches a hang).
        self.assertTempfail("info@example.com", t1,
                            "inet:127.0.0.1:%d" % self.b.port)
        # Listed first but hung: the second server answers.
        self.assertFound("info@example.com", t2,
                         "bob@example.com via %d" % self.a.port)
        # Hung over the socket too.
        t3 = self.cf(self.PORTQ, hosts="unix:" + self.b.sock)
        self.assertTempfail("info@example.com", t3, self.b.sock)
        os.kill(self.b.pid(), signal.SIGCONT)
        self.assertFound("info@example.com", t1,
                         "bob@example.com via %d" % self.b.port)

    def long_lived_reader(self, restart):
        t = self.cf(self.PORTQ, hosts="inet:127.0.0.1:%d" % self.b.port)
        proc = subprocess.Popen([self.postmap, "-c", self.cfg, "-q", "-", t],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            before = self.b.postino_connections()
            proc.stdin.write(b"info@example.com\n")
            proc.stdin.flush()
            # The reader has connected once its connection shows up.
            for _ in range(600):
                if self.b.postino_connections() > before:
                    break
                time.sleep(0.05)
            else:
                self.fail("the reader never connected")
            restart()
            proc.stdin.write(b"postmaster@example.com\nnobody@x.test\n"
                             b"sales@example.com\n")
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, err)
        via = " via %d" % self.b.port
        self.assertEqual(out.decode(),
                         "info@example.com\tbob@example.com%s\n"
                         "postmaster@example.com\talice@example.com,"
                         "bob@example.com%s\n"
                         "sales@example.com\talice@example.com%s\n"
                         % (via, via, via), err)

    def test_killed_and_restarted_under_reader(self):
        def restart():
            self.b.kill()
            self.b.start()
        self.long_lived_reader(restart)

    def test_stopped_and_restarted_under_reader(self):
        def restart():
            self.b.stop()
            self.b.start()
        self.long_lived_reader(restart)


class PostfixCompat(MysqlCase):
    """Debian's postfix-mysql answers the same queries the same way."""

    @classmethod
    def setUpClass(cls):
        if not os.access(PF_POSTMAP, os.X_OK):
            raise AssertionError("%s is missing: install Debian's postfix and "
                                 "postfix-mysql" % PF_POSTMAP)
        # Postfix's own config directory, never /etc/postfix: a machine
        # with Debian's postfix installed as "No configuration" has no
        # /etc/postfix/main.cf, and postconf without -c fails there.
        tmp = tempfile.mkdtemp(prefix="postino-mysql-pf-")
        try:
            cfg = make_config(os.path.join(tmp, "cfg"))
            r = run(["/usr/sbin/postconf", "-c", cfg, "-m"])
        finally:
            shutil.rmtree(tmp, True)
        if "mysql" not in r.out.split():
            raise AssertionError("Postfix has no mysql: table type; install "
                                 "Debian's postfix-mysql (postconf -m: %r)" % r)

    KEYS = ["alice@example.com", "Alice@Example.COM", "bob@example.org",
            "postmaster@example.com", "postmaster@example.org",
            "whoever@example.info", "@example.net", "example.com",
            "example.org", "inactive.org", "backup.example",
            "dave@example.com", "nobody@example.com", "o'brien@example.com",
            "back\\slash@example.com", "utf8-\u00fc@example.com",
            "x' OR '1'='1", "x\\' OR 1=1 -- ", "x\\", "alice", "@example.org",
            "erin@mail.example.co.uk", "staff", "nulls", "empty", "a@b@c",
            "%s", "a%b@example.com"]

    def same(self, table, keys=None):
        keys = keys or self.KEYS
        for k in keys:
            a = run([PF_POSTMAP, "-c", self.cfg, "-q", k, table])
            b = self.q(k, table)
            self.assertEqual((a.rc, a.out), (b.rc, b.out),
                             "key %r table %s:\npostfix %r\npostino %r"
                             % (k, table, a, b))
        stdin = "".join(k + "\n" for k in keys)
        a = run([PF_POSTMAP, "-c", self.cfg, "-q", "-", table], stdin=stdin)
        b = self.pm("-q", "-", table, stdin=stdin)
        self.assertEqual((a.rc, a.out), (b.rc, b.out),
                         "table %s:\npostfix %r\npostino %r" % (table, a, b))

    def test_examples(self):
        for name in sorted(os.listdir(ETC)):
            if name.startswith("mysql-") and name.endswith(".cf"):
                with self.subTest(name=name):
                    self.same(self.example(name))

    def test_expansions(self):
        for body in ("query = SELECT '%u|%d|%1|%2|%3|%s|%%'\n",
                     "query = SELECT '%4'\n",
                     "query = SELECT member, extra FROM lists WHERE "
                     "listname = '%s' ORDER BY pos\n",
                     "query = SELECT member FROM lists WHERE listname = '%s'"
                     " ORDER BY pos\nresult_format = <%u> at [%d] for %S\n",
                     "query = SELECT 'v'\nresult_format = %s@%D\n",
                     "query = SELECT goto FROM alias WHERE address = '%s'\n"
                     "domain = example.com, example.net\n",
                     "select_field = goto\ntable = alias\nwhere_field = address"
                     "\nadditional_conditions = AND active = '1'\n",
                     "query = CALL lookup_alias('%s')\n",
                     "query = CALL no_result('%s')\nrequire_result_set = no\n"):
            with self.subTest(body=body):
                self.same(self.cf(body, hosts="inet:127.0.0.1:%d" % self.a.port))

    def warnings(self, r):
        return [line for line in r.err.splitlines()
                if line.startswith("postmap: warning: ")]

    def test_empty_key_and_values(self):
        """An empty key is never sent (Postfix: 'empty query string --
        ignored'); an empty value is no element ('empty lookup result
        for: "KEY" -- ignored'): same answers, same warnings."""
        keys = [(["-q", ""], ""), (["-q", "-"], "\n"),
                (["-q", "-"], "\nempty\nstaff\n\nalice@example.com\n"),
                (["-q", "empty"], ""), (["-q", "staff"], "")]
        runs = [(self.cf(q), keys) for q in (
            "query = SELECT goto FROM alias WHERE address = '%s'\n",
            "query = SELECT member, extra FROM lists WHERE listname = '%s'"
            " ORDER BY pos\n",
            "query = SELECT 'constant'\n",
            "query = SELECT '%s'\ndomain = example.com\n")]
        # The server is down: an empty key is still no error.
        runs.append((self.cf("query = SELECT '%s'\n" + FAST,
                             hosts="inet:127.0.0.1:%d" % free_port()),
                     keys[:2]))
        seen = set()
        for t, cases in runs:
            for args, stdin in cases:
                a = run([PF_POSTMAP, "-c", self.cfg] + args + [t],
                        stdin=stdin)
                b = self.pm(*args, t, stdin=stdin)
                with self.subTest(table=t, args=args, stdin=stdin):
                    self.assertEqual((a.rc, a.out, self.warnings(a)),
                                     (b.rc, b.out, self.warnings(b)),
                                     "postfix %r\npostino %r" % (a, b))
                    seen.update(w.split(": ", 3)[-1]
                                for w in self.warnings(a))
        # The comparison covered both warnings.
        self.assertIn("empty query string -- ignored", seen)
        self.assertIn('empty lookup result for: "empty" -- ignored', seen)

    def test_errors_agree(self):
        # Both fail (exit 1, nothing on stdout) on these.
        for body, key in (("query = SELECT member FROM lists WHERE listname"
                           " = '%s'\nexpansion_limit = 2\n", "staff"),
                          ("query = CALL no_result('%s')\n", "x"),
                          ("query = SELECT x FROM nope WHERE y = '%s'\n", "k")):
            t = self.cf(body)
            a = run([PF_POSTMAP, "-c", self.cfg, "-q", key, t])
            b = self.q(key, t)
            self.assertEqual((a.rc, a.out), (b.rc, b.out), (body, a, b))
            self.assertEqual(a.rc, 1, a)


if __name__ == "__main__":
    unittest.main(verbosity=2)
