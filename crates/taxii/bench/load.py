#!/usr/bin/env python3
"""TAXII 2.1 load test: the workload of `detente bench taxii`, for any server.

Loads N indicators into a collection in envelopes of --batch objects from
--concurrency threads, then times pages of 100 objects starting at random
points (added_after) and match[id] lookups of random loaded objects. Prints a
summary line and, with --json, one JSON object as the last line, with the same
keys as the Rust benchmark.
"""
import argparse
import concurrent.futures
import datetime
import json
import math
import random
import sys
import time
import uuid

import requests

TAXII = "application/taxii+json;version=2.1"


def indicator(obj_id, n):
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": obj_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "bench indicator %d" % n,
        "pattern": "[ipv4-addr:value = '10.%d.%d.%d']" % (n >> 16 & 255, n >> 8 & 255, n & 255),
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }


def session(args):
    s = requests.Session()
    s.auth = (args.user, args.password)
    s.headers.update({"Accept": TAXII})
    return s


def ingest(args, objects_url, ids):
    bodies = []
    for start in range(0, len(ids), args.batch):
        chunk = ids[start:start + args.batch]
        objs = [indicator(i, start + j) for j, i in enumerate(chunk)]
        bodies.append(json.dumps({"objects": objs}))
    sessions = [session(args) for _ in range(args.concurrency)]
    # One authenticated request per connection before timing, so servers that
    # verify passwords slowly once (argon2) and then cache are not charged for it.
    for s in sessions:
        s.get(objects_url, params={"limit": "1"}).raise_for_status()

    def post(k):
        s = sessions[k % args.concurrency]
        r = s.post(objects_url, data=bodies[k], headers={"Content-Type": TAXII})
        if r.status_code != 202:
            raise RuntimeError("POST answered %d: %s" % (r.status_code, r.text[:200]))
        if r.json().get("failure_count", 0) != 0:
            raise RuntimeError("objects refused: %s" % r.text[:500])

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        # Threads take envelopes in order, like the Rust benchmark's workers.
        list(pool.map(post, range(len(bodies))))
    return len(ids) / (time.perf_counter() - started)


def parse_ts(text):
    text = text.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
    return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)


def fmt_ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def date_range(s, objects_url, ids):
    r = s.get(objects_url, params={"limit": "1"})
    r.raise_for_status()
    first = parse_ts(r.headers["X-TAXII-Date-Added-First"])
    r = s.get(objects_url, params={"match[id]": ids[-1]})
    r.raise_for_status()
    last = r.headers.get("X-TAXII-Date-Added-Last") or r.headers["X-TAXII-Date-Added-First"]
    return first, parse_ts(last)


def percentile(times, p):
    times = sorted(times)
    rank = max(1, min(len(times), math.ceil(p / 100.0 * len(times))))
    return times[rank - 1] * 1000.0


def measure_pages(s, objects_url, first, last, samples, rng):
    span = (last - first).total_seconds()
    times = []
    for _ in range(samples):
        after = first + datetime.timedelta(seconds=rng.random() * span)
        started = time.perf_counter()
        r = s.get(objects_url, params={"limit": "100", "added_after": fmt_ts(after)})
        body = r.content
        times.append(time.perf_counter() - started)
        if r.status_code != 200 or not body:
            raise RuntimeError("page request answered %d" % r.status_code)
    return times


def measure_lookups(s, objects_url, ids, samples, rng):
    times = []
    for _ in range(samples):
        obj_id = rng.choice(ids)
        started = time.perf_counter()
        r = s.get(objects_url, params={"match[id]": obj_id})
        envelope = r.json()
        times.append(time.perf_counter() - started)
        if envelope["objects"][0]["id"] != obj_id:
            raise RuntimeError("lookup of %s returned %s" % (obj_id, envelope))
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--api-root", required=True, help="API root URL ending in /")
    p.add_argument("--collection", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--name", default="server")
    p.add_argument("--objects", type=int, default=10000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    objects_url = "%scollections/%s/objects/" % (args.api_root, args.collection)
    ids = ["indicator--%s" % uuid.uuid4() for _ in range(args.objects)]
    rate = ingest(args, objects_url, ids)
    if args.samples == 0:
        # Ingest only: medallion's reads take minutes at 10,000 objects.
        result = {"implementation": args.name, "client": "python-requests", "objects": args.objects,
                  "batch": args.batch, "concurrency": args.concurrency, "ingest_objects_per_s": round(rate)}
        print("%s: %d objects, ingest %d objects/s" % (args.name, args.objects, result["ingest_objects_per_s"]))
        if args.json:
            print(json.dumps(result))
        return 0
    s = session(args)
    first, last = date_range(s, objects_url, ids)
    rng = random.Random(42)
    pages = measure_pages(s, objects_url, first, last, args.samples, rng)
    lookups = measure_lookups(s, objects_url, ids, args.samples, rng)
    result = {
        "implementation": args.name,
        "client": "python-requests",
        "objects": args.objects,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "ingest_objects_per_s": round(rate),
        "page_p50_ms": round(percentile(pages, 50), 3),
        "page_p99_ms": round(percentile(pages, 99), 3),
        "match_id_p50_ms": round(percentile(lookups, 50), 3),
        "match_id_p99_ms": round(percentile(lookups, 99), 3),
    }
    print("%s: %d objects, ingest %d objects/s, page(100) p99 %.3f ms, match[id] p99 %.3f ms" % (
        args.name, args.objects, result["ingest_objects_per_s"], result["page_p99_ms"],
        result["match_id_p99_ms"]))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
