#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tables.py - lookup-table benchmarks, postino's postmap against Postfix's,
side by side in one run.

usage: bench/tables.py [--build DIR] [--work DIR] [--runs N] [--timeout S]
                       [--only hash,btree,pcre,regexp] [--no-interop]

Benchmarks (the commands of section C of the shared Postfix baseline;
the data comes from bench/lib/gen_tables.py, seed 42):

  build-hash, build-btree   postmap TYPE:keys   over a 1,000,000-line source
  query-hash, query-btree   postmap -q - TYPE:keys < keys.query   (100,000 keys,
                            half present)
  query-pcre, query-regexp  postmap -q - TYPE:re.src < re.query   (1,000 rules,
                            100,000 keys, half match)
  query-pcre-nolit,         (only with --only) the same rules, each written
  query-regexp-nolit        /(^$|P)/: same answers for every non-empty key, but
                            no literal that every match must contain can be
                            read off the pattern, so a literal prefilter
                            cannot skip a rule: the sequential-scan worst case

For every benchmark each tool gets one uncounted warm-up run, which is also
the check run: its output is kept, its hits are counted and the two tools'
outputs are compared byte for byte.  Then RUNS counted runs per tool,
alternated run by run (Postfix first on odd runs, postino first on even
ones) so that drift on the machine hits both alike.  A run's wall time is
the whole process (start, open, work, exit) from fork to wait, taken with
time.perf_counter(); peak RSS and user/sys CPU come from /usr/bin/time.
Every run is killed after --timeout seconds.  Table builds start from no
output file; the old file is removed and `sync` is run before the clock
starts, so neither tool pays for the other's write-back.

Postfix's postmap runs with `-c WORK/postfix-conf` (an empty main.cf), so
the machine needs no /etc/postfix/main.cf and no Postfix master is involved.
The script refuses to run while a Postfix master is running.

Scratch data lives in --work (default /var/tmp/postino-bench): data/ holds
the generated sources and queries (kept between runs), postfix/ and
postino/ each hold the tables that tool built, out/ the check outputs.
Results: WORK/raw-tables.tsv (one line per run) and WORK/summary-tables.md
(the tables for bench/RESULTS.md), also printed on stdout.
"""
import argparse
import datetime
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchutil import loadavg  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "lib", "gen_tables.py")
PF_POSTMAP = "/usr/sbin/postmap"
TIME = "/usr/bin/time"
TOOLS = ("postfix", "postino")


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


def sh(argv, timeout=60):
    """Output of a small informational command, or '?' if it fails."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return p.stdout.strip() if p.returncode == 0 else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


class Run:
    def __init__(self, wall, rss, user, sys_, rc, note=""):
        self.wall, self.rss, self.user, self.sys = wall, rss, user, sys_
        self.rc, self.note = rc, note


def run_once(argv, stdin_path, stdout_path, err_path, timeout, tfile):
    """Run argv under /usr/bin/time in its own process group; kill the group
    after TIMEOUT seconds.  Returns a Run.

    The parent blocks in wait4(): Popen.wait(timeout=...) polls with sleeps
    of up to 50 ms and would round every wall time up to that grid."""
    full = [TIME, "-f", "%M %U %S", "-o", tfile] + argv
    before = os.path.getsize(err_path) if os.path.exists(err_path) else 0
    timed_out = []

    def kill(pgid):
        timed_out.append(1)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    with open(stdin_path or os.devnull, "rb") as fi, \
            open(stdout_path or os.devnull, "wb") as fo, \
            open(err_path, "ab") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdin=fi, stdout=fo, stderr=fe,
                             start_new_session=True)
        timer = threading.Timer(timeout, kill, (p.pid,))
        timer.start()
        _, status, _ = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)   # already reaped
    if timed_out:
        r = Run(float(timeout), 0, 0.0, 0.0, -1, "timeout after %d s" % timeout)
        r.stderr_bytes = 0
        return r
    rc = p.returncode
    rss, user, sys_ = 0, 0.0, 0.0
    try:
        with open(tfile) as f:
            last = f.read().strip().splitlines()[-1].split()
        rss, user, sys_ = int(last[0]), float(last[1]), float(last[2])
    except (OSError, IndexError, ValueError):
        pass
    # /usr/bin/time exits with the command's status
    r = Run(t1 - t0, rss, user, sys_, rc, "" if rc == 0 else "rc=%d" % rc)
    r.stderr_bytes = os.path.getsize(err_path) - before
    return r


