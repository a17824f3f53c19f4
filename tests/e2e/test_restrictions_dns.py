#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_restrictions_dns - the DNS-based smtpd restrictions through the
real resolver, against a real DNS server (dnsmasq) on loopback.

The test runs itself again inside new network and mount namespaces
(unshare): there, loopback is the only interface, /etc/resolv.conf is
bind-mounted to a file naming 127.0.0.1, and dnsmasq answers for the
zones "test" and "invalid" (names it does not know there are NXDOMAIN).
Nothing leaves the machine and the host's resolver is untouched.

Checked: reject_unknown_helo_hostname (a known name passes, NXDOMAIN is
unknown_hostname_reject_code, a server failure defers with 450),
reject_rbl_client with the TXT reason, reject_rhsbl_sender,
check_sender_mx_access (MX host names and their addresses),
check_sender_a_access, reject_unknown_sender_domain, permit_mx_backup
(we are a backup MX: relayed; not an MX: refused), and the client name
checks with smtpd_peername_lookup (reject_unknown_reverse_client_hostname,
reject_unknown_client_hostname, check_reverse_client_hostname_access,
reject_rhsbl_client).

With a name server that never answers (DropDns on 127.0.0.2, to which
dnsmasq forwards *.stall.test and the PTR of 127.0.0.6):
reject_unknown_sender_domain for MX-only, A-only and NXDOMAIN domains
(unknown_address_reject_code) and its temporary failure (450 4.1.8),
reject_unknown_client_hostname and _reverse_ on a PTR lookup that times
out (450), and the client's reverse lookup made from smtpd's event loop:
while one client's PTR query waits, another client gets its greeting
and its whole transaction.
"""
import socket
import os
import select
import shutil
import smtplib
import subprocess
import sys
import tempfile
import unittest

from instance import Instance, free_port, message, poll_until
from netns import DropDns
from test_policy import PolicyServer

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
INSIDE = "POSTINO_DNS_NAMESPACE"
SKIP = 77

RECORDS = [
    "--host-record=good.test,192.0.2.1",
    "--host-record=mx.bad.test,198.51.100.5",
    "--mx-host=ext.test,mx.bad.test,10",
    "--host-record=ext.test,192.0.2.2",
    "--host-record=spam.test,192.0.2.9",
    "--host-record=spam.test.dbl.test,127.0.0.2",
    "--host-record=bada.test,192.0.2.66",
    "--host-record=2.0.0.127.zen.test,127.0.0.2",
    "--txt-record=2.0.0.127.zen.test,listed for testing",
    # permit_mx_backup: 127.0.0.1 is our inet_interfaces address.
    "--host-record=primary.test,192.0.2.50",
    "--host-record=mx.example.test,127.0.0.1",
    "--mx-host=backup.test,primary.test,10",
    "--mx-host=backup.test,mx.example.test,20",
    "--mx-host=notmx.test,primary.test,10",
    # Client names: 127.0.0.5 forward-confirmed, 127.0.0.4 a PTR name
    # that does not point back, 127.0.0.3 no PTR at all.
    "--host-record=ok.test,127.0.0.5",
    "--ptr-record=4.0.0.127.in-addr.arpa,fwd.dyn.test",
    "--host-record=fwd.dyn.test,192.0.2.44",
    "--host-record=ok.test.dbl.test,127.0.0.2",
    "--local=/127.in-addr.arpa/",
    # reject_unknown_sender_domain: an MX and no address.
    "--mx-host=mxonly.test,mx.bad.test,10",
    # check_policy_service inet:policy.test:PORT, named in DNS only.
    "--host-record=policy.test,127.0.0.1",
    # The silent server: *.stall.test and the PTR of 127.0.0.6.
    "--server=/stall.test/127.0.0.2#53",
    "--server=/6.0.0.127.in-addr.arpa/127.0.0.2#53",
]


def outside():
    """Run this file again in its own namespaces; return its status."""
    if os.geteuid() != 0:
        print("skip: needs root (unshare, mount, useradd)")
        return SKIP
    if not os.access(DNSMASQ, os.X_OK):
        print("FAIL: dnsmasq is not installed (Debian: dnsmasq-base)")
        return 1
    env = dict(os.environ)
    env[INSIDE] = "1"
    r = subprocess.run(["unshare", "--net", "--mount", sys.executable,
                        os.path.abspath(__file__)] + sys.argv[1:], env=env,
                       timeout=900)
    return r.returncode


def inside_setup(tmp):
    """Loopback up, our resolv.conf, dnsmasq; returns the dnsmasq process."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=30)
    conf = os.path.join(tmp, "resolv.conf")
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:3 attempts:1\n")
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        # 127.0.0.7 has its name from the hosts file only (no PTR).
        f.write("127.0.0.1 localhost\n127.0.0.7 fromhosts.test\n"
                "127.0.0.1 policy-hosts.test\n")
    for path, ours in (("/etc/resolv.conf", conf), ("/etc/hosts", hosts)):
        if not os.path.exists(path):
            open(path, "a").close()
        subprocess.run(["mount", "--bind", ours, path], check=True,
                       timeout=30)
    p = subprocess.Popen([DNSMASQ, "--keep-in-foreground", "--no-resolv",
                          "--no-hosts", "--no-poll", "--bind-interfaces",
                          "--listen-address=127.0.0.1", "--port=53",
                          "--user=root", "--pid-file=" + os.path.join(
                              tmp, "dnsmasq.pid"),
                          "--local=/test/", "--local=/invalid/"] + RECORDS,
                         stderr=subprocess.DEVNULL)

    def answers():
        r = subprocess.run([sys.executable, "-c", "import socket; "
                            "socket.gethostbyname('good.test')"],
                           capture_output=True, timeout=30)
        return r.returncode == 0
    poll_until("dnsmasq answering on 127.0.0.1:53", answers, timeout=30)
    return p


