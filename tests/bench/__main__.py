"""``make bench``: performance figures, each a ratio against a baseline measured in the same run.

Budgets (docs/ARCHITECTURE.md, DESIGN.md): API cold start <= 1.5x importing boto3 + pynamodb.models; field
encryption >= 1,000 encrypt+decrypt pairs/s for a 2 KB assessment response; known and unknown emails cost the same
(ratio 1.00) on the public identity routes; a password check under 100 ms on the slowest inputs known; an audited
read costs one DynamoDB write more than an unaudited one; a filtered page <= 1.5x the first page at 1,000, 10,000
and 50,000 records. Ratios, not seconds, so that the figures compare across machines; nothing here fails a build.
"""

from __future__ import annotations

import importlib
import sys

MODULES = [
    "tests.bench.bench_cold_start",
    "tests.bench.bench_crypto",
    "tests.bench.bench_backup",
    "tests.bench.bench_enumeration",
    "tests.bench.bench_passwords",
    "tests.bench.bench_audited_read",
    "tests.bench.bench_list_scale",
]


def main() -> int:
    rows = []
    for name in MODULES:
        module = importlib.import_module(name)
        rows.extend(module.measure())
    width = max(len(r["name"]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>12}  {'baseline':>12}  {'ratio':>7}  budget")
    for r in rows:
        ratio = r["value"] / r["baseline_value"] if r["baseline_value"] else float("nan")
        print(
            f"{r['name']:<{width}}  {r['value']:>10.1f} {r['unit']:<2}"
            f"{r['baseline_value']:>11.1f}    {ratio:>6.2f}x  {r['budget']}  (baseline: {r['baseline']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
