#!/usr/bin/env python3
"""Benchmark (not a test): `infusio schedule solve` beside OR-Tools CP-SAT on the same days.

For generated days of 30, 100 and 300 appointments (10/4/30, 50/13/100 and 160/40/300
places/nurses/appointments, as in the crate's benchmark), solves each with
`infusio schedule solve` (10 s) and with CP-SAT (10 s and 90 s, 2 workers) on the same
model and objective (10000 x unscheduled + 10 x overtime minutes + wait minutes), checks
every CP-SAT plan with `infusio schedule check` (so both solve the same problem), and prints
a table with both objectives and both lower bounds.

OR-Tools is installed from PyPI into a virtual environment by this script (the product does
not depend on it). The Infusio side runs `<target>/release/infusio schedule ...` when that
binary exists, and otherwise builds and runs the crate's `schedule` example, which calls the
same contract functions (reading, strong lower bound, search, output) without building the
whole CLI. Usage:

    scripts/cpsat-compare.py [--seeds 1,2] [--sizes 30,100,300] [--limits 10,90]
                             [--infusio-limit 10] [--workers 2] [--bin PATH]

Environment: INFUSIO_CPSAT_VENV (default: <target dir>/cpsat-venv), CARGO_TARGET_DIR.
Wall-clock results depend on machine load: the load average is printed with the table.
"""

import argparse
import json
import os
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
VENV = os.environ.get("INFUSIO_CPSAT_VENV", os.path.join(TARGET, "cpsat-venv"))
SIZES = {30: (10, 4, 30), 100: (50, 13, 100), 300: (160, 40, 300)}
GRID = 5
W_UNSCHEDULED, W_OVERTIME, W_WAIT = 10000, 10, 1


def ensure_ortools():
    """Re-runs this script inside a virtual environment that has OR-Tools."""
    try:
        import ortools  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        print(f"creating a virtual environment in {VENV}", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    if subprocess.run([python, "-c", "import ortools"], capture_output=True).returncode != 0:
        print("installing ortools from PyPI", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "-q", "ortools"], check=True)
    os.execv(python, [python] + sys.argv)


