#!/usr/bin/env python3
"""Draws bench/run.py's tables as charts (SVG) for the docs.

Usage: bench/charts.py [--out DIR] [--check] [MARKDOWN ...]
       (default: docs/shadow-mode.md into docs/img/)

It reads every table in bench/run.py's format from the Markdown files: a header
"| per operation | <configuration> | ..." whose columns are run.py's configuration titles
(QEMU TCG, QEMU -accel kvm, lodger direct, lodger shadow, shadow traps=vmm; spread and p99
columns are left out), one row per event with a cost ("1.0 ns", "4.46 us", "1,810 us";
"cannot" and "n/a" are no figure). Figures of one configuration from several tables are
merged (the docs hold QEMU TCG's from one machine, lodger's from another). It writes

  bench-events.svg   each event's cost per configuration, log scale, side by side
  bench-shadow.svg   lodger shadow (traps=auto) as a multiple of QEMU TCG and of lodger
                     direct per event: below 1 shadow mode wins, above it loses

--check writes nothing: it exits 1 when the charts in DIR differ from what the tables
give (the figures in the docs changed and the charts were not redrawn), 77 without
matplotlib. Needs matplotlib (Debian's python3-matplotlib, for /usr/bin/python3: the
script re-runs itself there when the python3 on PATH lacks it).
"""
import argparse
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SKIP = 77

try:
    import matplotlib
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("bench/charts.py: no matplotlib (Debian: apt-get install python3-matplotlib)")
    sys.exit(SKIP)
matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

sys.path.insert(0, HERE)
from run import CONFIGS, EVENTS  # noqa: E402

TITLES = {title: name for name, (title, _, _) in CONFIGS.items()}
UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
COLOURS = {"qemu-tcg": "#8c8c8c", "qemu-kvm": "#4d4d4d", "direct": "#1f77b4",
           "shadow": "#d62728", "shadow-vmm": "#ff9896"}
WIN = "#2ca02c"


def label_key(text):
    """An event's words without markup and parenthesised detail, for matching."""
    text = text.replace("`", "").replace("→", "->").strip().lower()
    return text.split(" (")[0]


EVENT_BY_LABEL = {label_key(words): event for event, words in EVENTS.items()}


def seconds(cell):
    """A cost cell in seconds, or None ("cannot", "n/a", empty)."""
    m = re.fullmatch(r"([0-9][0-9,]*(?:\.[0-9]+)?)\s*(ns|us|µs|ms|s)", cell.strip())
    if not m:
        return None
    return float(m.group(1).replace(",", "")) * UNITS[m.group(2)]


def read_tables(paths):
    """{config: {event: seconds}} from every run.py-format table in the files."""
    figures = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        columns = None
        for line in lines:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("|"):
                columns = None
            elif cells[0] == "per operation":
                columns = [TITLES.get(c) for c in cells[1:]]
            elif columns and not set(cells[0]) <= set("-: "):
                event = EVENT_BY_LABEL.get(label_key(cells[0]))
                for config, cell in zip(columns, cells[1:]):
                    value = seconds(cell)
                    if event and config and value is not None:
                        figures.setdefault(config, {})[event] = value
    return figures


def fmt(value):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.2g} ns"


def caption(fig):
    fig.text(0.01, 0.005, "bench/run.py's figures as recorded in docs/shadow-mode.md "
             "(the configurations were measured on different machines: see there)",
             fontsize=7, color="#555555")


