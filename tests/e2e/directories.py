# SPDX-License-Identifier: MIT
"""directories - throwaway directory servers for the end-to-end tests:
a slapd (scripts/lib/slapd.sh) and a mariadbd (scripts/lib/mariadb.sh),
each in its own temporary directory on a loopback port, stopped in the
test's cleanup (by pid, through the scripts).  A missing server binary
fails the test; nothing is skipped.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from instance import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
SLAPD_SH = os.path.join(SRC, "scripts", "lib", "slapd.sh")
MARIADB_SH = os.path.join(SRC, "scripts", "lib", "mariadb.sh")
PFA_SCHEMA = os.path.join(SRC, "etc", "postfixadmin-schema.sql")

MARIADB_SETUP = """
CREATE DATABASE postfixadmin CHARACTER SET utf8mb4;
CREATE USER 'postino'@'localhost' IDENTIFIED BY 'secret';
CREATE USER 'postino'@'127.0.0.1' IDENTIFIED BY 'secret';
GRANT SELECT ON postfixadmin.* TO 'postino'@'localhost';
GRANT SELECT ON postfixadmin.* TO 'postino'@'127.0.0.1';
USE postfixadmin;
"""


class _Server:
    """What Slapd and Mariadb share: a script (self.script, run by
    self.shell) that takes an action and the server's directory, and
    pause/resume/stop by pid."""

    def sh(self, *args):
        r = subprocess.run([self.shell, self.script, args[0], self.dir]
                           + list(args[1:]),
                           capture_output=True, timeout=self.timeout)
        if r.returncode != 0:
            raise AssertionError("%s %s: %s"
                                 % (os.path.basename(self.script), args[0],
                                    r.stderr))
        return r.stdout.decode()

    def pause(self):
        """SIGSTOP the server and wait until the kernel shows it stopped
        (state T), so that the test's next request meets a paused server."""
        pid = self.pid()
        os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                break
            if state in ("T", "t"):
                return
            time.sleep(0.01)
        raise AssertionError("server pid %d did not stop" % pid)

    def resume(self):
        os.kill(self.pid(), signal.SIGCONT)

    def stop(self):
        try:
            self.resume()
        except (OSError, ValueError):
            pass
        self.sh("stop")


class Slapd(_Server):
    """slapd serving dc=example,dc=com, loaded with ldif (text)."""
    shell, script, timeout = "sh", SLAPD_SH, 120

    def __init__(self, tc, ldif):
        if not os.access("/usr/sbin/slapd", os.X_OK):
            raise AssertionError("slapd is not installed (Debian: slapd)")
        self.dir = tempfile.mkdtemp(prefix="postino-slapd-")
        tc.addCleanup(shutil.rmtree, self.dir, True)
        path = os.path.join(self.dir, "fixtures.ldif")
        with open(path, "w") as f:
            f.write(ldif)
        self.port = free_port()
        self.sh("start", str(self.port), path)
        tc.addCleanup(self.stop)

    def pid(self):
        with open(os.path.join(self.dir, "slapd.pid")) as f:
            return int(f.read())


class Mariadb(_Server):
    """mariadbd with the PostfixAdmin schema, loaded with sql (text);
    the user postino/secret may read it.  Socket: self.sock."""
    shell, script, timeout = "bash", MARIADB_SH, 180

    def __init__(self, tc, sql):
        for b in ("mariadbd", "mariadb-install-db", "mariadb"):
            if shutil.which(b) is None and not os.access("/usr/sbin/" + b,
                                                         os.X_OK):
                raise AssertionError("%s is missing (Debian: mariadb-server, "
                                     "mariadb-client)" % b)
        self.dir = tempfile.mkdtemp(prefix="postino-mariadb-")
        # mariadbd runs as root here; the socket's directory must be
        # reachable by the unprivileged daemons too.
        os.chmod(self.dir, 0o755)
        tc.addCleanup(shutil.rmtree, self.dir, True)
        self.port = free_port()
        self.sock = os.path.join(self.dir, "mysqld.sock")
        path = os.path.join(self.dir, "load.sql")
        with open(path, "w") as out:
            out.write(MARIADB_SETUP)
            with open(PFA_SCHEMA) as inp:
                out.write(inp.read())
            out.write(sql)
        self.sh("start", str(self.port), path)
        tc.addCleanup(self.stop)

    def pid(self):
        return int(self.sh("pid").strip())


# ---- fixtures the lookup-service tests share ---------------------------

def people_ldif(count, extra=lambda n: ""):
    """ou=people,dc=example,dc=com with users lu1..luCOUNT, mail
    luN@ldap.test; extra(n) adds attribute lines to user n."""
    return ("dn: ou=people,dc=example,dc=com\n"
            "objectClass: organizationalUnit\nou: people\n\n"
            + "".join("dn: uid=lu%d,ou=people,dc=example,dc=com\n"
                      "objectClass: inetOrgPerson\nuid: lu%d\n"
                      "cn: LDAP user %d\nsn: user\nmail: lu%d@ldap.test\n"
                      "%s\n" % (n, n, n, n, extra(n))
                      for n in range(1, count + 1)))


def write_ldap_users_cf(path, port, timeout):
    """An ldap: table: luN@ldap.test -> ldap.test/luN/ (a Maildir)."""
    with open(path, "w") as f:
        f.write("server_host = ldap://127.0.0.1:%d\n"
                "search_base = ou=people,dc=example,dc=com\n"
                "query_filter = (mail=%%s)\nresult_attribute = uid\n"
                "result_format = %%D/%%s/\ndomain = ldap.test\n"
                "version = 3\nbind = no\ntimeout = %d\n" % (port, timeout))
    return path


def write_hash_mailboxes(tc, path, count):
    """A hash: virtual_mailbox_maps: huN@hash.test -> hash.test/huN/ for
    N < count, built with postmap."""
    from postino_testlib import program
    with open(path, "w") as f:
        for n in range(count):
            f.write("hu%d@hash.test hash.test/hu%d/\n" % (n, n))
    r = subprocess.run([program("postmap"), "hash:" + path],
                       capture_output=True, timeout=60)
    tc.assertEqual(r.returncode, 0, r.stderr)
    return path