def tool_argv(tool, args, work, build):
    if tool == "postfix":
        return [PF_POSTMAP, "-c", os.path.join(work, "postfix-conf")] + args
    return [os.path.join(build, "sbin", "postmap")] + args


def db_files(path):
    """Files a build of PATH produced (PATH.db, PATH.lmdb, PATH.cdb)."""
    return [path + s for s in (".db", ".lmdb", ".cdb") if os.path.exists(path + s)]


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def first_difference(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for n, (x, y) in enumerate(zip(fa, fb), 1):
            if x != y:
                return "line %d: postfix %r / postino %r" % (n, x[:120], y[:120])
    return "one output is a prefix of the other"


class Bench:
    def __init__(self, opt):
        self.opt = opt
        self.work = opt.work
        self.build = opt.build
        self.data = os.path.join(self.work, "data")
        self.out = os.path.join(self.work, "out")
        self.raw = os.path.join(self.work, "raw-tables.tsv")
        self.tfile = os.path.join(self.work, "time.out")
        self.results = {}        # bench -> tool -> [Run] (index 0 = warm-up)
        self.checks = {}         # bench -> list of check lines
        self.sizes = {}          # bench -> tool -> bytes
        self.commands = {}       # bench -> tool -> command string
        self.load_start = loadavg()
        self.t_start = time.monotonic()

    # ---------------------------------------------------------------- setup
    def preflight(self):
        for path in (PF_POSTMAP, TIME, os.path.join(self.build, "sbin", "postmap")):
            if not os.access(path, os.X_OK):
                sys.exit("tables.py: %s is missing (see bench/README.md)" % path)
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                exe = os.readlink("/proc/%s/exe" % pid)
            except OSError:
                continue
            if exe == "/usr/lib/postfix/sbin/master":
                sys.exit("tables.py: a Postfix master is running (pid %s); "
                         "stop it first (postfix stop)" % pid)
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(self.out, exist_ok=True)
        conf = os.path.join(self.work, "postfix-conf")
        os.makedirs(conf, exist_ok=True)
        open(os.path.join(conf, "main.cf"), "a").close()
        for tool in TOOLS:
            os.makedirs(os.path.join(self.work, tool), exist_ok=True)

    def gen_data(self):
        o = self.opt
        src, q = os.path.join(self.data, "keys.src"), os.path.join(self.data, "keys.query")
        if not (os.path.getsize(src) if os.path.exists(src) else 0) or not os.path.exists(q):
            log("generating %d keys, %d queries" % (o.keys, o.queries))
            subprocess.run([sys.executable, GEN, "keys",
                            str(o.keys), str(o.queries), src, q], check=True,
                           stdout=subprocess.DEVNULL)
        src, q = os.path.join(self.data, "re.src"), os.path.join(self.data, "re.query")
        if not (os.path.getsize(src) if os.path.exists(src) else 0) or not os.path.exists(q):
            log("generating %d patterns, %d queries" % (o.patterns, o.re_queries))
            subprocess.run([sys.executable, GEN, "patterns",
                            str(o.patterns), str(o.re_queries), src, q], check=True,
                           stdout=subprocess.DEVNULL)
        # the same rules, each wrapped as /(^$|P)/: same matches for every
        # non-empty key, but no literal can be proven outside the group, so
        # a literal prefilter cannot skip any rule (the worst case for it)
        nolit = os.path.join(self.data, "re-nolit.src")
        if not os.path.exists(nolit):
            with open(os.path.join(self.data, "re.src")) as fi, open(nolit + ".tmp", "w") as fo:
                for line in fi:
                    end = line.rindex("/", 1)
                    fo.write("/(^$|%s)/%s" % (line[1:end], line[end + 1:]))
            os.rename(nolit + ".tmp", nolit)
        # each tool builds next to its own symlink to the one source file
        for tool in TOOLS:
            for t in ("hash", "btree"):
                link = os.path.join(self.work, tool, "keys-" + t)
                if not os.path.islink(link):
                    os.symlink(os.path.join(self.data, "keys.src"), link)
        # warm the page cache with the inputs
        for name in ("keys.src", "keys.query", "re.src", "re.query"):
            with open(os.path.join(self.data, name), "rb") as f:
                while f.read(1 << 20):
                    pass

    # ------------------------------------------------------------- running
    def record(self, bench, tool, i, r, extra=""):
        self.results.setdefault(bench, {}).setdefault(tool, []).append(r)
        with open(self.raw, "a") as f:
            f.write("\t".join([datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                               bench, tool, "warmup" if i == 0 else "run%d" % i,
                               "%.4f" % r.wall, str(r.rss), "%.2f" % r.user, "%.2f" % r.sys,
                               r.note or "ok", extra]) + "\n")
        log("%-13s %-7s %-6s %8.3f s  %7d KiB  user %.2f sys %.2f %s %s"
            % (bench, tool, "warmup" if i == 0 else "run%d" % i, r.wall, r.rss,
               r.user, r.sys, r.note, extra))

    def alternate(self, bench, one_run):
        """Warm-up (i = 0) for both tools, then opt.runs counted runs each,
        alternating which tool goes first.  one_run(tool, i) -> (Run, extra).
        A tool that fails or times out in its warm-up is not run again."""
        dead = set()
        for i in range(self.opt.runs + 1):
            order = TOOLS if i % 2 == 0 else TOOLS[::-1]
            for tool in order:
                if tool in dead:
                    continue
                r, extra = one_run(tool, i)
                self.record(bench, tool, i, r, extra)
                if i == 0 and r.note:
                    log("%s: %s failed its warm-up (%s); not timing it" % (bench, tool, r.note))
                    dead.add(tool)

    def err_path(self, bench, tool):
        return os.path.join(self.out, "%s-%s.err" % (bench, tool))

    def bench_build(self, t):
        bench = "build-" + t
        for tool in TOOLS:
            try:
                os.unlink(self.err_path(bench, tool))
            except FileNotFoundError:
                pass
            self.commands.setdefault(bench, {})[tool] = " ".join(
                tool_argv(tool, ["%s:%s/%s/keys-%s" % (t, "$WORK", tool, t)], "$WORK", "$BUILD"))

        def one(tool, i):
            path = os.path.join(self.work, tool, "keys-" + t)
            for f in db_files(path):
                os.unlink(f)
            os.sync()
            r = run_once(tool_argv(tool, ["%s:%s" % (t, path)], self.work, self.build),
                         None, None, self.err_path(bench, tool), self.opt.build_timeout,
                         self.tfile)
            size = sum(os.path.getsize(f) for f in db_files(path))
            self.sizes.setdefault(bench, {})[tool] = size
            if r.rc == 0 and size == 0:
                r.note = "no output file"
            return r, "bytes=%d" % size
        self.alternate(bench, one)
        os.sync()

    def bench_query(self, t, src, query, nq, label=None):
        bench = "query-" + (label or t)
        qname = os.path.basename(query)
        for tool in TOOLS:
            try:
                os.unlink(self.err_path(bench, tool))
            except FileNotFoundError:
                pass
            self.commands.setdefault(bench, {})[tool] = " ".join(
                tool_argv(tool, ["-q", "-", "%s:%s" % (t, src(tool, "$WORK"))], "$WORK", "$BUILD")
                + ["<", "$WORK/data/" + qname, ">", "/dev/null"])

        def one(tool, i):
            out = os.path.join(self.out, "%s-%s.out" % (bench, tool)) if i == 0 else None
            r = run_once(tool_argv(tool, ["-q", "-", "%s:%s" % (t, src(tool, self.work))],
                                   self.work, self.build),
                         query, out, self.err_path(bench, tool), self.opt.timeout, self.tfile)
            # postmap -q exits 1 when a key is not found; that is not a
            # failure here (hits are counted from the check output) unless
            # the tool also complained on stderr (fatal: ...)
            if r.rc == 1 and r.stderr_bytes == 0:
                r.rc, r.note = 0, ""
            elif r.rc == 1:
                r.note = "rc=1, stderr: see %s" % os.path.basename(self.err_path(bench, tool))
            extra = ""
            if out:
                extra = "hits=%d" % count_lines(out)
            return r, extra
        self.alternate(bench, one)
        self.check_outputs(bench, nq)

    def check_outputs(self, bench, nq):
        lines = []
        outs = {tool: os.path.join(self.out, "%s-%s.out" % (bench, tool)) for tool in TOOLS}
        hits = {}
        for tool in TOOLS:
            runs = self.results.get(bench, {}).get(tool, [])
            if not runs or runs[0].note:
                lines.append("%s: no usable output (%s)" % (tool, runs[0].note if runs else "not run"))
                continue
            hits[tool] = count_lines(outs[tool])
            want = nq // 2
            lines.append("%s: %d hits of %d queries (%s)"
                         % (tool, hits[tool], nq, "OK" if hits[tool] == want else "WRONG, expected %d" % want))
        if len(hits) == 2:
            if same_file(outs["postfix"], outs["postino"]):
                lines.append("outputs identical (cmp of the two `postmap -q -` outputs: %d lines each)"
                             % hits["postfix"])
            else:
                lines.append("outputs DIFFER: " + first_difference(outs["postfix"], outs["postino"]))
        for tool in TOOLS:
            e = self.err_path(bench, tool)
            if os.path.exists(e) and os.path.getsize(e):
                with open(e, errors="replace") as f:
                    first = f.readline().strip()
                lines.append("%s stderr (%d bytes), first line: %s" % (tool, os.path.getsize(e), first))
        self.checks[bench] = lines
        for l in lines:
            log("%s check: %s" % (bench, l))

    def interop(self, t):
        """Untimed: each tool queries the table the OTHER tool built."""
        bench = "query-" + t
        q = os.path.join(self.data, "keys.query")
        lines = self.checks.setdefault(bench, [])
        for reader, writer in (("postino", "postfix"), ("postfix", "postino")):
            path = os.path.join(self.work, writer, "keys-" + t)
            if not db_files(path):
                continue
            out = os.path.join(self.out, "interop-%s-%s-reads-%s.out" % (t, reader, writer))
            r = run_once(tool_argv(reader, ["-q", "-", "%s:%s" % (t, path)], self.work, self.build),
                         q, out, os.path.join(self.out, "interop.err"), self.opt.timeout, self.tfile)
            same = os.path.exists(os.path.join(self.out, "%s-postfix.out" % bench)) and \
                same_file(out, os.path.join(self.out, "%s-postfix.out" % bench))
            lines.append("interop: %s reading %s's %s file: %d hits, %s"
                         % (reader, writer, t, count_lines(out),
                            "same output as Postfix on its own file" if same else "output DIFFERS"
                            + (" (%s)" % r.note if r.note and r.rc != 1 else "")))
            log("%s check: %s" % (bench, lines[-1]))

    # ------------------------------------------------------------- summary
    @staticmethod
    def stats(runs):
        c = [r for r in runs[1:] if not r.note]
        if not c:
            return None
        w = [r.wall for r in c]
        return {"med": statistics.median(w), "min": min(w), "max": max(w), "n": len(c),
                "rss": statistics.median([r.rss for r in c]),
                "cpu": statistics.median([r.user + r.sys for r in c]),
                "user": statistics.median([r.user for r in c]),
                "sys": statistics.median([r.sys for r in c])}

    def environment(self):
        o = self.opt
        mnt = sh(["findmnt", "-no", "SOURCE,FSTYPE,OPTIONS", "-T", self.work])
        dev = mnt.split()[0] if mnt != "?" else ""
        # tune2fs cannot open the device in this VM; ext4 shows its journal
        # thread in sysfs ("<none>" without a journal)
        journal = "journal: ?"
        jt = "/sys/fs/ext4/%s/journal_task" % os.path.basename(dev)
        if "ext4" in mnt and os.path.exists(jt):
            with open(jt) as f:
                v = f.read().strip()
            journal = "NO journal: %s is %s" % (jt, v) if v in ("", "<none>") else "journal thread " + v
        git = sh(["git", "-C", os.path.join(HERE, ".."), "rev-parse", "--short", "HEAD"])
        dirty = sh(["git", "-C", os.path.join(HERE, ".."), "status", "--porcelain",
                    "--untracked-files=no"])
        cache = {}
        try:
            with open(os.path.join(self.build, "CMakeCache.txt")) as f:
                for l in f:
                    if l.startswith(("CMAKE_BUILD_TYPE:", "CMAKE_C_COMPILER:")):
                        k, v = l.strip().split("=", 1)
                        cache[k.split(":")[0]] = v
        except OSError:
            pass
        cc = sh([cache.get("CMAKE_C_COMPILER", "cc"), "--version"]).splitlines()
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    cpu = l.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // (1024 * 1024)
        pkgs = sh(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "postfix", "postfix-pcre",
                   "libdb5.3", "libpcre2-8-0", "libc6"])
        debian = sh(["cat", "/etc/debian_version"])
        lines = [
            "started: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine: %d x %s, %d GiB RAM, Debian %s, Linux %s" % (os.cpu_count(), cpu, mem, debian,
                                                                  platform.release()),
            "filesystem of %s: %s (%s)" % (self.work, " ".join(mnt.split()), journal),
            "postino: git %s%s, %s build (%s), %s" % (git, " + uncommitted changes" if dirty not in ("", "?") else "",
                                                       cache.get("CMAKE_BUILD_TYPE", "?"), self.build,
                                                       cc[0] if cc else "?"),
            "Postfix: postconf -d mail_version = %s" % sh(["postconf", "-c", os.path.join(self.work, "postfix-conf"),
                                                            "-dh", "mail_version"]),
            "packages: " + "; ".join(pkgs.splitlines()),
            "runs: 1 warm-up + %d counted per tool, alternated; timeout %d s per query run, %d s per build"
            % (o.runs, o.timeout, o.build_timeout),
        ]
        return lines

    def summary(self):
        o = self.opt
        md = ["# Lookup-table benchmarks: postino vs Postfix (bench/tables.py)", ""]
        # taken when the script started: what was built and measured
        md += ["    " + l for l in self.env_start]
        md += ["    load average (1/5/15 min) at start: %s; at end: %s" % (self.load_start, loadavg()),
               "    wall time of the whole script: %.0f s" % (time.monotonic() - self.t_start)]
        md.append("")

        def rng(s):
            return "%.3f (%.3f–%.3f)" % (s["med"], s["min"], s["max"])

        builds = [b for b in ("build-hash", "build-btree") if b in self.results]
        if builds:
            md += ["## Build, %s keys" % format(o.keys, ","), "",
                   "| table | tool | wall s, median (min–max) | output bytes | peak RSS MiB | CPU s (user+sys) |",
                   "| --- | --- | --- | --- | --- | --- |"]
            for b in builds:
                st = {t: self.stats(self.results[b].get(t, [])) for t in TOOLS}
                for t in TOOLS:
                    s = st[t]
                    if s is None:
                        md.append("| %s | %s | failed: %s | | | |" % (b[6:], t, self.failure(b, t)))
                        continue
                    md.append("| %s | %s | %s | %s | %.1f | %.2f |"
                              % (b[6:], t, rng(s), format(self.sizes.get(b, {}).get(t, 0), ","),
                                 s["rss"] / 1024, s["cpu"]))
                if st["postfix"] and st["postino"]:
                    md.append("| %s | **postino speed ÷ Postfix** | **%.2f×** | size %.2f× | RSS %.2f× | CPU %.2f× |"
                              % (b[6:], st["postfix"]["med"] / st["postino"]["med"],
                                 self.sizes[b]["postino"] / max(1, self.sizes[b]["postfix"]),
                                 st["postino"]["rss"] / max(1, st["postfix"]["rss"]),
                                 st["postino"]["cpu"] / max(0.01, st["postfix"]["cpu"])))
            md.append("")
        queries = [b for b in ("query-hash", "query-btree", "query-pcre", "query-regexp",
                               "query-pcre-nolit", "query-regexp-nolit") if b in self.results]
        if queries:
            md += ["## Queries", "",
                   "| table | tool | wall s, median (min–max) | lookups/s | peak RSS MiB | CPU s (user+sys) |",
                   "| --- | --- | --- | --- | --- | --- |"]
            for b in queries:
                nq = o.queries if b in ("query-hash", "query-btree") else o.re_queries
                st = {t: self.stats(self.results[b].get(t, [])) for t in TOOLS}
                for t in TOOLS:
                    s = st[t]
                    if s is None:
                        md.append("| %s | %s | failed: %s | | | |" % (b[6:], t, self.failure(b, t)))
                        continue
                    md.append("| %s | %s | %s | %s | %.1f | %.2f |"
                              % (b[6:], t, rng(s), format(round(nq / s["med"]), ","),
                                 s["rss"] / 1024, s["cpu"]))
                if st["postfix"] and st["postino"]:
                    md.append("| %s | **postino ÷ Postfix** | | **%.2f×** | RSS %.2f× | CPU %.2f× |"
                              % (b[6:], st["postfix"]["med"] / st["postino"]["med"],
                                 st["postino"]["rss"] / max(1, st["postfix"]["rss"]),
                                 st["postino"]["cpu"] / max(0.01, st["postfix"]["cpu"])))
            md.append("")
        md += ["## Checks", ""]
        for b in self.checks:
            for l in self.checks[b]:
                md.append("* %s: %s" % (b, l))
        md += ["", "## Commands ($WORK = %s, $BUILD = %s)" % (self.work, self.build), ""]
        for b in self.commands:
            for t in TOOLS:
                md.append("    %-13s %-8s %s" % (b, t, self.commands[b][t]))
        md += ["", "Per-run figures: %s" % self.raw, ""]
        text = "\n".join(md)
        with open(os.path.join(self.work, "summary-tables.md"), "w") as f:
            f.write(text)
        print(text)

    def failure(self, bench, tool):
        runs = self.results[bench].get(tool, [])
        notes = sorted({r.note for r in runs if r.note})
        return ", ".join(notes) or "no runs"


