# SPDX-License-Identifier: MIT
"""smtp_peers - receiving SMTP and LMTP servers for the tests of postino's
smtp and lmtp delivery agents: our own asyncio server (SmtpPeer), which
plays the roles a real Internet MX plays, and two real receivers:
Postfix's smtp-sink (SmtpSink) and a whole Postfix (PostfixMx: its smtpd
and virtual delivery into Maildirs).

    mx = SmtpPeer("127.0.0.11", 25, tc=self)                 # accepts all
    grey = SmtpPeer("127.0.0.12", greylist=True, tc=self)     # 450 first try
    rej = SmtpPeer("127.0.0.13", rcpt_reply={"nouser@a.test":
                                             "550 5.1.1 no such user"})
    busy = SmtpPeer("127.0.0.14", greeting="421 4.3.2 busy")
    small = SmtpPeer("127.0.0.15", size=10000)                # SIZE 10000
    slow = SmtpPeer("127.0.0.16", slow=1.0)                   # a byte/second
    old = SmtpPeer("127.0.0.17", pipelining=False, eightbitmime=False)
    lmtp = SmtpPeer("127.0.0.18", 24, lmtp=True,
                    lmtp_reply={"bob@x.test": "552 5.2.2 over quota"})
    sock = SmtpPeer(unix="/tmp/x/lmtp.sock", lmtp=True)

    mute = SmtpPeer("127.0.0.19", silent=True)                # never greets
    mx.wait_messages(1); mx.envelopes[0].rcpts; mx.envelopes[0].data

Each peer runs its own asyncio event loop on a thread of the test process;
stop() (registered as tc's cleanup when tc is given) closes the listener
and every open session and joins the thread.

What a peer records, under its lock:
  * envelopes: one Envelope per transaction that was accepted (kept
    just before the 2xx reply to the end of data is written): helo, mail_from,
    mail_params, rcpts (the accepted recipients; in LMTP, those whose
    reply after DATA was 2xx), data (bytes as received, dot-unstuffed,
    CRLF line ends), peer address, session number.
  * transcript: (session, "C"/"S", line) of every command and reply.
  * sessions: how many connections were accepted.
  * violations: protocol errors of the client the server noticed
    (pipelined commands when PIPELINING was not announced, 8-bit data
    when 8BITMIME was not, BODY=8BITMIME without 8BITMIME, a command out
    of order, a line over 1000 bytes).

hold=True makes the peer stop at each end of data, before its reply:
held() says a message is waiting there, release() lets it answer.  A
session that ends while held (the client was killed) records nothing.
"""
import asyncio
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import socket
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cmd"))
from postino_testlib import poll_until  # noqa: E402
from netns import stop_process  # noqa: E402

WAIT = 60
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
ADDR = re.compile(r"^(?:FROM|TO):\s*<([^>]*)>\s*(.*)$", re.I)


class Envelope:
    def __init__(self, session, peer, helo):
        self.session = session
        self.peer = peer
        self.helo = helo
        self.mail_from = None
        self.mail_params = ""
        self.rcpts = []
        self.rcpt_params = {}
        self.data = b""
        self.reply = ""

    def header(self, name):
        """The first header NAME of the data (unfolded), or None."""
        head = self.data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        m = re.search(r"^%s:[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)"
                      % re.escape(name),
                      head, re.I | re.M)
        return re.sub(r"\r\n[ \t]", " ", m.group(1)) \
            if m else None

    def __repr__(self):
        return "<Envelope #%d from=<%s> to=%s %d bytes>" % (
            self.session, self.mail_from, self.rcpts, len(self.data))


def _table(spec):
    """rcpt_reply / lmtp_reply: a dict address -> reply, or a callable."""
    if spec is None:
        return lambda addr: None
    if callable(spec):
        return spec
    low = {k.lower(): v for k, v in spec.items()}
    return lambda addr: low.get(addr.lower())


