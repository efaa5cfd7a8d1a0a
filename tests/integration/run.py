#!/usr/bin/python3
"""Runs one integration test module and reports TAP on stdout.

    CAMSTREAM_BIN=build/src/camstream /usr/bin/python3 tests/integration/run.py test_http \
        [-k PATTERN]

Prints "ok N - Class.test_name" / "not ok N - Class.test_name" as each test ends, the failure as
"# " lines (with the tail of the logs of the processes the test started), then "1..N". A failure
is printed on stderr too, which is what meson shows with --print-errorlogs.
Exit code 1 if any test failed. The process logs are kept (their folder is printed) when a test
failed, or always with CAMTEST_KEEP_LOGS=1.
"""

import argparse
import fnmatch
import importlib
import os
import shutil
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def _tap_comment(text):
    return "\n".join("# " + line for line in text.rstrip("\n").splitlines())


def _log_tail(path, lines=25):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(text.splitlines()[-lines:])


class TapResult(unittest.TestResult):
    def __init__(self, camtest):
        super().__init__()
        self.camtest = camtest
        self.n = 0
        self.failed = 0
        self._logs_before = 0
        self._t0 = 0.0

    @staticmethod
    def _name(test):
        case = getattr(test, "test_case", None)   # a subtest
        if isinstance(case, unittest.TestCase):
            return "%s.%s %s" % (type(case).__name__, case._testMethodName,
                                 test._subDescription())
        if isinstance(test, unittest.TestCase):
            return "%s.%s" % (type(test).__name__, test._testMethodName)
        return str(test)  # setUpClass / tearDownClass errors

    def startTest(self, test):
        super().startTest(test)
        self._logs_before = len(self.camtest.STARTED_LOGS)
        self._t0 = time.monotonic()

    def _report(self, ok, test, detail=None, directive=""):
        self.n += 1
        line = "%s %d - %s" % ("ok" if ok else "not ok", self.n, self._name(test))
        if directive:
            line += " # " + directive
        out = sys.__stdout__
        print(line, file=out, flush=True)
        if detail:
            print(_tap_comment(detail), file=out, flush=True)
        if not ok:
            self.failed += 1
            # meson's --print-errorlogs (what CI shows) prints a TAP test's stderr, not its
            # stdout: a failure goes to both, so CI's printout names it
            print(line, file=sys.__stderr__, flush=True)
            if detail:
                print(_tap_comment(detail), file=sys.__stderr__, flush=True)
            for label, path in self.camtest.STARTED_LOGS[self._logs_before:]:
                text = _tap_comment("--- last lines of %s log %s:\n%s"
                                    % (label, path, _log_tail(path)))
                print(text, file=out, flush=True)
                print(text, file=sys.__stderr__, flush=True)

    def _notes(self, test):
        return "".join("; " + n for n in getattr(test, "notes", []))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._report(True, test, detail="%.1f s%s" % (time.monotonic() - self._t0,
                                                       self._notes(test)))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report(False, test, self._exc_info_to_string(err, test) + self._notes(test))

    def addError(self, test, err):
        super().addError(test, err)
        self._report(False, test, self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        # unittest reports neither success nor failure of a test whose subtest failed: the
        # subtest's own line carries it, or the failure would vanish from the TAP stream
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._report(False, subtest, self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._report(True, test, directive="SKIP " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._report(True, test, directive="TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._report(False, test, "unexpected success")


def _filter(suite, pattern):
    out = unittest.TestSuite()
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            out.addTest(_filter(item, pattern))
        elif fnmatch.fnmatch("%s.%s" % (type(item).__name__, item._testMethodName), pattern) \
                or fnmatch.fnmatch(item._testMethodName, pattern):
            out.addTest(item)
    return out


def main():
    ap = argparse.ArgumentParser(description="Run one integration test module as TAP.")
    ap.add_argument("module", help="test module name, e.g. test_http")
    ap.add_argument("-k", dest="pattern", help="only tests whose Class.name or name matches "
                    "this shell pattern, e.g. '*timeout*'")
    args = ap.parse_args()

    sys.path.insert(0, HERE)
    import camtest  # noqa: E402 - after sys.path is set
    module = importlib.import_module(args.module)
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    if args.pattern:
        suite = _filter(suite, "*" + args.pattern + "*" if "*" not in args.pattern
                        else args.pattern)

    print("# camstream %s; logs in %s" % (camtest.CAMSTREAM_BIN or "(CAMSTREAM_BIN unset)",
                                          camtest.LOG_DIR), flush=True)
    result = TapResult(camtest)
    t0 = time.monotonic()
    tap_out = sys.stdout
    sys.stdout = sys.stderr   # whatever a test prints must not break the TAP stream
    try:
        suite.run(result)
    finally:
        sys.stdout = tap_out
    print("1..%d" % result.n)
    print("# %d of %d failed in %.0f s" % (result.failed, result.n, time.monotonic() - t0),
          flush=True)
    if result.failed or os.environ.get("CAMTEST_KEEP_LOGS"):
        print("# logs kept in %s" % camtest.LOG_DIR, flush=True)
    elif not os.environ.get("CAMTEST_LOG_DIR"):
        shutil.rmtree(camtest.LOG_DIR, ignore_errors=True)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
