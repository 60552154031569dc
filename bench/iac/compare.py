#!/usr/bin/env python3
"""Prints the IaC benchmark table from one run of bench/iac/run.

Reads, in the run's work directory: vigil.json (`vigil iac scan -m json`),
checkov.json (`checkov -o json`), and vigil.time / checkov.time (GNU
`time -v` reports). Prints per tool: wall seconds, peak RSS, resources,
checks failed/passed/skipped; then Checkov/Vigil ratios of time and memory.
"""
import json
import re
import sys
from pathlib import Path


def gnu_time(path):
    """(wall seconds, peak RSS in MB) from a `time -v` report."""
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not wall or not rss:
        sys.exit(f"{path}: not a GNU time -v report")
    seconds = 0.0
    for part in wall.group(1).strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds, int(rss.group(1)) / 1024


def vigil_counts(path):
    s = json.loads(path.read_text())["summary"]
    return s["resources"], s["failed"], s["passed"], s["skipped"], s["parsingErrors"]


def checkov_counts(path):
    doc = json.loads(path.read_text())
    # One framework gives one report object; several give a list of them.
    reports = doc if isinstance(doc, list) else [doc]
    total = [0, 0, 0, 0, 0]
    for r in reports:
        s = r["summary"]
        for i, k in enumerate(("resource_count", "failed", "passed", "skipped", "parsing_errors")):
            total[i] += s.get(k, 0)
    return tuple(total)


def main():
    work = Path(sys.argv[1])
    rows = []
    for tool, counts in (("vigil", vigil_counts), ("checkov", checkov_counts)):
        wall, rss = gnu_time(work / f"{tool}.time")
        rows.append((tool, wall, rss) + counts(work / f"{tool}.json"))
    print(f"{'tool':<8} {'wall s':>8} {'peak RSS MB':>12} {'resources':>10} {'failed':>8} {'passed':>8} {'skipped':>8} {'parse errors':>13}")
    for r in rows:
        print(f"{r[0]:<8} {r[1]:>8.2f} {r[2]:>12.1f} {r[3]:>10} {r[4]:>8} {r[5]:>8} {r[6]:>8} {r[7]:>13}")
    (_, vw, vr, *_), (_, cw, cr, *_) = rows
    print(f"ratio:   checkov/vigil wall time {cw / vw:.1f}x, peak RSS {cr / vr:.1f}x")


if __name__ == "__main__":
    main()
