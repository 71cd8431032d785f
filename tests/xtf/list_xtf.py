#!/usr/bin/env python3
"""Print the names of XTF's 64-bit PV tests, one a line (meson suite `xtf`).

A test builds for pv64 when its Makefile's TEST-ENVS names pv64, $(ALL_ENVIRONMENTS) or
$(PV_ENVIRONMENTS) (XTF's build/common.mk). A test with VARY-CFG runs once per variant,
as xtf-runner runs it: NAME~VARIANT (run_xtf.py gives it the variant's command line).
Prints nothing when XTF is not there.
"""
import os
import re
import sys

tests = os.path.join(sys.argv[1], "third-party", "xtf", "tests")
if os.path.isdir(tests):
    for name in sorted(os.listdir(tests)):
        try:
            text = open(os.path.join(tests, name, "Makefile")).read()
        except OSError:
            continue
        m = re.search(r"^TEST-ENVS\s*:=\s*(.*)$", text, re.M)
        if m and re.search(r"\bpv64\b|\$\((ALL|PV)_ENVIRONMENTS\)", m.group(1)):
            vary = re.search(r"^VARY-CFG\s*:=\s*(.*)$", text, re.M)
            for variant in vary.group(1).split() if vary else [None]:
                print(f"{name}~{variant}" if variant else name)
