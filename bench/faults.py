#!/usr/bin/env python3
"""Crash-safety harness: runs a write load against the real release binary, kill -9s it at random
moments, restarts it, and checks that every acknowledged write (2xx) is present and intact and
that no half-written rows exist (a user without its group membership, a token without its key).

    bench/faults.py [--backend sqlite|postgres] [--rounds 20] [--seconds 1.5]

PostgreSQL uses a fresh database on postgres://postgres@127.0.0.1:5432 (dropped at the end).
Prints one line per round and a final "faults: N clean rounds of N" line; exits 1 on any loss.
Only 127.0.0.1 is ever contacted.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "gatehouse")
TOKEN = "faults-token-0123456789abcdef0123456789abcdef"
SECRET = "faults-secret-key-0123456789abcdef0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, None


def start(env, port):
    proc = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(base + "/-/health/ready/", timeout=1) as r:
                if r.status == 200:
                    return proc, base
        except Exception:  # noqa: BLE001
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited at start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.025)
    raise SystemExit("server did not become ready")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=1.5)
    args = ap.parse_args()
    if not os.path.exists(BINARY):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="gatehouse-faults-")
    env = dict(os.environ, GATEHOUSE_BOOTSTRAP_TOKEN=TOKEN, GATEHOUSE_SECRET_KEY=SECRET, GATEHOUSE_LOG_LEVEL="error")
    dbname = None
    if args.backend == "postgres":
        dbname = "gh_faults_" + str(os.getpid())
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", f"CREATE DATABASE {dbname}"], check=True)
        env["GATEHOUSE_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{dbname}"
    else:
        env["GATEHOUSE_DATABASE_URL"] = f"sqlite://{work}/g.db"
    port = free_port()
    proc, base = start(env, port)
    status, groups = call(base, "POST", "/api/v3/core/groups/", {"name": "faults"})
    group = groups["pk"]
    acked_users = {}   # username -> the names a correct database may hold
    acked_tokens = set()
    lock = threading.Lock()
    clean = 0
    try:
        for rnd in range(1, args.rounds + 1):
            stop = threading.Event()

            def writer(wid):
                n = 0
                while not stop.is_set():
                    n += 1
                    username = f"r{rnd}-w{wid}-{n}"
                    try:
                        s, body = call(base, "POST", "/api/v3/core/users/", {"username": username, "name": "v1", "groups": [group]}, timeout=2)
                        if s == 201:
                            # Until the PATCH is acknowledged, either name is a correct outcome.
                            with lock:
                                acked_users[username] = {"v1", "v2"}
                            s, _ = call(base, "PATCH", f"/api/v3/core/users/{body['pk']}/", {"name": "v2"}, timeout=2)
                            if s == 200:
                                with lock:
                                    acked_users[username] = {"v2"}
                            s, _ = call(base, "POST", "/api/v3/core/tokens/", {"identifier": f"t-{username}", "user": body["pk"]}, timeout=2)
                            if s == 201:
                                with lock:
                                    acked_tokens.add(f"t-{username}")
                    except Exception:  # noqa: BLE001 - the server is being killed
                        pass

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(0.2, args.seconds))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop.set()
            for t in threads:
                t.join()
            proc, base = start(env, port)
            lost = []
            s, body = call(base, "GET", f"/api/v3/core/users/?path=users&page_size=100&groups_by_pk={group}")
            members = body["pagination"]["count"] if s == 200 else -1
            with lock:
                expected = dict(acked_users)
                tokens = set(acked_tokens)
            for username, name in expected.items():
                s, body = call(base, "GET", f"/api/v3/core/users/?username={username}")
                rows = body["results"] if s == 200 else []
                if len(rows) != 1 or rows[0]["name"] not in name or group not in rows[0]["groups"]:
                    lost.append(username)
            for identifier in tokens:
                s, body = call(base, "GET", f"/api/v3/core/tokens/{identifier}/view_key/")
                if s != 200 or not body or len(body.get("key", "")) != 60:
                    lost.append(identifier)
            total_users = call(base, "GET", "/api/v3/core/users/?path=users&page_size=1")[1]["pagination"]["count"]
            half = total_users - 1 - members  # users without their group row (akadmin excluded)
            ok = not lost and half == 0
            clean += ok
            print(f"round {rnd}: acknowledged users {len(expected)}, tokens {len(tokens)}; lost {len(lost)}; users without their group {half}; {'clean' if ok else 'LOSS ' + ', '.join(lost[:5])}", flush=True)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
        if dbname:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", f"DROP DATABASE IF EXISTS {dbname}"])
    print(f"faults: {clean} clean rounds of {args.rounds} ({args.backend})")
    sys.exit(0 if clean == args.rounds else 1)


if __name__ == "__main__":
    main()