class Dns(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postino-dns-")
        cls.dnsmasq = inside_setup(cls.tmp)
        cls.drop = DropDns("127.0.0.2")

    @classmethod
    def tearDownClass(cls):
        cls.drop.stop()
        cls.dnsmasq.terminate()
        cls.dnsmasq.wait(timeout=30)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def served_meanwhile(self, i, source, rcpt):
        """A whole transaction from SOURCE to RCPT (alice's)."""
        with i.smtp(source=source) as s:
            s.ehlo("good.test")
            s.sendmail("a@good.test", [rcpt], message(
                "a@good.test", rcpt, "served meanwhile").replace(
                    "\n", "\r\n"))

    def rcpt(self, i, source, helo, sender, rcpt):
        with i.smtp(source=source) as s:
            s.ehlo(helo)
            code, text = s.mail(sender)
            self.assertEqual(code, 250, text)
            return s.rcpt(rcpt)

    def test_dns_restrictions(self):
        i = Instance(self, users=["alice"], main={
            "mynetworks": "127.0.0.1/32",
            "unknown_hostname_reject_code": "550",
            "smtpd_client_restrictions": "reject_rbl_client zen.test",
            "smtpd_helo_restrictions": "reject_unknown_helo_hostname",
            "smtpd_sender_restrictions":
            "reject_unknown_sender_domain, reject_rhsbl_sender dbl.test, "
            "check_sender_mx_access inline:{{mx.bad.test=REJECT bad mx}}, "
            "check_sender_a_access inline:{{192.0.2.66=REJECT bad a}}"})
        i.start()
        alice = i.addr("alice")
        ok = (250, b"2.1.5 Ok")
        # Every restriction passes for good names.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@good.test", alice), ok)
        # reject_rbl_client: 127.0.0.2 is listed, with a TXT reason.
        self.assertEqual(self.rcpt(i, "127.0.0.2", "good.test",
                                   "a@good.test", alice),
                         (554, b"5.7.1 Service unavailable; Client host "
                          b"[127.0.0.2] blocked using zen.test; listed for "
                          b"testing"))
        # reject_unknown_helo_hostname: NXDOMAIN, and a server failure
        # (a zone dnsmasq does not serve: REFUSED) that only defers.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "nx.test",
                                   "a@good.test", alice),
                         (550, b"5.7.1 <nx.test>: Helo command rejected: "
                          b"Host not found"))
        self.assertEqual(self.rcpt(i, "127.0.0.3", "host.elsewhere.example",
                                   "a@good.test", alice),
                         (450, b"4.7.1 <host.elsewhere.example>: Helo "
                          b"command rejected: Host not found"))
        # reject_unknown_sender_domain.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@nx.test", alice),
                         (450, b"4.1.8 <a@nx.test>: Sender address "
                          b"rejected: Domain not found"))
        # reject_rhsbl_sender.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@spam.test", alice),
                         (554, b"5.7.1 Service unavailable; Sender address "
                          b"[spam.test] blocked using dbl.test"))
        # check_sender_mx_access, check_sender_a_access.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@ext.test", alice),
                         (554, b"5.7.1 <a@ext.test>: Sender address "
                          b"rejected: bad mx"))
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@bada.test", alice),
                         (554, b"5.7.1 <a@bada.test>: Sender address "
                          b"rejected: bad a"))
        # The mail that passed is delivered.
        with i.smtp(source="127.0.0.3") as s:
            s.ehlo("good.test")
            s.sendmail("a@good.test", [alice], message(
                "a@good.test", alice, "dns ok").replace("\n", "\r\n"))
        self.assertIn(b"dns ok", i.wait_maildir("alice", 1)[0])

    def test_permit_mx_backup(self):
        i = Instance(self, main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_relay_restrictions":
            "permit_mx_backup, reject_unauth_destination"})
        i.start()
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test", "a@good.test",
                                   "u@backup.test"), (250, b"2.1.5 Ok"))
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test", "a@good.test",
                                   "u@notmx.test"),
                         (554, b"5.7.1 <u@notmx.test>: Relay access denied"))

    def test_client_names(self):
        i = Instance(self, users=["alice"], main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_peername_lookup": "yes",
            "unknown_client_reject_code": "550",
            "smtpd_client_restrictions":
            "check_reverse_client_hostname_access "
            "inline:{{dyn.test=REJECT dynamic pool}}, "
            "reject_unknown_reverse_client_hostname, "
            "reject_unknown_client_hostname"})
        i.start()
        alice = i.addr("alice")
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test", "a@good.test",
                                   alice),
                         (550, b"5.7.1 Client host rejected: cannot find "
                          b"your reverse hostname, [127.0.0.3]"))
        self.assertEqual(self.rcpt(i, "127.0.0.4", "good.test", "a@good.test",
                                   alice),
                         (554, b"5.7.1 <unknown[127.0.0.4]>: Client host "
                          b"rejected: dynamic pool"))
        self.assertEqual(self.rcpt(i, "127.0.0.5", "good.test", "a@good.test",
                                   alice), (250, b"2.1.5 Ok"))
        i.wait_log(r"connect from ok\.test\[127\.0\.0\.5\]")
        # A name from /etc/hosts, as the C library's "files" source.
        self.assertEqual(self.rcpt(i, "127.0.0.7", "good.test", "a@good.test",
                                   alice), (250, b"2.1.5 Ok"))
        i.wait_log(r"connect from fromhosts\.test\[127\.0\.0\.7\]")
        # Without the table: the name does not come back.
        i.set_main(smtpd_client_restrictions="reject_unknown_client_hostname")
        i.postino("reload")
        poll_until("smtpd with the new list", lambda: self.rcpt(
            i, "127.0.0.4", "good.test", "a@good.test", alice)[0] == 550)
        self.assertEqual(self.rcpt(i, "127.0.0.4", "good.test", "a@good.test",
                                   alice),
                         (550, b"5.7.25 Client host rejected: cannot find "
                          b"your hostname, [127.0.0.4]"))
        i.set_main(smtpd_client_restrictions="reject_rhsbl_client dbl.test")
        i.postino("reload")
        poll_until("smtpd with the rhsbl list", lambda: self.rcpt(
            i, "127.0.0.5", "good.test", "a@good.test", alice)[0] == 554)
        self.assertEqual(self.rcpt(i, "127.0.0.5", "good.test", "a@good.test",
                                   alice),
                         (554, b"5.7.1 Service unavailable; Client host "
                          b"[ok.test] blocked using dbl.test"))

    def test_unknown_sender_domain(self):
        i = Instance(self, users=["alice"], main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_sender_restrictions": "reject_unknown_sender_domain"})
        i.start()
        alice = i.addr("alice")
        ok = (250, b"2.1.5 Ok")
        # An MX without an address, an address without an MX: both exist.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@mxonly.test", alice), ok)
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@good.test", alice), ok)
        # NXDOMAIN: unknown_address_reject_code (450 by default).
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@nx.test", alice),
                         (450, b"4.1.8 <a@nx.test>: Sender address "
                          b"rejected: Domain not found"))
        # The DNS does not answer: 450 4.1.8 (defer_if_permit), never 5xx.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@x.stall.test", alice),
                         (450, b"4.1.8 <a@x.stall.test>: Sender address "
                          b"rejected: Domain not found"))
        self.assertGreaterEqual(self.drop.asked("x.stall.test"), 1)
        i.set_main(unknown_address_reject_code="550")
        i.postino("reload")
        poll_until("smtpd with unknown_address_reject_code 550", lambda:
                   self.rcpt(i, "127.0.0.3", "good.test", "a@nx.test",
                             alice)[0] == 550)
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@nx.test", alice),
                         (550, b"5.1.8 <a@nx.test>: Sender address "
                          b"rejected: Domain not found"))
        # A temporary failure stays 450 whatever the reject code.
        self.assertEqual(self.rcpt(i, "127.0.0.3", "good.test",
                                   "a@y.stall.test", alice),
                         (450, b"4.1.8 <a@y.stall.test>: Sender address "
                          b"rejected: Domain not found"))

    def test_client_name_tempfail(self):
        i = Instance(self, users=["alice"], main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_peername_lookup": "yes",
            "unknown_client_reject_code": "550",
            "smtpd_client_restrictions": "reject_unknown_client_hostname"})
        i.start()
        alice = i.addr("alice")
        # The PTR query of 127.0.0.6 is never answered: 450, never 5xx.
        self.assertEqual(self.rcpt(i, "127.0.0.6", "good.test", "a@good.test",
                                   alice),
                         (450, b"4.7.25 Client host rejected: cannot find "
                          b"your hostname, [127.0.0.6]"))
        self.assertGreaterEqual(self.drop.asked("6.0.0.127.in-addr.arpa"), 1)
        i.wait_log(r"connect from unknown\[127\.0\.0\.6\]")
        self.assertEqual(self.rcpt(i, "127.0.0.5", "good.test", "a@good.test",
                                   alice), (250, b"2.1.5 Ok"))
        i.set_main(smtpd_client_restrictions=
                   "reject_unknown_reverse_client_hostname")
        i.postino("reload")
        # 127.0.0.3 has no PTR: 550 under both checks; the text says
        # which one answered (the old smtpd drains meanwhile).
        poll_until("smtpd with the reverse check", lambda: b"reverse"
                   in self.rcpt(i, "127.0.0.3", "good.test", "a@good.test",
                                alice)[1])
        self.assertEqual(self.rcpt(i, "127.0.0.6", "good.test", "a@good.test",
                                   alice),
                         (450, b"4.7.1 Client host rejected: cannot find "
                          b"your reverse hostname, [127.0.0.6]"))

    def test_reverse_lookup_on_the_loop(self):
        """One client waits for its PTR answer; another is served
        meanwhile by the same smtpd (one process: maxproc 1)."""
        i = Instance(self, users=["alice"], main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_peername_lookup": "yes"})
        i.start()
        alice = i.addr("alice")
        before = self.drop.asked("6.0.0.127.in-addr.arpa")
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(slow.close)
        slow.bind(("127.0.0.6", 0))
        slow.connect(("127.0.0.1", i.port))
        self.drop.wait_for("6.0.0.127.in-addr.arpa", count=before + 1)
        # Its lookup is pending: the other client gets its greeting and a
        # whole transaction from the loop meanwhile.
        self.served_meanwhile(i, "127.0.0.5", alice)
        slow.setblocking(False)
        try:
            early = slow.recv(512)
        except BlockingIOError:
            early = None
        self.assertIsNone(early, "the waiting client was greeted before "
                          "its PTR lookup ended")
        self.assertIn(b"served meanwhile", i.wait_maildir("alice", 1)[0])
        # Then its own greeting, once the lookup has timed out.
        slow.settimeout(60)
        self.assertTrue(slow.recv(512).startswith(b"220 "))
        i.wait_log(r"connect from unknown\[127\.0\.0\.6\]")

    def test_policy_server_by_name(self):
        """check_policy_service inet:NAME:PORT: NAME comes from
        /etc/hosts or from DNS through the resolver, in the session's
        task (never getaddrinfo() on smtpd's loop); a name whose DNS
        never answers defers that RCPT with 451 4.3.5, while another
        client is served meanwhile by the same smtpd."""
        p = PolicyServer()
        self.addCleanup(p.close)
        port = p.server.server_address[1]
        i = Instance(self, users=["alice"], main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_recipient_restrictions":
                "permit_mynetworks, "
                "check_policy_service inet:policy-hosts.test:%d, "
                "check_policy_service inet:policy.test:%d, "
                "check_policy_service { inet:policy.stall.test:%d, "
                "retry_delay=0s }, reject_unauth_destination"
                % (port, port, port)})
        i.start()
        alice = i.addr("alice")
        # Both named servers are reached (one connection per name); the
        # third name never resolves: 451 after the DNS timeout.
        p.actions[alice] = "DUNNO"
        before = self.drop.asked("policy.stall.test")
        with i.raw(source="127.0.0.5") as a:
            self.assertTrue(a.reply().startswith("220"))
            a.cmd("EHLO good.test")
            a.cmd("MAIL FROM:<a@good.test>")
            a.send("RCPT TO:<%s>\r\n" % alice)
            self.drop.wait_for("policy.stall.test", count=before + 1)
            # Its lookup is pending: another client is served meanwhile.
            self.served_meanwhile(i, "127.0.0.1", alice)
            self.assertIn(b"served meanwhile", i.wait_maildir("alice", 1)[0])
            r, _, _ = select.select([a.sock], [], [], 0)
            self.assertEqual(r, [], "the RCPT was answered before the "
                             "policy server's name was resolved")
            self.assertEqual(
                a.reply(), "451 4.3.5 <%s>: Recipient address rejected: "
                "Server configuration problem" % alice)
        conns = {r["_conn"] for r in p.rcpt_requests()}
        self.assertEqual(len(conns), 2, p.rcpt_requests())
        i.wait_log(r"warning: problem talking to server "
                   r"inet:policy\.stall\.test:%d: " % port)

    def postfix(self, restrictions):
        """Debian's Postfix in this namespace, on a port of its own, with
        these smtpd restrictions; returns the port."""
        d = tempfile.mkdtemp(prefix="postfix-", dir=self.tmp)
        # Postfix's daemons (user postfix) walk down to their spool.
        os.chmod(self.tmp, 0o755)
        os.chmod(d, 0o755)
        conf, spool, data = (os.path.join(d, x) for x in
                             ("etc", "spool", "data"))
        for x in (conf, spool, data):
            os.makedirs(x)
        shutil.chown(data, "postfix")
        port = free_port()
        main = {
            "compatibility_level": "3.6", "queue_directory": spool,
            "data_directory": data, "maillog_file": os.path.join(d, "log"),
            "maillog_file_prefixes": d,
            "myhostname": "mail.example.test", "mydestination": "localhost",
            "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.1/32", "alias_maps": "",
            "local_recipient_maps": "", "relay_domains": "",
        }
        main.update(restrictions)
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.writelines("%s = %s\n" % kv for kv in main.items())
        out = []
        with open("/usr/share/postfix/master.cf.dist") as f:
            for line in f.read().splitlines():
                fields = line.split()
                if not fields or line[0] in "# \t":
                    continue
                if fields[1] == "inet":
                    if fields[0] != "smtp":
                        continue
                    fields[0] = "127.0.0.1:%d" % port
                if len(fields) > 4:
                    fields[4] = "n"
                out.append(" ".join(fields))
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write("\n".join(out) + "\n")
        r = subprocess.run(["postfix", "-c", conf, "start"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = ""
            if os.path.exists(main["maillog_file"]):
                with open(main["maillog_file"], errors="replace") as f:
                    log = f.read()[-3000:]
            self.fail("postfix start: %s%s%s" % (r.stdout, r.stderr, log))
        self.addCleanup(subprocess.run, ["postfix", "-c", conf, "abort"],
                        capture_output=True, timeout=120)

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 2).close()
                return True
            except OSError:
                return False
        poll_until("Postfix listening on %d" % port, up, timeout=60)
        return port

    def test_same_as_postfix(self):
        """The same questions to Postfix and postino, in this namespace,
        against the same name servers: the same replies."""
        restrictions = {
            "unknown_client_reject_code": "550",
            "smtpd_client_restrictions":
            "reject_rbl_client zen.test, reject_unknown_client_hostname",
            "smtpd_sender_restrictions": "reject_unknown_sender_domain",
        }
        i = Instance(self, users=["alice"], main=dict(
            restrictions, mynetworks="127.0.0.1/32",
            smtpd_peername_lookup="yes"))
        i.start()
        pf = self.postfix(restrictions)
        cases = [
            ("127.0.0.5", "a@good.test"),       # name ok, domain ok
            ("127.0.0.5", "a@mxonly.test"),     # an MX, no address
            ("127.0.0.5", "a@nx.test"),         # NXDOMAIN
            ("127.0.0.5", "a@z.stall.test"),    # the DNS never answers
            ("127.0.0.2", "a@good.test"),       # listed, with a TXT
            ("127.0.0.3", "a@good.test"),       # no PTR
            ("127.0.0.4", "a@good.test"),       # PTR not confirmed
            ("127.0.0.6", "a@good.test"),       # PTR lookup times out
            ("127.0.0.7", "a@good.test"),       # named in /etc/hosts
        ]

        def ask(port, source, sender, rcpt):
            with smtplib.SMTP(timeout=60, source_address=(source, 0)) as s:
                s.connect("127.0.0.1", port)
                s.ehlo("good.test")
                code, text = s.mail(sender)
                if code != 250:
                    return code, text
                return s.rcpt(rcpt)
        for source, sender in cases:
            ours = ask(i.port, source, sender, i.addr("alice"))
            theirs = ask(pf, source, sender, "postmaster@localhost")
            if ours[0] == 250 and theirs[0] == 250:
                continue
            self.assertEqual(ours, theirs, "client %s, sender %s"
                             % (source, sender))


if __name__ == "__main__":
    if os.environ.get(INSIDE) != "1":
        sys.exit(outside())
    unittest.main()
