#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""milter_peer - a real milter (pymilter: Python over Sendmail's
libmilter) whose answers the tests choose, for e2e.milter.

    milter_peer.py CONFIG.json SOCKET LOG

CONFIG is read again for each connection from the MTA.  SOCKET is libmilter's: inet:PORT@127.0.0.1 or unix:/path.  CONFIG says,
per stage (connect, helo, mail, rcpt, data, header, eoh, body, eom,
unknown), what
to answer: "continue" (the default), "accept", "reject", "tempfail",
"discard", "skip", or "reply:CODE X.Y.Z text" (a custom reply through
smfi_setreply); "rcpt" may instead map a recipient to an answer
({"<bad@x>": "reject"}), "sleep" maps a stage to seconds to wait before
answering, and "eom_actions" lists the changes made at end of message:
["addheader", name, value], ["insheader", index, name, value],
["chgheader", name, index, value], ["chgfrom", addr], ["addrcpt", addr],
["addrcpt_par", addr, params], ["delrcpt", addr], ["replacebody", text],
["quarantine", reason].  "noreply" (a list of callbacks) marks them
@noreply.

Every event is appended to LOG as one JSON line: the stage, its
arguments, and the macros the MTA sent for it (of the names in
MACROS)."""

import json
import sys
import time

import Milter

MACROS = ["j", "_", "{daemon_name}", "{daemon_addr}", "{daemon_port}", "v",
          "{client_addr}", "{client_name}", "{client_port}",
          "{client_ptr}", "i", "{auth_type}", "{auth_authen}",
          "{auth_author}", "{mail_addr}", "{mail_host}", "{mail_mailer}",
          "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}", "{tls_version}",
          "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}"]

CONFIG = {}
CONFIG_PATH = None
LOG = None


def log(ev, **kw):
    kw["ev"] = ev
    with open(LOG, "a") as f:
        f.write(json.dumps(kw) + "\n")


class Peer(Milter.Base):

    def __init__(self):
        # The tests may change CONFIG between sessions: read it again
        # for each connection from the MTA.
        global CONFIG
        with open(CONFIG_PATH) as f:
            CONFIG = json.load(f)

    def macros(self):
        out = {}
        for m in MACROS:
            v = self.getsymval(m)
            if v is not None:
                out[m] = v
        return out

    def answer(self, stage, key=None):
        if stage in CONFIG.get("sleep", {}):
            time.sleep(CONFIG["sleep"][stage])
        a = CONFIG.get(stage, "continue")
        if isinstance(a, dict):
            a = a.get(key, "continue")
        if a.startswith("reply:"):
            code, xcode, text = a[6:].split(" ", 2)
            self.setreply(code, xcode, text)
            return Milter.REJECT if code[0] == "5" else Milter.TEMPFAIL
        return {"continue": Milter.CONTINUE, "accept": Milter.ACCEPT,
                "reject": Milter.REJECT, "tempfail": Milter.TEMPFAIL,
                "discard": Milter.DISCARD, "skip": Milter.SKIP}[a]

    def connect(self, hostname, family, hostaddr):
        log("connect", host=hostname, addr=list(hostaddr)
            if isinstance(hostaddr, tuple) else hostaddr,
            macros=self.macros())
        return self.answer("connect")

    def hello(self, name):
        log("helo", name=name, macros=self.macros())
        return self.answer("helo")

    def envfrom(self, f, *params):
        log("mail", addr=f, params=list(params), macros=self.macros())
        return self.answer("mail")

    def envrcpt(self, to, *params):
        log("rcpt", addr=to, params=list(params), macros=self.macros())
        return self.answer("rcpt", to)

    def data(self):
        log("data", macros=self.macros())
        return self.answer("data")

    def header(self, name, value):
        log("header", name=name, value=value, macros=self.macros())
        return self.answer("header")

    def eoh(self):
        log("eoh", macros=self.macros())
        return self.answer("eoh")

    def body(self, chunk):
        log("body", chunk=chunk.decode("latin-1"), macros=self.macros())
        return self.answer("body")

    def eom(self):
        log("eom", macros=self.macros())
        for a in CONFIG.get("eom_actions", []):
            op = a[0]
            if op == "addheader":
                self.addheader(a[1], a[2])
            elif op == "insheader":
                self.addheader(a[2], a[3], a[1])
            elif op == "chgheader":
                self.chgheader(a[1], a[2], a[3])
            elif op == "chgfrom":
                self.chgfrom(a[1])
            elif op == "addrcpt":
                self.addrcpt(a[1])
            elif op == "addrcpt_par":
                self.addrcpt(a[1], a[2])
            elif op == "delrcpt":
                self.delrcpt(a[1])
            elif op == "replacebody":
                self.replacebody(a[1].encode())
            elif op == "quarantine":
                self.quarantine(a[1])
        return self.answer("eom")

    def unknown(self, cmd):
        log("unknown", cmd=cmd, macros=self.macros())
        return self.answer("unknown")

    def abort(self):
        log("abort")
        return Milter.CONTINUE

    def close(self):
        log("close")
        return Milter.CONTINUE


def main():
    global CONFIG, CONFIG_PATH, LOG
    CONFIG_PATH = sys.argv[1]
    with open(CONFIG_PATH) as f:
        CONFIG = json.load(f)
    LOG = sys.argv[3]
    for name in CONFIG.get("noreply", []):
        setattr(Peer, name, Milter.noreply(getattr(Peer, name)))
    Milter.factory = Peer
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY
                     | Milter.ADDRCPT | Milter.ADDRCPT_PAR | Milter.DELRCPT
                     | Milter.QUARANTINE | Milter.CHGFROM)
    Milter.runmilter("postino-test", sys.argv[2], 600)


if __name__ == "__main__":
    main()
