#!/usr/bin/env python3
"""The awx.awx collection's `user` module (ansible 10.7.0 bundles awx.awx 24.6.1) against
gatehouse: create, change, idempotent re-run, delete.

Usage: GATEHOUSE_URL=... GATEHOUSE_TOKEN=<superuser API token> python awx_collection.py
`ansible-playbook` is looked up beside this Python interpreter; without it the script says so and
exits 0 (the suite then only runs the awx CLI checks). Exits 1 on failure.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

BASE = os.environ.get("GATEHOUSE_URL", "").rstrip("/")
TOKEN = os.environ.get("GATEHOUSE_TOKEN", "")
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
if not BASE or not TOKEN:
    print("GATEHOUSE_URL and GATEHOUSE_TOKEN are required", file=sys.stderr)
    sys.exit(2)
if not os.path.exists(PLAYBOOK_BIN):
    print(f"ok   skipped: no ansible-playbook beside {sys.executable}")
    sys.exit(0)

PASSWORD = "pw-" + uuid.uuid4().hex
NAME = "coll" + uuid.uuid4().hex[:8]


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


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: create
      awx.awx.user: {{username: "{n}", password: "first-pw", first_name: Coll, email: "{n}@example.com", state: present, update_secrets: false}}
      register: created
    - assert: {{that: [created.changed]}}
    - name: change
      awx.awx.user: {{username: "{n}", first_name: Changed, email: "{n}@example.com", state: present, update_secrets: false}}
      register: changed
    - assert: {{that: [changed.changed]}}
    - name: re-run changes nothing
      awx.awx.user: {{username: "{n}", first_name: Changed, email: "{n}@example.com", state: present, update_secrets: false}}
      register: again
    - assert: {{that: [not again.changed]}}
    - name: delete
      awx.awx.user: {{username: "{n}", state: absent}}
      register: deleted
    - assert: {{that: [deleted.changed]}}
"""


def main():
    status, me = api("GET", "/api/v3/core/users/me/")
    assert status == 200, status
    status, _ = api("POST", f"/api/v3/core/users/{me['user']['pk']}/set_password/", {"password": PASSWORD})
    assert status == 204, status
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "users.yml")
        with open(path, "w") as f:
            f.write(PLAYBOOK.format(n=NAME))
        env = dict(os.environ)
        env.update({
            "CONTROLLER_HOST": BASE,
            "CONTROLLER_USERNAME": "akadmin",
            "CONTROLLER_PASSWORD": PASSWORD,
            "CONTROLLER_VERIFY_SSL": "false",
            "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "tmp"),
            "ANSIBLE_HOME": os.path.join(tmp, "home"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        })
        p = subprocess.run([PLAYBOOK_BIN, "-i", "localhost,", path], env=env, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            print(f"FAIL playbook rc={p.returncode}\n{p.stdout}\n{p.stderr}")
            sys.exit(1)
        print("ok   awx.awx.user create / change / idempotent re-run / delete")
    status, body = api("GET", f"/api/v3/core/users/?username={NAME}")
    assert status == 200 and body["pagination"]["count"] == 0, body
    print("ok   the user is gone from authentik's view too")


if __name__ == "__main__":
    main()
