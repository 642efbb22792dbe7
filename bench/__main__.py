"""``python -m bench [suite …]``: run the benchmarks and write bench/results.{json,md}.

With no suite named, every suite runs. ``--render`` only rewrites results.md from
results.json. ``--baseline`` also copies today's figures to baseline.json, the
"before" column (used once, before speed work starts).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from bench.common import BASELINE_JSON, RESULTS_JSON, RESULTS_MD, Figure, load, render, save

SUITES = ("importing", "panel", "calls", "events", "daemon", "bridge", "disk", "voice", "build")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="suite", help=", ".join(SUITES))
    parser.add_argument("--render", action="store_true", help="only rewrite results.md")
    parser.add_argument("--baseline", action="store_true", help="save as the 'before' figures")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"no such suite: {', '.join(unknown)} (choose from {', '.join(SUITES)})")
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if not args.render:
        suites = args.suites or list(SUITES)
        figures: list[Figure] = []
        for name in suites:
            started = time.monotonic()
            print(f"bench: {name} …", flush=True)
            module = importlib.import_module(f"bench.{name}")
            found = module.run()
            for figure in found:
                print(f"  {figure.label}: {figure.value:.2f} {figure.unit} {figure.verdict()}")
            print(f"bench: {name} took {time.monotonic() - started:.0f} s", flush=True)
            figures.extend(found)
        save(figures, suites=suites)
        if args.baseline:
            save(figures, suites=suites, path=BASELINE_JSON)
    RESULTS_MD.write_text(render(load(RESULTS_JSON), load(BASELINE_JSON)))
    print(f"bench: wrote {RESULTS_MD.relative_to(RESULTS_MD.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