def main():
    ap = argparse.ArgumentParser(description="postino vs Postfix lookup-table benchmarks")
    ap.add_argument("--build", default=os.environ.get("BUILD", os.path.join(HERE, "..", "build-bench")),
                    help="postino build tree (default ../build-bench)")
    ap.add_argument("--work", default="/var/tmp/postino-bench", help="scratch directory")
    ap.add_argument("--runs", type=int, default=5, help="counted runs per tool (default 5)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per query run")
    ap.add_argument("--build-timeout", type=int, default=120, help="seconds per table build")
    ap.add_argument("--only", default="hash,btree,pcre,regexp",
                    help="comma-separated benchmarks: hash, btree, pcre, regexp (the default "
                    "set), pcre-nolit, regexp-nolit (the same rules written so that no "
                    "literal prefilter applies)")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--queries", type=int, default=100000)
    ap.add_argument("--patterns", type=int, default=1000)
    ap.add_argument("--re-queries", type=int, default=100000)
    ap.add_argument("--no-interop", action="store_true",
                    help="skip the untimed check that each tool reads the other's .db files")
    o = ap.parse_args()
    o.build = os.path.abspath(o.build)
    o.work = os.path.abspath(o.work)
    if o.runs < 1 or o.runs > 50:
        sys.exit("tables.py: --runs must be 1..50")
    only = [t for t in o.only.split(",") if t]
    for t in only:
        if t not in ("hash", "btree", "pcre", "regexp", "pcre-nolit", "regexp-nolit"):
            sys.exit("tables.py: unknown table type %r" % t)
    b = Bench(o)
    b.preflight()
    b.env_start = b.environment()
    b.gen_data()
    log("work %s, build %s, %d counted runs per tool" % (o.work, o.build, o.runs))
    for t in ("hash", "btree"):
        if t in only:
            b.bench_build(t)
            b.bench_query(t, lambda tool, w, t=t: "%s/%s/keys-%s" % (w, tool, t),
                          os.path.join(b.data, "keys.query"), o.queries)
            if not o.no_interop:
                b.interop(t)
    for t in ("pcre", "regexp", "pcre-nolit", "regexp-nolit"):
        if t in only:
            src = "re-nolit.src" if t.endswith("-nolit") else "re.src"
            b.bench_query(t.split("-")[0], lambda tool, w, src=src: "%s/data/%s" % (w, src),
                          os.path.join(b.data, "re.query"), o.re_queries, label=t)
    b.summary()


if __name__ == "__main__":
    main()
