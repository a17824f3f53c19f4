#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_verify - address verification (reject_unverified_recipient, the
verify service, probes) with a real SMTP peer and real local users.

postino relays rem.test (relay_domains) to a real SMTP server on
127.0.0.1 (smtp_peers.SmtpPeer, transport_maps smtp:[127.0.0.1]:PORT)
that answers RCPT TO for nouser@rem.test with 550 5.1.1, and delivers
example.test to local users (local_recipient_maps empty: only the probe
knows who exists).  smtpd_recipient_restrictions ends with
reject_unverified_recipient, unverified_recipient_reject_code = 550 and
address_verify_poll_count = 1 (smtpd does not wait for the probe, so
the first answer is always "in progress"); the cache is the default
btree:$data_directory/verify_cache, in a data_directory that "postino
start" makes for mail_owner.

- the configuration passes "postino check";
- the first RCPT to an unknown remote user: 450 4.1.1 "unverified
  address: Address verification in progress"; once the probe came back,
  550 5.1.1 "undeliverable address: host ... said: 550 ..." quoting the
  remote server; a known remote user: 450 first, then accepted;
- the peer saw the probes' RCPT TO but never a DATA, and got no message;
- a local unknown user: 450, then 550 "unknown user"; a local user: 450,
  then accepted; their mailbox stays empty (the probe delivers nothing),
  the queue is empty;
- real mail to the verified addresses is delivered as usual (the peer
  gets DATA, the mailbox one message);
- probes are logged status=deliverable / status=undeliverable;
- with reject_unverified_sender: an unknown remote sender gets 450 4.1.7
  then 550 5.1.7, known senders pass after their probe, and our own probe
  sender (double-bounce@$myorigin) is never verified;
- local aliases to a user, a command and a remote address are
  deliverable (nothing delivered, run or forwarded); a virtual mailbox is
  deliverable (its directory is not even created), an unknown virtual
  address is 550 "unknown user";
- smtpd waits for a probe (poll count/delay) inside the session's task:
  another session of the same smtpd process is answered meanwhile;
- "postino check" warns when master.cf has no verify service, and smtpd
  then answers 450 4.1.1 "address verification problem";
- the cache is a file: after the verify process is killed and restarted
  by the master, the first RCPT to nouser@rem.test is 550 at once (no new
  probe is sent for it).