class SmtpPeer:
    """An SMTP (or LMTP) server on ADDRESS:PORT or on the unix socket UNIX.

    name: the host name in the greeting and EHLO reply.
    greeting: the whole greeting line; a non-2xx greeting is sent and
      the connection closed (after a QUIT, if the client sends one).
    pipelining, eightbitmime, dsn, smtputf8, size: what EHLO announces
      (size=N announces SIZE N and refuses larger messages with 552).
    greylist: the first RCPT of each (sender, recipient) gets 450 4.7.1.
    rcpt_reply: address -> reply to its RCPT (dict or callable; None or
      a missing key: 250).
    data_reply: the reply to the end of data (default 250 ... queued).
    lmtp: speaks LMTP (LHLO only, one reply per recipient after DATA);
      lmtp_reply: address -> that recipient's reply after DATA.
    slow: seconds to wait before each byte of every reply.
    hold: stop before each reply to the end of data (see release()).
    silent: accept the connection and never say anything (the client's
      greeting timeout ends it).
    hold_greeting: like hold, before the greeting.
    """

    def __init__(self, address="127.0.0.10", port=25, unix=None, tc=None,
                 name="peer.test", greeting=None, pipelining=True,
                 eightbitmime=True, dsn=True, smtputf8=False, size=None,
                 greylist=False, rcpt_reply=None, data_reply=None,
                 lmtp=False, lmtp_reply=None, slow=0.0, hold=False,
                 silent=False, hold_greeting=False):
        self.address, self.port, self.unix = address, port, unix
        self.name = name
        self.greeting = greeting or "220 %s ESMTP test peer" % name
        self.pipelining, self.eightbitmime = pipelining, eightbitmime
        self.dsn, self.smtputf8, self.size = dsn, smtputf8, size
        self.greylist = greylist
        self.rcpt_reply = _table(rcpt_reply)
        self.data_reply = data_reply
        self.lmtp = lmtp
        self.lmtp_reply = _table(lmtp_reply)
        self.slow = slow
        self.hold = hold
        self.silent = silent
        self.hold_greeting = hold_greeting
        self.lock = threading.Lock()
        self.envelopes = []
        self.transcript = []
        self.violations = []
        self.sessions = 0
        self.open_sessions = 0
        self.greylisted = set()
        self.queued = 0
        self._held = set()
        self._open = set()
        self._release = 0
        self._tasks = set()
        self._started = threading.Event()
        self._error = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._started.wait(30)
        if self._error:
            raise AssertionError("peer on %s: %s" % (self.where(),
                                                     self._error))
        if tc is not None:
            tc.addCleanup(self.stop)

    def where(self):
        return self.unix or "%s:%d" % (self.address, self.port)

    # -- the event loop thread ------------------------------------------

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            if self.unix:
                coro = asyncio.start_unix_server(self._session, self.unix,
                                                 limit=1 << 20)
            else:
                coro = asyncio.start_server(self._session, self.address,
                                            self.port, reuse_address=True,
                                            limit=1 << 20)
            self.server = self.loop.run_until_complete(coro)
            if self.unix:
                os.chmod(self.unix, 0o666)
        except Exception as e:      # noqa: BLE001 - reported to the test
            self._error = "%s: %s" % (type(e).__name__, e)
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        # stop(): the listener and the sessions are gone; finish.
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def _shutdown(self):
        self.server.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        await self.server.wait_closed()
        self.loop.stop()

    def stop(self):
        if not self.thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        self.thread.join(timeout=30)
        if self.unix:
            try:
                os.unlink(self.unix)
            except OSError:
                pass

    # -- a session --------------------------------------------------------

    def _log(self, sid, who, line):
        with self.lock:
            self.transcript.append((sid, who, line))

    def _violation(self, sid, what):
        with self.lock:
            self.violations.append((sid, what))

    async def _reply(self, sid, w, text):
        """text: one reply, lines separated by \\n (multi-line replies get
        their hyphens here)."""
        lines = text.split("\n")
        out = "".join("%s%s%s\r\n" % (ln[:3], "-" if k < len(lines) - 1
                                      else " ", ln[4:])
                      for k, ln in enumerate(lines)).encode()
        for ln in lines:
            self._log(sid, "S", ln)
        if self.slow:
            for k in range(len(out)):
                await asyncio.sleep(self.slow)
                w.write(out[k:k + 1])
                await w.drain()
        else:
            w.write(out)
            await w.drain()

    async def _session(self, r, w):
        task = asyncio.current_task()
        self._tasks.add(task)
        with self.lock:
            self.sessions += 1
            self.open_sessions += 1
            sid = self.sessions
            self._open.add(sid)
        try:
            await self._converse(sid, r, w)
        except (ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            with self.lock:
                self.open_sessions -= 1
                self._open.discard(sid)
            self._tasks.discard(task)
            try:
                w.close()
            except Exception:       # noqa: BLE001
                pass

    def _ehlo_reply(self):
        lines = ["250 %s" % self.name]
        if self.pipelining:
            lines.append("250 PIPELINING")
        if self.size is not None:
            lines.append("250 SIZE %d" % self.size)
        if self.eightbitmime:
            lines.append("250 8BITMIME")
        if self.dsn:
            lines.append("250 DSN")
        if self.smtputf8:
            lines.append("250 SMTPUTF8")
        lines.append("250 ENHANCEDSTATUSCODES")
        return "\n".join(lines)

    async def _read_line(self, sid, r):
        line = await r.readline()
        if not line:
            return None
        if len(line) > 1000 + 2:
            self._violation(sid, "line of %d bytes" % len(line))
        return line

    async def _converse(self, sid, r, w):
        peer = w.get_extra_info("peername")
        peer = peer[0] if isinstance(peer, tuple) else "unix"
        if self.hold_greeting and not await self._wait_release(sid, r):
            return
        if self.silent:
            try:
                while await asyncio.wait_for(r.read(4096), WAIT * 10):
                    pass
            except asyncio.TimeoutError:
                pass
            return
        await self._reply(sid, w, self.greeting)
        if not self.greeting.startswith("2"):
            # Wait for a QUIT (a polite client) or the close.
            line = await asyncio.wait_for(r.readline(), WAIT)
            if line.strip().upper() == b"QUIT":
                self._log(sid, "C", "QUIT")
                await self._reply(sid, w, "221 2.0.0 Bye")
            return
        helo = None
        env = None
        while True:
            raw = await self._read_line(sid, r)
            if raw is None:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            self._log(sid, "C", line)
            if not self.pipelining and len(r._buffer):
                self._violation(sid, "pipelined after %r" % line)
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if verb in ("EHLO", "HELO", "LHLO"):
                if self.lmtp != (verb == "LHLO"):
                    await self._reply(sid, w, "500 5.5.1 %s: command not "
                                      "recognized" % verb)
                    continue
                helo, env = arg, None
                await self._reply(sid, w, self._ehlo_reply() if verb != "HELO"
                                  else "250 %s" % self.name)
            elif verb == "QUIT":
                await self._reply(sid, w, "221 2.0.0 Bye")
                return
            elif verb == "RSET":
                env = None
                await self._reply(sid, w, "250 2.0.0 Ok")
            elif verb == "NOOP":
                await self._reply(sid, w, "250 2.0.0 Ok")
            elif verb == "MAIL":
                m = ADDR.match(arg)
                if helo is None or env is not None:
                    self._violation(sid, "MAIL out of order")
                    await self._reply(sid, w, "503 5.5.1 Error: bad sequence")
                    continue
                if not m:
                    await self._reply(sid, w, "501 5.5.4 Syntax: MAIL FROM:"
                                      "<address>")
                    continue
                params = m.group(2)
                if (re.search(r"\bBODY=8BITMIME\b", params, re.I)
                        and not self.eightbitmime):
                    self._violation(sid, "BODY=8BITMIME not announced")
                sz = re.search(r"\bSIZE=(\d+)", params, re.I)
                if self.size is not None and sz and int(sz.group(1)) > \
                        self.size:
                    await self._reply(sid, w, "552 5.3.4 Message size "
                                      "exceeds fixed limit")
                    continue
                env = Envelope(sid, peer, helo)
                env.mail_from, env.mail_params = m.group(1), params
                await self._reply(sid, w, "250 2.1.0 Ok")
            elif verb == "RCPT":
                m = ADDR.match(arg)
                if env is None:
                    self._violation(sid, "RCPT out of order")
                    await self._reply(sid, w, "503 5.5.1 Error: need MAIL "
                                      "command")
                    continue
                if not m:
                    await self._reply(sid, w, "501 5.5.4 Syntax: RCPT TO:"
                                      "<address>")
                    continue
                addr = m.group(1)
                reply = self.rcpt_reply(addr)
                key = (env.mail_from.lower(), addr.lower())
                if reply is None and self.greylist:
                    with self.lock:
                        first = key not in self.greylisted
                        self.greylisted.add(key)
                    if first:
                        reply = ("450 4.7.1 <%s>: Recipient address rejected:"
                                 " Greylisted, try again later" % addr)
                if reply is None:
                    env.rcpts.append(addr)
                    env.rcpt_params[addr] = m.group(2)
                    reply = "250 2.1.5 Ok"
                await self._reply(sid, w, reply)
            elif verb == "DATA":
                if env is None or not env.rcpts:
                    await self._reply(sid, w, "554 5.5.1 Error: no valid "
                                      "recipients")
                    continue
                await self._reply(sid, w, "354 End data with "
                                  "<CR><LF>.<CR><LF>")
                data = []
                while True:
                    raw = await self._read_line(sid, r)
                    if raw is None:
                        return      # the client went away: nothing kept
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    if not raw.endswith(b"\r\n"):
                        self._violation(sid, "bare LF in data")
                        raw = raw.rstrip(b"\n") + b"\r\n"
                    data.append(raw)
                env.data = b"".join(data)
                self._log(sid, "C", "<%d bytes> ." % len(env.data))
                if not self.eightbitmime and re.search(rb"[\x80-\xff]",
                                                       env.data):
                    self._violation(sid, "8-bit data, 8BITMIME not announced")
                await self._end_of_data(sid, r, w, env)
                env = None
            elif verb == "BDAT" or verb == "STARTTLS" or verb == "AUTH":
                await self._reply(sid, w, "502 5.5.1 Error: command not "
                                  "implemented")
            else:
                await self._reply(sid, w, "502 5.5.2 Error: command not "
                                  "recognized")

    async def _wait_release(self, sid, r):
        """Held until release(); False when the client went away."""
        with self.lock:
            self._held.add(sid)
        try:
            for _ in range(int(WAIT * 20 * 10)):
                # A client gone (EOF or reset) first: a release must not
                # make a dead session accept.
                if r._eof or r.exception() is not None:
                    return False
                with self.lock:
                    if self._release > 0:
                        self._release -= 1
                        return True
                await asyncio.sleep(0.05)
            return True
        finally:
            with self.lock:
                self._held.discard(sid)

    async def _end_of_data(self, sid, r, w, env):
        if self.hold:
            if not await self._wait_release(sid, r):
                return      # the client went away: nothing kept
        if self.size is not None and len(env.data) > self.size:
            await self._reply(sid, w, "552 5.3.4 Message size exceeds fixed "
                              "limit")
            return
        if self.lmtp:
            replies = []
            for rcpt in env.rcpts:
                reply = self.lmtp_reply(rcpt)
                if reply is None:
                    with self.lock:
                        self.queued += 1
                        n = self.queued
                    reply = "250 2.0.0 <%s> LQ%05d Saved" % (rcpt, n)
                replies.append(reply)
            env.rcpts = [rc for rc, rp in zip(env.rcpts, replies)
                         if rp.startswith("2")]
            if env.rcpts:
                with self.lock:
                    self.envelopes.append(env)
            for reply in replies:
                await self._reply(sid, w, reply)
            return
        reply = self.data_reply
        if reply is None:
            with self.lock:
                self.queued += 1
                n = self.queued
            reply = "250 2.0.0 Ok: queued as Q%05d" % n
        env.reply = reply
        # Kept before the reply is written, as a real server commits the
        # message before it says 250.
        if reply.startswith("2"):
            with self.lock:
                self.envelopes.append(env)
        await self._reply(sid, w, reply)

    # -- for the test -----------------------------------------------------

    def messages(self):
        with self.lock:
            return list(self.envelopes)

    def recipients(self):
        """Every accepted recipient of every accepted message."""
        return [rc for e in self.messages() for rc in e.rcpts]

    def wait_messages(self, count, timeout=WAIT):
        poll_until("%d messages at %s (got %d)"
                   % (count, self.where(), len(self.messages())),
                   lambda: len(self.messages()) >= count, timeout=timeout)
        return self.messages()

    def wait_sessions(self, count, timeout=WAIT):
        poll_until("%d sessions at %s" % (count, self.where()),
                   lambda: self.sessions >= count, timeout=timeout)

    def held(self):
        """How many sessions wait at the end of data."""
        with self.lock:
            return len(self._held)

    def held_sessions(self):
        with self.lock:
            return set(self._held)

    def open_session_ids(self):
        with self.lock:
            return set(self._open)

    def wait_held(self, count=1, timeout=WAIT):
        poll_until("%d messages held at the end of data at %s"
                   % (count, self.where()),
                   lambda: self.held() >= count, timeout=timeout)

    def release(self, count=1):
        with self.lock:
            self._release += count

    def commands(self, verb=None):
        """The client's commands (lines), optionally only those of VERB."""
        with self.lock:
            lines = [t[2] for t in self.transcript if t[1] == "C"]
        if verb:
            lines = [ln for ln in lines if ln.upper().startswith(verb)]
        return lines


class SmtpSink:
    """Postfix's smtp-sink on ADDRESS:PORT (or unix:PATH), run as nobody,
    dumping each transaction to a file of its own in a temporary
    directory (messages()).  extra: more smtp-sink options ("-L" for
    LMTP, "-8" no 8BITMIME, "-p" no PIPELINING, "-h NAME")."""

    def __init__(self, tc, address="127.0.0.30", port=25, unix=None,
                 extra=()):
        if not os.access(SMTP_SINK, os.X_OK):
            raise AssertionError("smtp-sink is not installed "
                                 "(Debian: postfix)")
        self.dir = tempfile.mkdtemp(prefix="postino-sink-")
        nobody = pwd.getpwnam("nobody")
        os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        self.address, self.port, self.unix = address, port, unix
        where = "unix:" + unix if unix else "%s:%d" % (address, port)
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-d",
             os.path.join(self.dir, "%Y%m%d%H%M%S.")] + list(extra)
            + [where, "64"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        tc.addCleanup(self.stop)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("smtp-sink exited with %d: %s"
                                     % (self.proc.returncode,
                                        self.proc.stderr.read().decode(
                                            errors="replace")))
            try:
                if unix:
                    s = socket.socket(socket.AF_UNIX)
                    s.settimeout(5)
                    s.connect(unix)
                else:
                    s = socket.create_connection((address, port), timeout=5)
            except OSError:
                return False
            s.close()
            return True
        poll_until("smtp-sink on %s" % where, up, timeout=30)

    def messages(self):
        """The dumped transactions (bytes), oldest name first."""
        out = []
        for n in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, n), "rb") as f:
                out.append(f.read())
        return out

    def wait_messages(self, count, timeout=WAIT):
        poll_until("%d messages at smtp-sink" % count,
                   lambda: len(self.messages()) >= count, timeout=timeout)
        return self.messages()

    def stop(self):
        stop_process(self.proc, self.dir)


POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"


class PostfixMx:
    """Debian's Postfix as a receiving MX on ADDRESS:25: its own
    configuration, queue and log in a temporary directory; mail for
    DOMAIN to the USERS (local parts) goes to Maildirs by Postfix's
    virtual(8) (as nobody); any other recipient there is refused at RCPT
    ("User unknown in virtual mailbox table"); message_size_limit is
    SIZE; EXTRA_MAIN: more main.cf settings (smtpd_tls_*); EXTRA_MASTER:
    more master.cf lines (pipe(8) services).  Stopped (postfix stop) at
    tc's cleanup."""

    def __init__(self, tc, address="127.0.0.31", domain="pfx.test",
                 users=("bob",), size=10240000, name=None, extra_main=None,
                 extra_master=""):
        if not os.access(POSTFIX, os.X_OK):
            raise AssertionError("postfix is not installed (Debian: postfix)")
        self.address, self.domain = address, domain
        self.dir = tempfile.mkdtemp(prefix="postino-pfx-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "conf")
        self.vmail = os.path.join(self.dir, "vmail")
        self.maillog = os.path.join(self.dir, "maillog")
        data = os.path.join(self.dir, "data")
        for d in (self.conf, self.vmail, data,
                  os.path.join(self.dir, "spool")):
            os.mkdir(d)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.vmail, nobody.pw_uid, nobody.pw_gid)
        shutil.chown(data, "postfix")
        vmap = os.path.join(self.conf, "vmailbox")
        with open(vmap, "w") as f:
            for u in users:
                f.write("%s@%s %s/\n" % (u, domain, u))
        main = {
            "compatibility_level": "3.6",
            "queue_directory": os.path.join(self.dir, "spool"),
            "data_directory": data,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "myhostname": name or "mx." + domain,
            "mydomain": domain,
            "mydestination": "",
            # "all": Postfix wants inet_interfaces on an interface, and
            # 127.0.0.31 is not one; master.cf binds smtpd to ADDRESS.
            "inet_interfaces": "all",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "virtual_mailbox_domains": domain,
            "virtual_mailbox_base": self.vmail,
            "virtual_mailbox_maps": "hash:" + vmap,
            "virtual_uid_maps": "static:%d" % nobody.pw_uid,
            "virtual_gid_maps": "static:%d" % nobody.pw_gid,
            "message_size_limit": str(size),
            "smtpd_relay_restrictions":
                "permit_mynetworks, reject_unauth_destination",
            "smtp_dns_support_level": "disabled",
            "readme_directory": "no",
            "biff": "no",
        }
        main.update(extra_main or {})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        lines = []
        with open("/usr/share/postfix/master.cf.dist") as f:
            for line in f.read().splitlines():
                if line.startswith("smtp ") and " inet " in line:
                    lines.append("%s:25 inet n - n - - smtpd" % address)
                elif line[:1].strip() and " inet " in line:
                    lines.append("#" + line)
                elif line[:1].strip() and not line.startswith("#") \
                        and len(line.split()) >= 8:
                    # No chroot: the daemons see the namespace's
                    # /etc/hosts and resolv.conf (Postfix as a sender).
                    f = line.split()
                    f[4] = "n"
                    lines.append(" ".join(f))
                else:
                    lines.append(line)
        lines.append("postlog unix-dgram n - n - 1 postlogd")
        lines += extra_master.splitlines()
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self._run([POSTMAP, "-c", self.conf, "hash:" + vmap])
        open(self.maillog, "a").close()
        self._run([POSTFIX, "-c", self.conf, "check"])
        self._run([POSTFIX, "-c", self.conf, "start"])
        tc.addCleanup(self.stop)

        def up():
            try:
                c = socket.create_connection((address, 25), timeout=5)
            except OSError:
                return False
            c.close()
            return True
        poll_until("Postfix's smtpd on %s:25" % address, up, timeout=60)

    def _run(self, argv):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("%s: rc=%d %s%s %s"
                                 % (" ".join(argv), r.returncode, r.stdout,
                                    r.stderr, self.log()[-2000:]))
        return r

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def maildir(self, user):
        """The messages (bytes) in USER's Maildir."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.vmail, user, sub)
            if os.path.isdir(d):
                for n in sorted(os.listdir(d)):
                    with open(os.path.join(d, n), "rb") as f:
                        out.append(f.read())
        return out

    def wait_maildir(self, user, count, timeout=WAIT):
        poll_until("%d messages in %s's Maildir at Postfix" % (count, user),
                   lambda: len(self.maildir(user)) >= count, timeout=timeout)
        return self.maildir(user)

    def stop(self):
        subprocess.run([POSTFIX, "-c", self.conf, "stop"],
                       capture_output=True, timeout=120)
        if not os.environ.get("POSTINO_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
