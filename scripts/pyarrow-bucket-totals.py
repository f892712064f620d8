#!/usr/bin/env python3
"""Reads ampfed's federated ETL straight from the bucket with pyarrow's S3 filesystem (the AWS
C++ SDK, independent of the Rust S3 client and Parquet codec) and prints cost totals as one
JSON object, keys sorted:

    {"pyarrow": "26.0.1",
     "combined": {"objects": 6, "allocations": {...}, "assets": {...}, "idle": {...}},
     "clusters": {...the same, read from each cluster's own folder...}}

`combined` reads `federated/combined/etl/{allocations,assets}/1d/*.parquet`, the federator's
output (Kubecost 1.x); `clusters` reads every `federated/<cluster>/etl/…/1d/*.parquet` other
than `combined`, as Kubecost 2.x's aggregator does. Each holds:

- `allocations`: `by_cluster` and `by_namespace`, each `{key: {cpu_cost, gpu_cost, ram_cost,
  pv_cost, load_balancer_cost, shared_cost, total_cost, rows}}`, summed by pyarrow's
  `Table.group_by` over every row (so `__idle__` rows, if a writer stored any, count too);
- `assets`: `by_cluster`, `{cluster: {total_cost, rows}}`;
- `idle`: per cluster, the nodes' CPU, RAM and GPU cost (CPU and RAM after the node's
  discount) less the allocations' CPU, RAM and GPU cost: Kubecost's idle, as long as no
  resource of a cluster is allocated beyond its nodes' cost (idle is never negative there);
- `objects`: how many objects were read. Every object's `ampfed.sha256` checksum is checked
  first, with `pyarrow-check.py`'s `check_checksum` (the file beside this one).

Usage: pyarrow-bucket-totals.py --endpoint http://127.0.0.1:PORT --bucket BUCKET --region R
with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (passed to pyarrow
explicitly; set AWS_EC2_METADATA_DISABLED=true so the SDK never asks an instance metadata
service). Installed by `cargo xtask setup` (scripts/install-pyarrow.sh, pinned in
scripts/versions.sh) in <cache dir>/pyarrow-venv.
"""

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

ALLOCATION_COSTS = ["cpu_cost", "gpu_cost", "ram_cost", "pv_cost", "load_balancer_cost", "shared_cost", "total_cost"]
COMBINED = "combined"
# Objects are small (a day of a few clusters); a bound keeps a wrong bucket from being read whole.
MAX_OBJECT_BYTES = 256 * 1024 * 1024


def load_check():
    # Loaded from its file: leave no __pycache__ in the work tree.
    sys.dont_write_bytecode = True
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location("pyarrow_check", here / "pyarrow-check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parquet_files(fs, folder):
    """The `.parquet` objects directly in `folder` (bucket/prefix), sorted; none if it is absent."""
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True, recursive=False))
    return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet"))


def checked(fs, check, paths):
    """`paths`, after checking each object's size and checksum (read through the filesystem)."""
    for path in paths:
        with fs.open_input_file(path) as f:
            if f.size() > MAX_OBJECT_BYTES:
                check.fail(path, f"{f.size()} bytes, over {MAX_OBJECT_BYTES}")
            check.check_checksum(path, f.read())
    return paths


def grouped(table, key, columns):
    """`{key value: {column: sum, ..., "rows": n}}` by pyarrow's own group_by."""
    aggregations = [(c, "sum") for c in columns] + [([], "count_all")]
    out = {}
    for row in table.group_by(key).aggregate(aggregations).to_pylist():
        entry = {c: row[f"{c}_sum"] for c in columns}
        entry["rows"] = row["count_all"]
        out[row[key]] = entry
    return out


def read(fs, paths, columns):
    """One table of `columns` over the Parquet objects `paths` (an empty table for none)."""
    if not paths:
        return None
    return ds.dataset(paths, filesystem=fs, format="parquet").to_table(columns=columns)


def totals(fs, check, bucket, sources):
    """The totals over the daily objects of `sources` (cluster folders under `federated/`)."""
    alloc_paths, asset_paths = [], []
    for source in sources:
        base = f"{bucket}/federated/{source}/etl"
        alloc_paths += checked(fs, check, parquet_files(fs, f"{base}/allocations/1d"))
        asset_paths += checked(fs, check, parquet_files(fs, f"{base}/assets/1d"))
    allocs = read(fs, alloc_paths, ["cluster", "namespace"] + ALLOCATION_COSTS)
    assets = read(fs, asset_paths, ["cluster", "type", "cpu_cost", "ram_cost", "gpu_cost", "discount", "total_cost"])
    result = {"objects": len(alloc_paths) + len(asset_paths), "allocations": {}, "assets": {}, "idle": {}}
    if allocs is not None:
        result["allocations"] = {
            "by_cluster": grouped(allocs, "cluster", ALLOCATION_COSTS),
            "by_namespace": grouped(allocs, "namespace", ALLOCATION_COSTS),
        }
    if assets is not None:
        result["assets"] = {"by_cluster": grouped(assets, "cluster", ["total_cost"])}
        nodes = assets.filter(pc.equal(assets["type"], "Node"))
        resources = {}
        for row in nodes.to_pylist():
            r = resources.setdefault(row["cluster"], {"cpu": 0.0, "ram": 0.0, "gpu": 0.0})
            kept = 1.0 - (row["discount"] or 0.0)
            r["cpu"] += row["cpu_cost"] * kept
            r["ram"] += row["ram_cost"] * kept
            r["gpu"] += row["gpu_cost"]
        if allocs is not None:
            for row in allocs.select(["cluster", "cpu_cost", "ram_cost", "gpu_cost"]).to_pylist():
                r = resources.setdefault(row["cluster"], {"cpu": 0.0, "ram": 0.0, "gpu": 0.0})
                r["cpu"] -= row["cpu_cost"]
                r["ram"] -= row["ram_cost"]
                r["gpu"] -= row["gpu_cost"]
        result["idle"] = {c: max(r["cpu"], 0.0) + max(r["ram"], 0.0) + max(r["gpu"], 0.0) for c, r in resources.items()}
    return result


def clusters(fs, bucket):
    """The cluster folders under `federated/`, without `combined` (the layout's reserved id)."""
    infos = fs.get_file_info(pafs.FileSelector(f"{bucket}/federated", allow_not_found=True, recursive=False))
    names = (i.base_name for i in infos if i.type == pafs.FileType.Directory)
    return sorted(n for n in names if n.lower() != COMBINED)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="http://host:port of the S3 server")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--region", required=True)
    args = parser.parse_args()
    scheme, _, host = args.endpoint.partition("://")
    if scheme not in ("http", "https") or not host:
        parser.error(f"--endpoint {args.endpoint!r} is not http(s)://host:port")
    try:
        access_key, secret_key = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    except KeyError as e:
        parser.error(f"{e.args[0]} is not set")
    fs = pafs.S3FileSystem(
        access_key=access_key,
        secret_key=secret_key,
        region=args.region,
        scheme=scheme,
        endpoint_override=host.rstrip("/"),
        connect_timeout=10,
        request_timeout=30,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=2),
    )
    check = load_check()
    found = clusters(fs, args.bucket)
    result = {
        "pyarrow": pa.__version__,
        "cluster_folders": found,
        COMBINED: totals(fs, check, args.bucket, [COMBINED]),
        "clusters": totals(fs, check, args.bucket, found),
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
