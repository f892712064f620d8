#!/usr/bin/env python3
"""Reads ampfed Parquet ETL objects with pyarrow, independently of the Rust codec.

For each file it checks what docs/etl-format.md promises: the `ampfed.sha256` checksum (the
SHA-256 of the file with 64 ASCII zeros in place of its digits), the schema version and kind
in the footer, the window columns, and then prints per-cluster totals as one JSON object per
file, on one line each, keys sorted:

    {"clusters": {"c1": {"cpu_cost": ..., "rows": 3, "total_cost": ...}}, "file": "...",
     "kind": "allocations", "schema_version": 2, "window": [1690761600, 1690848000]}

Allocations: rows, cpu/gpu/ram/pv/load balancer/shared/total cost, and the number of label
entries (read through the map column). Assets: rows and total cost by type and overall.

Usage: pyarrow-check.py FILE.parquet...   (exits 1 on the first file that fails a check)
Needs pyarrow (pinned in scripts/versions.sh, tested with 17.0.0 and 26.0.1): `cargo xtask setup`
installs it in <cache dir>/pyarrow-venv (scripts/install-pyarrow.sh); run
target/ampfed-cache/pyarrow-venv/bin/python scripts/pyarrow-check.py FILE...
"""

import hashlib
import json
import sys

import pyarrow.parquet as pq

READS_VERSIONS = (1, 2)
KEY = b"ampfed.sha256"
# Thrift compact encoding of the value's field header and its length (64).
VALUE_HEADER = b"\x18\x40"


def fail(path, message):
    print(f"{path}: {message}", file=sys.stderr)
    sys.exit(1)


def check_checksum(path, data):
    if len(data) < 12 or not data.endswith(b"PAR1"):
        fail(path, "truncated: no PAR1 footer magic")
    footer_len = int.from_bytes(data[-8:-4], "little")
    footer_start = len(data) - 8 - footer_len
    if footer_start < 4:
        fail(path, "truncated: the footer is longer than the file")
    at = data.rfind(KEY, footer_start, len(data) - 8)
    if at < 0:
        fail(path, "no ampfed.sha256 entry in the footer")
    digits = at + len(KEY) + len(VALUE_HEADER)
    if data[at + len(KEY) : digits] != VALUE_HEADER:
        fail(path, "the ampfed.sha256 value is not 64 bytes long")
    stored = data[digits : digits + 64].decode("ascii", "replace")
    actual = hashlib.sha256(data[:digits] + b"0" * 64 + data[digits + 64 :]).hexdigest()
    if stored != actual:
        fail(path, f"checksum mismatch: footer {stored}, file {actual}")


def totals_allocations(table):
    out = {}
    columns = ["cpu_cost", "gpu_cost", "ram_cost", "pv_cost", "load_balancer_cost", "shared_cost", "total_cost"]
    data = table.select(["cluster", "labels"] + columns).to_pylist()
    for row in data:
        t = out.setdefault(row["cluster"], {c: 0.0 for c in columns} | {"rows": 0, "label_entries": 0})
        t["rows"] += 1
        # pyarrow gives a map as a list of (key, value) tuples.
        t["label_entries"] += len(row["labels"] or [])
        for c in columns:
            t[c] += row[c]
    return out


def totals_assets(table):
    out = {}
    for row in table.select(["cluster", "type", "total_cost"]).to_pylist():
        t = out.setdefault(row["cluster"], {"rows": 0, "total_cost": 0.0, "by_type": {}})
        t["rows"] += 1
        t["total_cost"] += row["total_cost"]
        t["by_type"][row["type"]] = t["by_type"].get(row["type"], 0.0) + row["total_cost"]
    return out


def check(path):
    with open(path, "rb") as f:
        data = f.read()
    check_checksum(path, data)
    parquet = pq.ParquetFile(path)
    meta = {k.decode(): v.decode() for k, v in (parquet.metadata.metadata or {}).items()}
    version = int(meta.get("ampfed.schema_version", "0"))
    if version not in READS_VERSIONS:
        fail(path, f"schema version {version}; this script reads {READS_VERSIONS}")
    kind = meta.get("ampfed.kind")
    window = [int(meta["ampfed.window_start"]), int(meta["ampfed.window_end"])]
    table = parquet.read()
    for name, expected in zip(["window_start", "window_end"], window):
        if any(v != expected for v in table.column(name).to_pylist()):
            fail(path, f"{name} differs from the footer's window")
    if kind == "allocations":
        clusters = totals_allocations(table)
    elif kind == "assets":
        clusters = totals_assets(table)
    else:
        fail(path, f"unknown kind {kind!r}")
    result = {"file": path, "kind": kind, "schema_version": version, "window": window, "clusters": clusters}
    print(json.dumps(result, sort_keys=True))


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for path in paths:
        check(path)


if __name__ == "__main__":
    main(sys.argv[1:])