Every wait is a bounded poll for an event.
"""
import os
import pwd
import re
import signal
import smtplib
import threading
import unittest

from instance import Instance, free_port, message, poll_until
from postino_testlib import alive
from smtp_peers import SmtpPeer

REJECT = "550 5.1.1 <nouser@rem.test>: Recipient address rejected: no such user"


def rcpt(inst, addr, sender="sender@client.test"):
    """One RCPT TO in a new session: (code, text)."""
    s = smtplib.SMTP("127.0.0.1", inst.port, timeout=60)
    try:
        s.ehlo("client.test")
        code, _ = s.mail(sender)
        if code != 250:
            raise AssertionError("MAIL FROM: %d" % code)
        code, text = s.rcpt(addr)
        return code, text.decode(errors="replace")
    finally:
        s.quit()


class Verify(unittest.TestCase):

    def setUp(self):
        self.peer_port = free_port()
        self.peer = SmtpPeer(address="127.0.0.1", port=self.peer_port,
                             name="rem.test", tc=self,
                             rcpt_reply={"nouser@rem.test": REJECT})

    def make(self, master_verify=True, users=("alice",), aliases="",
             master_extra="", **main):
        conf = {
            "relay_domains": "rem.test",
            "transport_maps": "inline:{rem.test=smtp:[127.0.0.1]:%d}"
                              % self.peer_port,
            "local_recipient_maps": "",
            "smtpd_relay_restrictions": "permit_mynetworks, "
                                        "reject_unauth_destination",
            "smtpd_recipient_restrictions": "reject_unauth_destination, "
                                            "reject_unverified_recipient",
            "unverified_recipient_reject_code": "550",
            "address_verify_poll_count": "1",
            # address_verify_map: the default, btree:$data_directory/...
            "data_directory": "{dir}/data",
            "queue_run_delay": "1s",
        }
        conf.update(main)
        self.inst = Instance(self, users=users, main=conf, aliases=aliases,
                             master_extra=("verify unix - - n - 1 verify\n"
                                           if master_verify else "")
                             + "smtp unix - - n - - smtp\n" + master_extra)
        return self.inst

    def until(self, addr, code, sender="sender@client.test"):
        """Poll RCPT TO addr until it gets code; return the text."""
        last = []

        def done():
            last[:] = rcpt(self.inst, addr, sender)
            return last[0] == code
        try:
            poll_until("RCPT TO <%s> answered %d" % (addr, code), done)
        except AssertionError:
            raise AssertionError("RCPT TO <%s>: last answer %r; log:\n%s"
                                 % (addr, last, self.inst.log()[-6000:]))
        return last[1]

    def test_recipient(self):
        i = self.make()
        i.start()
        alice = i.addr("alice")
        # postino made data_directory for mail_owner (verify's cache).
        st = os.stat(os.path.join(i.dir, "data"))
        self.assertEqual(st.st_uid, pwd.getpwnam("nobody").pw_uid)

        # Remote unknown user: in progress, then undeliverable.
        code, text = rcpt(i, "nouser@rem.test")
        self.assertEqual(code, 450, text)
        self.assertIn("4.1.1 <nouser@rem.test>: Recipient address rejected: "
                      "unverified address: Address verification in progress",
                      text)
        text = self.until("nouser@rem.test", 550)
        self.assertIn("5.1.1 <nouser@rem.test>: Recipient address rejected: "
                      "undeliverable address: host 127.0.0.1[127.0.0.1] "
                      "said: " + REJECT, text)

        # Remote known user.
        code, text = rcpt(i, "gooduser@rem.test")
        self.assertEqual(code, 450, text)
        self.until("gooduser@rem.test", 250)

        # Local unknown and known users.
        code, text = rcpt(i, "nosuch@example.test")
        self.assertEqual(code, 450, text)
        text = self.until("nosuch@example.test", 550)
        self.assertIn("undeliverable address: unknown user: \"nosuch\"",
                      text)
        code, text = rcpt(i, alice)
        self.assertEqual(code, 450, text)
        self.until(alice, 250)

        # The probes: RCPT TO at the peer, never DATA, no message; nothing
        # in the mailbox; nothing left in the queue.
        i.wait_queue_empty()
        rcpts = " ".join(self.peer.commands("RCPT")).lower()
        self.assertIn("<nouser@rem.test>", rcpts)
        self.assertIn("<gooduser@rem.test>", rcpts)
        self.assertEqual(self.peer.commands("DATA"), [])
        self.assertEqual(self.peer.messages(), [])
        self.assertEqual(i.maildir_files("alice"), [])
        self.assertEqual(len(re.findall(r"probe sent for <nouser@rem.test>",
                                        i.log())), 1, i.log())
        # Probes are logged as Postfix logs them, never as "sent".
        log = i.log()
        self.assertRegex(log, r"to=<nouser@rem\.test>, relay=127\.0\.0\.1"
                         r"\[127\.0\.0\.1\]:\d+, .*dsn=5\.1\.1, "
                         r"status=undeliverable \(host ")
        self.assertRegex(log, r"to=<gooduser@rem\.test>, relay=.*"
                         r"status=deliverable \(host ")
        self.assertRegex(log, r"to=<%s>, relay=local, .*status=deliverable "
                         r"\(delivers to maildir\)" % re.escape(alice))
        self.assertNotRegex(log, r"to=<(nouser|gooduser)@rem\.test>.*status=sent")

        # Real mail to the verified addresses is delivered.
        i.send("sender@client.test", [alice, "gooduser@rem.test"],
               message("sender@client.test", alice, "real"))
        i.wait_maildir("alice", 1)
        self.peer.wait_messages(1)
        self.assertEqual(len(self.peer.commands("DATA")), 1)

        # The cache survives a restart of the verify service.
        old = set(i.processes("verify"))
        self.assertEqual(len(old), 1, i.processes())
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        poll_until("the old verify process to exit",
                   lambda: not any(alive(p) for p in old))
        code, text = rcpt(i, "nouser@rem.test")
        self.assertEqual(code, 550, text)
        self.assertIn("undeliverable address", text)
        self.assertNotEqual(set(i.processes("verify")) - old, set())
        self.assertTrue(os.path.exists(os.path.join(i.dir, "data",
                                                    "verify_cache.db")))
        self.assertEqual(len(re.findall(r"probe sent for <nouser@rem.test>",
                                        i.log())), 1, i.log())

    def test_sender(self):
        i = self.make(smtpd_recipient_restrictions="reject_unauth_destination",
                      smtpd_sender_restrictions="reject_unverified_sender",
                      unverified_sender_reject_code="550")
        i.start()
        alice = i.addr("alice")
        code, text = rcpt(i, alice, "nouser@rem.test")
        self.assertEqual(code, 450, text)
        self.assertIn("4.1.7 <nouser@rem.test>: Sender address rejected: "
                      "unverified address: Address verification in progress",
                      text)
        text = self.until(alice, 550, "nouser@rem.test")
        self.assertIn("5.1.7 <nouser@rem.test>: Sender address rejected: "
                      "undeliverable address: host 127.0.0.1[127.0.0.1] "
                      "said: " + REJECT, text)
        # Our own probe sender is not verified (no probe for it).
        self.assertEqual(rcpt(i, alice, "double-bounce@example.test")[0], 250)
        self.until(alice, 250, "gooduser@rem.test")
        self.until(alice, 250, alice)
        i.wait_queue_empty()
        self.assertEqual(self.peer.commands("DATA"), [])
        self.assertEqual(i.maildir_files("alice"), [])
        self.assertNotIn("probe sent for <double-bounce", i.log())

    def test_aliases_and_virtual(self):
        """local: aliases to a user, a command, a remote address; virtual:
        a mailbox and an unknown address.  Nothing is delivered, run or
        forwarded."""
        mark = "/tmp/postino-verify-%d" % os.getpid()
        self.addCleanup(lambda: os.path.exists(mark) and os.unlink(mark))
        i = self.make(users=("alice", "vmail"),
                      aliases="al: {alice}\npipe: \"|touch %s\"\n"
                              "fwd: gooduser@rem.test\n" % mark,
                      master_extra="virtual unix - n n - - virtual\n")
        base = os.path.join(i.dir, "vmail")
        os.mkdir(base, 0o755)
        pw = pwd.getpwnam(i.user("vmail"))
        os.chown(base, pw.pw_uid, pw.pw_gid)
        i.set_main(virtual_mailbox_domains="virt.test",
                   virtual_mailbox_base=base,
                   virtual_mailbox_maps="inline:{bob@virt.test=virt.test/bob/}",
                   virtual_uid_maps="static:%d" % pw.pw_uid,
                   virtual_gid_maps="static:%d" % pw.pw_gid)
        i.start()
        for addr in ("al@example.test", "pipe@example.test",
                     "fwd@example.test", "bob@virt.test"):
            self.assertEqual(rcpt(i, addr)[0], 450, addr)
            self.until(addr, 250)
        self.assertEqual(rcpt(i, "nobody@virt.test")[0], 450)
        text = self.until("nobody@virt.test", 550)
        self.assertIn("undeliverable address: unknown user: "
                      "\"nobody@virt.test\"", text)
        i.wait_queue_empty()
        log = i.log()
        self.assertRegex(log, r"status=deliverable \(delivers to command: "
                         r"touch ")
        self.assertRegex(log, r"status=deliverable \(forwards to "
                         r"gooduser@rem\.test\)")
        self.assertRegex(log, r"to=<bob@virt\.test>, relay=virtual, .*"
                         r"status=deliverable \(delivers to maildir\)")
        self.assertFalse(os.path.exists(mark), "the command ran")
        self.assertEqual(os.listdir(base), [])
        self.assertEqual(i.maildir_files("alice"), [])
        self.assertEqual(self.peer.commands("RCPT"), [])

    def test_no_stall(self):
        """A session that waits for a probe (address_verify_poll_count 3,
        poll_delay 10s; the probe's server never greets) does not stall
        the other sessions of the same smtpd process."""
        held = SmtpPeer(address="127.0.0.1", port=free_port(), tc=self,
                        name="slow.test", hold_greeting=True)
        i = self.make(
            relay_domains="rem.test, slow.test",
            transport_maps="inline:{rem.test=smtp:[127.0.0.1]:%d, "
                           "slow.test=smtp:[127.0.0.1]:%d}"
                           % (self.peer_port, held.port),
            smtpd_recipient_restrictions="reject_unauth_destination, "
            "check_recipient_access inline:{fast@rem.test=OK}, "
            "reject_unverified_recipient",
            address_verify_poll_count="3", address_verify_poll_delay="10s")
        i.start()
        got = []
        slow = threading.Thread(
            target=lambda: got.append(rcpt(i, "someone@slow.test")))
        slow.start()
        self.addCleanup(slow.join)
        # The slow session is in its wait once the probe is out.
        i.wait_log(r"probe sent for <someone@slow\.test>")
        self.assertEqual(rcpt(i, "fast@rem.test")[0], 250)
        self.assertTrue(slow.is_alive(), "the waiting session ended first")
        slow.join()
        code, text = got[0]
        self.assertEqual(code, 450, text)
        self.assertIn("unverified address: Address verification in progress",
                      text)

    def test_check_without_service(self):
        """postino check warns when master.cf has no verify service; smtpd
        then defers."""
        i = self.make(master_verify=False)
        rc, out = i.postino("check")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"smtpd_recipient_restrictions: address "
                         r"verification needs the verify service, and "
                         r"master\.cf has none")
        # It runs, and fails closed: unverified_recipient_tempfail_action
        # (defer_if_permit) defers; nothing is accepted unverified.
        i.start()
        code, text = rcpt(i, "gooduser@rem.test")
        self.assertEqual(code, 450, text)
        self.assertIn("4.1.1 <gooduser@rem.test>: Recipient address "
                      "rejected: address verification problem", text)
        self.assertIn("private/verify: connect", i.log())


if __name__ == "__main__":
    unittest.main()
