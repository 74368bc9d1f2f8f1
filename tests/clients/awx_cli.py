#!/usr/bin/env python3
"""The real `awx` CLI (awxkit 24.6.1) against gatehouse: session login with a password, and a
token from `awx login`; users list/get/create/modify/delete; cross-dialect checks through
authentik's API.

Usage: GATEHOUSE_URL=http://127.0.0.1:PORT GATEHOUSE_TOKEN=<superuser API token> python awx_cli.py
The `awx` executable is looked up beside this Python interpreter. Exits 1 on the first failure.
"""

import json
import os
import subprocess
import sys
import urllib.request
import uuid

BASE = os.environ.get("GATEHOUSE_URL", "").rstrip("/")
TOKEN = os.environ.get("GATEHOUSE_TOKEN", "")
if not BASE or not TOKEN:
    print("GATEHOUSE_URL and GATEHOUSE_TOKEN are required", file=sys.stderr)
    sys.exit(2)
AWX = os.path.join(os.path.dirname(sys.executable), "awx")
TAG = "awxcli" + uuid.uuid4().hex[:8]
PASSWORD = "pw-" + uuid.uuid4().hex


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


def awx(*args, token=None, expect_rc=0):
    env = dict(os.environ)
    env.update({"CONTROLLER_HOST": BASE, "CONTROLLER_USERNAME": "akadmin", "CONTROLLER_PASSWORD": PASSWORD})
    env.pop("CONTROLLER_OAUTH_TOKEN", None)
    if token:
        env["CONTROLLER_OAUTH_TOKEN"] = token
    p = subprocess.run([AWX, "--conf.color", "f", *args], env=env, capture_output=True, text=True, timeout=60)
    if p.returncode != expect_rc:
        raise AssertionError(f"awx {' '.join(args)} -> rc {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p.stdout


def step(name, fn):
    try:
        fn()
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001
        print(f"FAIL {name}: {e}")
        cleanup()
        sys.exit(1)


created = []


def cleanup():
    for pk in created:
        api("DELETE", f"/api/v3/core/users/{pk}/")


def main():
    status, me = api("GET", "/api/v3/core/users/me/")
    assert status == 200, status
    admin_pk = me["user"]["pk"]
    step("give akadmin a password (authentik set_password)", lambda: api("POST", f"/api/v3/core/users/{admin_pk}/set_password/", {"password": PASSWORD}))

    def list_human():
        out = awx("-f", "human", "users", "list")
        assert "akadmin" in out and "username" in out, out
    step("awx users list (session login)", list_human)

    state = {}

    def create():
        out = json.loads(awx("users", "create", "--username", TAG, "--password", "secret-1", "--first_name", "Ann", "--last_name", "Smith", "--email", f"{TAG}@example.com"))
        assert out["username"] == TAG and out["password"] == "$encrypted$", out
        state["id"] = out["id"]
        created.append(out["id"])
    step("awx users create", create)

    def cross_to_authentik():
        status, body = api("GET", f"/api/v3/core/users/?username={TAG}")
        assert status == 200 and body["pagination"]["count"] == 1, body
        assert body["results"][0]["name"] == "Ann Smith", body["results"][0]["name"]
    step("created user visible in authentik with name 'Ann Smith'", cross_to_authentik)

    def get_by_name():
        out = json.loads(awx("users", "get", TAG))
        assert out["id"] == state["id"] and "related" not in out, out
    step("awx users get <username>", get_by_name)

    def modify():
        out = json.loads(awx("users", "modify", str(state["id"]), "--first_name", "Anna"))
        assert out["first_name"] == "Anna", out
        status, body = api("GET", f"/api/v3/core/users/{state['id']}/")
        assert body["name"] == "Anna Smith", body["name"]
    step("awx users modify (name follows)", modify)

    def authentik_patch_shows_in_awx():
        status, _ = api("PATCH", f"/api/v3/core/users/{state['id']}/", {"email": f"new-{TAG}@example.com"})
        assert status == 200
        out = json.loads(awx("users", "get", str(state["id"])))
        assert out["email"] == f"new-{TAG}@example.com", out
    step("authentik PATCH shows up in awx users get", authentik_patch_shows_in_awx)

    def login_token():
        out = json.loads(awx("login"))
        state["token"] = out["token"]
        assert len(out["token"]) >= 30
        listed = json.loads(awx("users", "list", "--username", TAG, token=state["token"]))
        assert listed["count"] == 1, listed
        status, body = api("GET", "/api/v3/core/tokens/?search=awx-token")
        assert status == 200 and body["pagination"]["count"] >= 1, body
    step("awx login; token mode; token visible in authentik", login_token)

    def duplicate():
        out = awx("users", "create", "--username", TAG, "--password", "x", expect_rc=1)
        assert "A user with that username already exists." in out, out
    step("duplicate username is refused", duplicate)

    def delete():
        awx("users", "delete", str(state["id"]), token=state["token"])
        status, _ = api("GET", f"/api/v3/core/users/{state['id']}/")
        assert status == 404, status
        created.remove(state["id"])
    step("awx users delete", delete)

    def me_ping():
        assert json.loads(awx("me"))["results"][0]["username"] == "akadmin"
        assert json.loads(awx("ping"))["version"]
    step("awx me / awx ping", me_ping)
    cleanup()


if __name__ == "__main__":
    main()
