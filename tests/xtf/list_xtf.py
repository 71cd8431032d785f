#!/usr/bin/env python3
"""Print the names of XTF's 64-bit PV tests, one a line (meson suite `xtf`).

A test builds for pv64 when its Makefile's TEST-ENVS names pv64, $(ALL_ENVIRONMENTS) or
$(PV_ENVIRONMENTS) (XTF's build/common.mk). Prints nothing when XTF is not there.
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
            print(name)