def infusio(binary, args, payload):
    out = subprocess.run(
        [binary, "schedule"] + args + ["--json"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=dict(os.environ, INFUSIO_PROGRESS="0"),
    )
    if out.returncode != 0:
        raise RuntimeError(f"infusio schedule {' '.join(args)} exited {out.returncode}: {out.stdout} {out.stderr}")
    return json.loads(out.stdout)


def minutes(hhmm):
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def clock(m):
    return f"{m // 60:02d}:{m % 60:02d}"


def solve_cpsat(inst, time_limit_s, workers):
    """The model of `infusio-sched` in CP-SAT: a place kind and a nurse per appointment (or
    unscheduled), places of a kind as one cumulative resource, one exclusive set-up or
    take-down at a time per nurse, at most max_patients monitored per nurse, the shift
    covering [start, end], starts on the grid. Places are given after solving, greedily by
    start, which always succeeds for identical places."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    open_m, close_m = minutes(inst["day"]["open"]), minutes(inst["day"]["close"])
    chairs, nurses, appts = inst["chairs"], inst["nurses"], inst["appointments"]
    horizon = max(minutes(n["end"]) for n in nurses)
    # Places of one kind are identical, so a cumulative of capacity "number of places of
    # that kind" is exact: intervals that never overlap more than m at once can always be
    # given m places (interval graphs are perfect; the greedy by start below does it).
    # An appointment that accepts either kind chooses one (in_bed).
    n_beds = sum(1 for ch in chairs if ch["kind"] == "bed")
    n_plain = len(chairs) - n_beds
    bed_iv, plain_iv = [], []
    excl_iv = [[] for _ in nurses]
    mon_iv = [[] for _ in nurses]
    terms, vars_of = [], []
    for a in appts:
        d, su, td = a["duration_minutes"], a["setup_minutes"], a["takedown_minutes"]
        ready = minutes(a["ready"])
        est = -(-max(ready, open_m) // GRID) * GRID
        present = m.NewBoolVar("")
        k = m.NewIntVar(est // GRID, max(est // GRID, (horizon - d) // GRID), "")
        s = m.NewIntVar(est, max(est, horizon - d), "")
        m.Add(s == GRID * k)
        in_bed = m.NewBoolVar("")
        in_plain = m.NewBoolVar("")
        m.Add(in_bed + in_plain == present)
        if a["needs"] == "bed" or n_plain == 0:
            m.Add(in_plain == 0)
        if a["needs"] == "chair" or n_beds == 0:
            m.Add(in_bed == 0)
        bed_iv.append(m.NewOptionalFixedSizeIntervalVar(s, d, in_bed, ""))
        plain_iv.append(m.NewOptionalFixedSizeIntervalVar(s, d, in_plain, ""))
        zs = []
        for n, nu in enumerate(nurses):
            ns, ne = minutes(nu["start"]), minutes(nu["end"])
            if max(est, ns) + d > ne:
                continue
            z = m.NewBoolVar("")
            m.Add(s >= ns).OnlyEnforceIf(z)
            m.Add(s + d <= ne).OnlyEnforceIf(z)
            if su > 0:
                excl_iv[n].append(m.NewOptionalFixedSizeIntervalVar(s, su, z, ""))
            if td > 0:
                excl_iv[n].append(m.NewOptionalFixedSizeIntervalVar(s + d - td, td, z, ""))
            mon_iv[n].append(m.NewOptionalFixedSizeIntervalVar(s, d, z, ""))
            zs.append((n, z))
        m.Add(sum(z for _, z in zs) == present)
        wait = m.NewIntVar(0, horizon, "")
        over = m.NewIntVar(0, horizon, "")
        m.Add(wait == s - ready).OnlyEnforceIf(present)
        m.Add(wait == 0).OnlyEnforceIf(present.Not())
        m.Add(over >= s + d - close_m).OnlyEnforceIf(present)
        m.Add(over == 0).OnlyEnforceIf(present.Not())
        terms.append(W_UNSCHEDULED * (1 - present) + W_OVERTIME * over + W_WAIT * wait)
        vars_of.append((present, s, in_bed, zs))
    m.AddCumulative(bed_iv, [1] * len(bed_iv), n_beds)
    m.AddCumulative(plain_iv, [1] * len(plain_iv), n_plain)
    for n, nu in enumerate(nurses):
        m.AddNoOverlap(excl_iv[n])
        m.AddCumulative(mon_iv[n], [1] * len(mon_iv[n]), nu["max_patients"])
    m.Minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 1
    status = solver.Solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # No plan within the limit (UNKNOWN): CP-SAT reports no objective, only its bound.
        return {"objective": None, "status": solver.StatusName(status),
                "bound": int(-(-solver.BestObjectiveBound() // 1)), "optimal": False}
    assignments, unscheduled, placed = [], [], []
    for a, (present, s, in_bed, zs) in zip(appts, vars_of):
        if not solver.Value(present):
            unscheduled.append(a["id"])
            continue
        n = next(n for n, z in zs if solver.Value(z))
        placed.append((solver.Value(s), a, "bed" if solver.Value(in_bed) else "chair", n))
    free_at = {c["id"]: 0 for c in chairs}
    for start, a, kind, n in sorted(placed, key=lambda p: p[0]):
        c = next(c["id"] for c in chairs if c["kind"] == kind and free_at[c["id"]] <= start)
        free_at[c] = start + a["duration_minutes"]
        assignments.append({
            "appointment": a["id"], "chair": c, "nurse": nurses[n]["id"],
            "start": clock(start), "end": clock(start + a["duration_minutes"]),
        })
    return {
        "plan": {"assignments": assignments, "unscheduled": unscheduled,
                 "objective": {"total": round(solver.ObjectiveValue())}},
        "objective": round(solver.ObjectiveValue()),
        "bound": int(-(-solver.BestObjectiveBound() // 1)),
        "optimal": status == cp_model.OPTIMAL,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="1")
    p.add_argument("--sizes", default="30,100,300")
    p.add_argument("--limits", default="10,90", help="CP-SAT time limits in seconds")
    p.add_argument("--infusio-limit", default="10")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--bin", default=None, help="an `infusio` binary (default: see above)")
    args = p.parse_args()
    ensure_ortools()
    if args.bin is None:
        args.bin = os.path.join(TARGET, "release", "infusio")
        if not os.path.exists(args.bin):
            subprocess.run(["cargo", "build", "--release", "-p", "infusio-sched", "--example", "schedule"],
                           cwd=ROOT, check=True)
            args.bin = os.path.join(TARGET, "release", "examples", "schedule")
    print(f"Infusio side: {args.bin}", file=sys.stderr)
    limits = [int(x) for x in args.limits.split(",") if x]
    rows = []
    for size in [int(x) for x in args.sizes.split(",")]:
        places, n_nurses, n_appts = SIZES[size]
        for seed in [int(x) for x in args.seeds.split(",")]:
            inst = infusio(args.bin, ["generate"], {
                "n_chairs": places, "n_nurses": n_nurses, "n_appointments": n_appts, "seed": seed})
            inst.pop("seed", None)
            ours = infusio(args.bin, ["solve"], dict(inst, time_limit=f"{args.infusio_limit} s"))
            row = {"size": f"{places}/{n_nurses}/{n_appts}", "seed": seed,
                   "infusio": ours["objective"]["total"], "infusio_bound": ours["lower_bound"],
                   "infusio_s": ours["solver"]["elapsed_s"],
                   "infusio_stop": ours["solver"]["stopped_by"]}
            for limit in limits:
                r = solve_cpsat(inst, limit, args.workers)
                if r["objective"] is None:
                    row[f"cpsat{limit}"] = None
                    row[f"cpsat{limit}_bound"] = r["bound"]
                    row[f"cpsat{limit}_status"] = r["status"]
                    continue
                checked = infusio(args.bin, ["check"], {"instance": inst, "plan": r["plan"]})
                if not checked["valid"]:
                    raise RuntimeError(f"CP-SAT plan refused by infusio check: {checked['violations'][:3]}")
                row[f"cpsat{limit}"] = r["objective"]
                row[f"cpsat{limit}_bound"] = r["bound"]
                row[f"cpsat{limit}_optimal"] = r["optimal"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    load = os.getloadavg()
    head = ["day (places/nurses/appts)", "seed", f"infusio {args.infusio_limit} s", "infusio bound"]
    for limit in limits:
        head += [f"CP-SAT {limit} s", f"CP-SAT {limit} s bound"]
    head += [f"infusio vs CP-SAT {limits[-1]} s"] if limits else []
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["size"], str(r["seed"]), f"{r['infusio']} ({r['infusio_stop']}, {r['infusio_s']:.1f} s)",
                 str(r["infusio_bound"])]
        for limit in limits:
            o = r.get(f"cpsat{limit}")
            opt = " (optimal)" if r.get(f"cpsat{limit}_optimal") else ""
            none = f"no plan ({r.get(f'cpsat{limit}_status', '?')})"
            cells += [f"{o}{opt}" if o is not None else none, str(r.get(f"cpsat{limit}_bound"))]
        if limits:
            ref = r.get(f"cpsat{limits[-1]}")
            cells.append(f"{(r['infusio'] - ref) / ref * 100:+.1f} %" if ref else "-")
        print("| " + " | ".join(cells) + " |")
    print(f"\nload average (1, 5, 15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs; CP-SAT with {args.workers} workers")


if __name__ == "__main__":
    main()
