#!/usr/bin/env python3
"""A bounded load test of `nabla serve` (issue 23): REQUESTS predict requests of one instance
each over CONCURRENCY keep-alive connections, then it stops; then malformed, oversized and
wrongly shaped requests, each of which must get a 4xx naming the problem while the server
keeps serving. Prints one JSON line: throughput, latency percentiles, errors, and the
server's memory (VmRSS of --pid) after the warm-up and at the end.

    nabla serve w1=runs/w1/model.safetensors --port 8080 [--max-batch 64] &
    python3 scripts/load_test.py --url http://127.0.0.1:8080 --model w1 --numbers 784 --pid $!

Python's standard library only; exits 1 on any error."""
import argparse, http.client, json, random, sys, threading, time, urllib.parse


def rss_kib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", required=True)
    ap.add_argument("--numbers", type=int, required=True, help="values of one instance")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=None,
                    help="requests before the memory is read (default: half of them)")
    ap.add_argument("--pid", type=int, default=0, help="the server's process id (memory)")
    a = ap.parse_args()
    a.warmup = a.requests // 2 if a.warmup is None else a.warmup
    u = urllib.parse.urlparse(a.url)
    path = f"/v1/models/{a.model}:predict"
    rng = random.Random(0)
    bodies = [json.dumps({"instances": [[round(rng.random(), 4) for _ in range(a.numbers)]]})
              for _ in range(64)]
    lock, latencies, errors, next_k = threading.Lock(), [], [], [0]
    rss = {}

    def worker():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        while True:
            with lock:
                k = next_k[0]
                if k >= a.requests:
                    break
                next_k[0] += 1
                if k == a.warmup:
                    rss["warm"] = rss_kib(a.pid)
            t = time.perf_counter()
            try:
                c.request("POST", path, bodies[k % len(bodies)], {"Content-Type": "application/json"})
                r = c.getresponse()
                body = r.read()
                ok = r.status == 200 and b"predictions" in body
            except Exception as e:  # a dropped connection counts as an error, then reconnect
                ok, body = False, str(e).encode()
                c.close()
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                if not ok:
                    errors.append(body[:200].decode(errors="replace"))
        c.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    rss["end"] = rss_kib(a.pid)

    # hostile requests: each a 4xx with an error naming the problem; then still serving
    bad = [
        ("{not json", 400, "JSON"),
        (json.dumps({"instances": [[1, 2, 3]]}), 400, f"expected {a.numbers} numbers"),
        (json.dumps({"instances": [["x"] * a.numbers]}), 400, "numbers"),
        (json.dumps({"rows": []}), 400, "instances"),
        ("[" + "1," * (20 << 20) + "1]", 413, ""),
    ]
    refused = []
    for body, code, says in bad:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            c.request("POST", path, body, {"Content-Type": "application/json"})
            r = c.getresponse()
            text = r.read().decode(errors="replace")
            good = r.status == code and says in text
        except (BrokenPipeError, ConnectionResetError) as e:  # an oversized body may be cut off
            good, text = code == 413, str(e)
        c.close()
        refused.append({"expected": code, "ok": good})
        if not good:
            errors.append(f"hostile request expected {code} naming '{says}', received: {text[:200]}")
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("POST", path, bodies[0], {"Content-Type": "application/json"})
    if c.getresponse().status != 200:
        errors.append("the server stopped serving after the hostile requests")

    lat = sorted(latencies)
    q = lambda p: round(1e3 * lat[min(len(lat) - 1, int(p * len(lat)))], 3)
    print(json.dumps({
        "model": a.model, "requests": a.requests, "concurrency": a.concurrency,
        "errors": len(errors), "requests_per_s": round(a.requests / wall, 1),
        "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": round(1e3 * lat[-1], 3),
        "rss_kib_after_warmup": rss.get("warm"), "rss_kib_end": rss.get("end"),
        "hostile_refused": sum(r["ok"] for r in refused), "hostile_sent": len(refused),
    }))
    for e in errors[:5]:
        print("error:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
