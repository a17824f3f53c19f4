#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""run_unittest.py SCRIPT [ARGS...] - run one Python test script for ctest
and turn unittest's outcome into ctest's exit codes:

    0   every test ran and passed;
    1   a test failed or raised, or the script ran no test at all;
    77  nothing failed but at least one test was skipped (skipTest,
        skipUnless, ...): ctest reports the script as skipped, never as
        passed (every Python test is registered with SKIP_RETURN_CODE 77).

The script runs as __main__ exactly as "python3 SCRIPT" would run it; its
call to unittest.main() is made not to exit, so its result can be read.
The skipped tests and their reasons are printed at the end.  A script that
exits by itself (sys.exit) keeps its own exit status."""
import os
import runpy
import sys
import unittest

SKIP = 77


def err(line):
    sys.stderr.write(line + "\n")


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: run_unittest.py SCRIPT [ARGS...]\n")
        return 2
    script = os.path.abspath(sys.argv[1])
    sys.argv = [script] + sys.argv[2:]
    # As for "python3 SCRIPT": the script's directory first on the path.
    sys.path[0] = os.path.dirname(script)

    real_main = unittest.main
    results = []

    def no_exit_main(*args, **kwargs):
        kwargs["exit"] = False
        prog = real_main(*args, **kwargs)
        results.append(prog.result)
        return prog

    unittest.main = no_exit_main
    runpy.run_path(script, run_name="__main__")
    if not results:
        err("run_unittest: %s did not call unittest.main()" % script)
        return 1
    run = sum(r.testsRun for r in results)
    skipped = [s for r in results for s in r.skipped]
    if not all(r.wasSuccessful() for r in results):
        return 1
    if skipped:
        err("\nSKIPPED %d of %d tests:" % (len(skipped), run))
        for test, reason in skipped:
            err("  %s: %s" % (test.id(), reason))
        return SKIP
    if run == 0:
        err("run_unittest: %s ran no test" % script)
        return 1
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(rc)
