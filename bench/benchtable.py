"""The one table every benchmark prints: rows of (name, ours, peer, theirs,
unit, fmt) with the ratio ours / theirs (hub rows carry text and no peer)."""

HEAD = ("benchmark", "outpost", "peer", "peer value", "unit", "ratio")


def cells(name, ours, peer, theirs, unit, fmt="{:.3f}"):
    if isinstance(ours, str):      # a figure with no peer
        return (name, ours, peer, str(theirs), unit, "-")
    ratio = ours / theirs if theirs else float("nan")
    return (name, fmt.format(ours), peer, fmt.format(theirs), unit,
            f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}")


def print_table(rows, note=""):
    out = [cells(*r) for r in rows]
    widths = [max(len(str(r[i])) for r in out + [HEAD]) for i in range(6)]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*HEAD))
    print(line.format(*("-" * w for w in widths)))
    for r in out:
        print(line.format(*r).rstrip())
    print("ratio = outpost / peer (lower is better for time, memory and bytes; "
          "higher for OIDs per CPU-s; 1.00 for devices found means the same count)"
          + (f"; {note}" if note else ""))


TARGET_HEAD = ("figure", "outpost", "target", "persistent baseline", "poll wait", "met")


def print_targets(rows, note=""):
    """Rows of (figure, measured, target, baseline, poll wait, met): text
    cells, for figures judged against a target rather than a peer
    (bench/fleet_bench.py)."""
    out = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in out + [TARGET_HEAD]) for i in range(6)]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*TARGET_HEAD))
    print(line.format(*("-" * w for w in widths)))
    for r in out:
        print(line.format(*r).rstrip())
    if note:
        print(note)
