#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_netns - the test DNS peers of tests/e2e/netns.py, inside their own
network namespace: the namespace's /etc/resolv.conf names 127.0.0.1 and
its /etc/hosts knows only localhost; dnsmasq answers its records (and
NXDOMAIN for unknown names under test.), through the system resolver too;
DropDns reads every query, records it and never answers, over UDP and
TCP; a domain dnsmasq forwards to a DropDns is never answered either.
"""
import socket
import struct
import unittest

import netns


class Peers(unittest.TestCase):

    def test_namespace(self):
        self.assertTrue(netns.inside())
        with open("/etc/resolv.conf") as f:
            self.assertIn("nameserver 127.0.0.1\n", f.read())
        with open("/etc/hosts") as f:
            self.assertEqual(f.read().split()[:3], ["127.0.0.1", "localhost",
                                                    socket.gethostname()])
        names = [n for _, n in socket.if_nameindex()]
        self.assertEqual(names, ["lo"])

    def test_dnsmasq_and_drop(self):
        drop = netns.DropDns("127.0.0.2", tc=self)
        netns.Dnsmasq(self, ["--host-record=good.test,192.0.2.1",
                             "--mx-host=good.test,good.test,10"],
                      drop={"stall.test": drop})
        self.assertEqual(netns.query("good.test", "A"), (0, 1))
        self.assertEqual(netns.query("good.test", "MX"), (0, 1))
        self.assertEqual(netns.query("nothing.test", "A")[0], 3)   # NXDOMAIN
        # through the system resolver and the namespace's resolv.conf
        self.assertEqual(socket.gethostbyname("good.test"), "192.0.2.1")

        # forwarded to the peer that never answers
        self.assertIsNone(netns.query("x.stall.test", "MX", timeout=1))
        drop.wait_for("x.stall.test")
        self.assertEqual(drop.asked("stall.test"), drop.asked("x.stall.test"))

    def test_drop_udp_and_tcp(self):
        drop = netns.DropDns("127.0.0.3", tc=self)
        self.assertIsNone(netns.query("a.example", "A", "127.0.0.3",
                                      timeout=0.5))
        drop.wait_for("a.example")
        msg = (struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
               + netns.encode_name("b.example") + struct.pack("!HH", 15, 1))
        with socket.create_connection(("127.0.0.3", 53), timeout=5) as c:
            c.sendall(struct.pack("!H", len(msg)) + msg)
            drop.wait_for("b.example")
            c.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                c.recv(1)
        self.assertIn((("b.example", "MX", "tcp")),
                      [q[1:] for q in drop.queries])


if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()
