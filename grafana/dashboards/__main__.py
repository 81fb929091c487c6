"""`python -m grafana.dashboards [--out DIR] [--check]`: write or verify the dashboard JSON."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from grafana.dashboards import JSON_DIR, write_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.dashboards", description=__doc__)
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="folder for <uid>.json")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files in --out differ from what the code generates",
    )
    args = parser.parse_args(argv)
    if not args.check:
        for path in write_all(args.out):
            print(path)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        stale = [
            path.name
            for path in write_all(Path(tmp))
            if not (args.out / path.name).is_file()
            or (args.out / path.name).read_bytes() != path.read_bytes()
        ]
    if stale:
        print(
            f"out of date in {args.out}: {', '.join(stale)}; run `python -m grafana.dashboards`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