def events_chart(figures, path):
    configs = [c for c in CONFIGS if c in figures]
    events = [e for e in EVENTS if any(e in figures[c] for c in configs)]
    height = 0.8 / max(len(configs), 1)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(events) * max(len(configs), 2) / 2 + 1.5))
    for i, config in enumerate(configs):
        ys = [n + i * height for n, e in enumerate(events) if e in figures[config]]
        xs = [figures[config][e] for e in events if e in figures[config]]
        ax.barh(ys, xs, height=height, color=COLOURS[config], label=CONFIGS[config][0])
        for y, x in zip(ys, xs):
            ax.text(x * 1.08, y, fmt(x), va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_yticks([n + height * (len(configs) - 1) / 2 for n in range(len(events))])
    ax.set_yticklabels([EVENTS[e] for e in events], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("time per operation (log scale; shorter is faster)")
    ax.set_title("Cost of each guest event: QEMU beside lodger", fontsize=11)
    ax.grid(axis="x", which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=len(configs),
              frameon=False)
    caption(fig)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def shadow_chart(figures, path):
    shadow = figures.get("shadow", {})
    against = [c for c in ("qemu-tcg", "direct") if c in figures]
    events = [e for e in EVENTS if e in shadow and any(e in figures[c] for c in against)]
    height = 0.8 / max(len(against), 1)
    handles = []
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(events) + 2.2))
    for i, config in enumerate(against):
        ys, xs = [], []
        for n, e in enumerate(events):
            if e in figures[config]:
                ys.append(n + i * height)
                xs.append(shadow[e] / figures[config][e])
        # Each bar runs from 1 (parity) to the ratio: right is a loss, left a win.
        colours = [WIN if x < 1 else COLOURS[config] for x in xs]
        ax.barh(ys, [abs(x - 1) or 1e-9 for x in xs], left=[min(x, 1) for x in xs],
                height=height, color=colours, edgecolor=COLOURS[config], linewidth=1.5)
        handles.append(Patch(facecolor=COLOURS[config],
                             label=f"lodger shadow / {CONFIGS[config][0]}"))
        for y, x in zip(ys, xs):
            text = f"{x:,.0f}x" if x >= 100 else f"{x:.2g}x"
            ax.text(max(x, 1) * 1.1, y, text, va="center", fontsize=7)
    handles.append(Patch(facecolor=WIN, label="shadow mode wins (below 1)"))
    ax.axvline(1, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks([n + height * (len(against) - 1) / 2 for n in range(len(events))])
    ax.set_yticklabels([EVENTS[e] for e in events], fontsize=8)
    ax.invert_yaxis()
    lo = min(shadow[e] / figures[c][e] for c in against for e in events if e in figures[c])
    ax.set_xlim(min(lo, 1) / 4, None)
    ax.set_xlabel("lodger shadow (traps=auto) as a multiple of the other, log scale")
    ax.set_title("Where shadow mode wins and loses", fontsize=11)
    ax.grid(axis="x", which="major", alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09),
              ncol=2, frameon=False)
    caption(fig)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def draw(figures, out):
    plt.rcParams["svg.hashsalt"] = "lodger-bench"  # the same figures give the same file
    os.makedirs(out, exist_ok=True)
    written = []
    if figures:
        events_chart(figures, os.path.join(out, "bench-events.svg"))
        written.append("bench-events.svg")
    if "shadow" in figures and ({"qemu-tcg", "direct"} & set(figures)):
        shadow_chart(figures, os.path.join(out, "bench-shadow.svg"))
        written.append("bench-shadow.svg")
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "img"))
    ap.add_argument("--check", action="store_true",
                    help="compare with the charts in --out instead of writing them")
    ap.add_argument("markdown", nargs="*",
                    default=[os.path.join(ROOT, "docs", "shadow-mode.md")])
    args = ap.parse_args()

    figures = read_tables(args.markdown)
    if not figures:
        print("bench/charts.py: no bench/run.py table in " + ", ".join(args.markdown))
        return 1
    if not args.check:
        for name in draw(figures, args.out):
            print(f"bench/charts.py: wrote {os.path.join(args.out, name)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        stale = []
        for name in draw(figures, tmp):
            mine = os.path.join(args.out, name)
            with open(os.path.join(tmp, name), "rb") as a:
                fresh = a.read()
            if not os.path.exists(mine) or open(mine, "rb").read() != fresh:
                stale.append(mine)
    if stale:
        print("bench/charts.py: out of date with the docs' tables (redraw with "
              "bench/charts.py): " + ", ".join(stale))
        return 1
    print("bench/charts.py: the charts match the docs' tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
