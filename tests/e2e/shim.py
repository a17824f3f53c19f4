# SPDX-License-Identifier: MIT
"""shim - run an Instance's daemons under fsync_shim.so (fsync_shim.c)
and read back what each process did, in order.

    d = shim_dir(inst)
    shim_preload(inst, d, FSHIM_SKIP="/incoming/")   # before start()
    ...
    logs = read_logs(d)     # [(prog, pid, [event line, ...]), ...]

The shim and its settings reach the daemons through import_environment
(the master passes "NAME=value" entries to every child); the postino
command and the master themselves run without it.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "cmd"))
from postino_testlib import build_dir  # noqa: E402

QUEUED = re.compile(r"250 2\.0\.0 Ok: queued as ([0-9A-F]+)")


def shim_path():
    p = os.path.join(build_dir(), "tests", "e2e", "fsync_shim.so")
    if not os.path.exists(p):
        raise AssertionError("%s is missing (build the fsync_shim target)"
                             % p)
    return p


def shim_dir(inst):
    d = os.path.join(inst.dir, "shim")
    os.mkdir(d)
    os.chmod(d, 0o1777)
    return d


def shim_preload(inst, d, **settings):
    """Write main.cf so that every daemon runs with the shim, logging to
    d, with FSHIM_* settings (values without white space)."""
    env = inst.main["import_environment"].split()
    # A sanitizer runtime must not insist on being first: the shim is.
    env = [e for e in env if not e.startswith("ASAN_OPTIONS")]
    asan = inst.env()["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
    env += ["ASAN_OPTIONS=" + asan, "LD_PRELOAD=" + shim_path(),
            "FSHIM_LOG=" + d]
    for k, v in settings.items():
        if re.search(r"\s", v):
            raise ValueError("white space in %s" % k)
        env.append("%s=%s" % (k, v))
    inst.set_main(import_environment=" ".join(env))


def read_logs(d):
    """[(prog, pid, [events])] for every process that logged."""
    out = []
    for p in sorted(glob.glob(os.path.join(d, "*.log"))):
        with open(p, errors="replace") as f:
            lines = f.read().splitlines()
        prog = "?"
        events = []
        for line in lines:
            if line.startswith("prog "):
                prog = line[5:]
            else:
                events.append(line)
        out.append((prog, int(os.path.basename(p)[:-4]), events))
    return out


def events_of(logs, prog):
    return [(pid, ev) for p, pid, ev in logs if p == prog]


def check_smtpd(logs):
    """Problems with the order in which smtpd (with cleanup linked in)
    made queue files durable before saying "250 ... queued as ID"; and
    the number of 250s checked."""
    problems = []
    checked = 0
    for pid, events in events_of(logs, "smtpd"):
        for i, ev in enumerate(events):
            if not ev.startswith("sock "):
                continue
            for qid in QUEUED.findall(ev):
                checked += 1
                problems += queue_file_order(events[:i], qid)
    return problems, checked


def queue_file_order(before, qid):
    """Problems in the events before the 250 for qid: the file fsynced,
    then its directory, then the mode 0700, then fsynced again."""
    name = re.escape(qid)
    file_re = re.compile(r"^fsync (\S+/(incoming|hold)/%s)$" % name)
    mode_re = re.compile(r"^fchmod (\S+/(incoming|hold)/%s) 0700 rc=0$"
                         % name)
    first_sync = dir_sync = mode = last_sync = None
    queue = None
    for k, ev in enumerate(before):
        m = file_re.match(ev)
        if m:
            queue = m.group(2)
            if first_sync is None:
                first_sync = k
            if mode is not None:
                last_sync = k
            continue
        if first_sync is not None and dir_sync is None and queue \
                and re.match(r"^fsync \S+/%s$" % queue, ev):
            dir_sync = k
        if mode_re.match(ev) and mode is None:
            mode = k
    bad = []
    if first_sync is None:
        bad.append("%s: 250 before the queue file was fsynced" % qid)
    if dir_sync is None:
        bad.append("%s: 250 before the queue directory was fsynced" % qid)
    if mode is None:
        bad.append("%s: 250 before the queue file was marked complete"
                   % qid)
    elif first_sync is None or mode < first_sync or \
            (dir_sync is not None and mode < dir_sync):
        bad.append("%s: marked complete (0700) before its content and "
                   "directory entry were durable" % qid)
    if mode is not None and last_sync is None:
        bad.append("%s: 250 before the complete mode was fsynced" % qid)
    return bad


def check_agent(logs, prog="local"):
    """Problems with the order in which a delivery agent made Maildir
    files durable before reporting "sent" to qmgr; and the number of
    Maildir files checked."""
    problems = []
    checked = 0
    for pid, events in events_of(logs, prog):
        synced = set()          # files whose fsync completed
        linked = []             # (new path, tmp path) not yet reported
        dir_synced = {}         # new/ directory -> index of its last fsync
        for k, ev in enumerate(events):
            m = re.match(r"^fsync (\S+)$", ev)
            if m:
                synced.add(m.group(1))
                dir_synced[m.group(1)] = k
                continue
            m = re.match(r"^link (\S+/tmp/\S+) (\S+/new/\S+) rc=0$", ev)
            if m:
                tmp, new = m.group(1), m.group(2)
                checked += 1
                if tmp not in synced:
                    problems.append("%s linked into new/ before its fsync"
                                    % new)
                linked.append((new, k))
                continue
            if ev.startswith("sock ") and "status=sent" in ev:
                for new, at in linked:
                    d = os.path.dirname(new)
                    if dir_synced.get(d, -1) < at:
                        problems.append("%s reported before %s was fsynced"
                                        % (new, d))
                linked = []
    return problems, checked


def check_agent_mbox(logs, mbox, prog="local"):
    """Problems with the order in which delivery agents made an mbox file
    durable before reporting "sent": since the previous report, the file
    fsynced; and the directory fsynced before the report of the delivery
    that created the file.  The file did not exist before, so the agent
    process that created it is the one that fsyncs the directory (an agent
    syncs it only after a create); with several agent processes the others
    only append.  Returns the problems and the number of reports checked."""
    problems = []
    checked = 0
    dir_syncers = 0
    for pid, events in events_of(logs, prog):
        synced = dir_synced = False
        sent_before_dir = False
        for ev in events:
            if ev == "fsync %s" % mbox:
                synced = True
            elif ev == "fsync %s" % os.path.dirname(mbox):
                if not dir_synced and sent_before_dir:
                    problems.append("sent before the directory of the new "
                                    "%s was fsynced" % mbox)
                dir_synced = True
            elif ev.startswith("sock ") and "status=sent" in ev:
                checked += 1
                if not synced:
                    problems.append("sent before %s was fsynced" % mbox)
                synced = False
                sent_before_dir = True
        dir_syncers += dir_synced
    if checked and dir_syncers == 0:
        problems.append("the directory of the new %s was never fsynced"
                        % mbox)
    return problems, checked
