"""Schemathesis hooks for gatehouse's conformance run (`tests/clients/schemathesis.sh`).

Three jobs, nothing else:

1. `before_load_schema` amends authentik's OpenAPI documents (never gatehouse's own) with responses authentik itself
   gives but its generated schema does not declare (each one cited from
   `docs/compatibility.md`; recorded behaviour wins over the OpenAPI document there too).
   Every amendment is narrow: one status or one field shape on the operations that answer it.
2. `before_call` keeps the run from locking itself out: a superuser fuzzing its own account
   (PATCH `is_active: false`), its own groups (PUT `users: []`) or its own token would turn every
   later request into a 403. Requests aimed at those objects are sent to an id that does not
   exist instead (still a real request, answered 404).
3. `flatmap_path_parameters` lets generated requests reach real objects: at load it creates one
   user (with a group, a role and a token) and picks an existing event and permission; half of
   the generated path parameters then name those instead of random ids, which would otherwise
   all be 404s. DELETEs keep their random ids so the seeded objects last the whole run (the
   stateful phase deletes what it creates itself).

Environment: GATEHOUSE_URL and GATEHOUSE_TOKEN (the caller), GATEHOUSE_TOKEN_IDENTIFIER
(default `authentik-bootstrap-token`), GATEHOUSE_SEED_TOKEN (a superuser key for seeding when
the caller is not one; default GATEHOUSE_TOKEN).
"""

import json
import os
import urllib.request

import schemathesis
from hypothesis import strategies as st

GENERIC_ERROR = {"$ref": "#/components/schemas/GenericError"}
METHODS = ("get", "post", "put", "patch", "delete")


def _json_response(schema):
    return {"description": "", "content": {"application/json": {"schema": schema}}}


def _operations(raw_schema):
    for path, item in raw_schema.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _has_query(raw_schema, operation, name):
    for param in operation.get("parameters", []):
        if "$ref" in param:
            param = raw_schema["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
        if param.get("in") == "query" and param.get("name") == name:
            return True
    return False


@schemathesis.hook
def before_load_schema(context, raw_schema):
    # gatehouse's own document declares what the server answers: it is checked as it is.
    if raw_schema.get("info", {}).get("title") == "gatehouse":
        return
    schemas = raw_schema["components"]["schemas"]
    for path, method, operation in _operations(raw_schema):
        responses = operation["responses"]
        # A lookup that matches nothing is a 404 `{"detail": …}` on every detail route and
        # action (docs/compatibility.md#urls-and-content-types); a page past the end of a list is
        # a 404 `Invalid page.` (#pagination-envelope). The schema declares 404 only on
        # add_user/remove_user/view_key/set_key.
        if "{" in path or _has_query(raw_schema, operation, "page"):
            responses.setdefault("404", _json_response(GENERIC_ERROR))
        # The JSON `attributes` filter rejects bad input with a top-level array
        # (`["filter: failed to parse JSON"]`), not an object (docs/compatibility.md#error-shapes).
        if _has_query(raw_schema, operation, "attributes") and "400" in responses:
            responses["400"] = _json_response(
                {"oneOf": [{"$ref": "#/components/schemas/ValidationError"},
                           {"type": "array", "items": {"type": "string"}}]}
            )
        # Errors raised inside recovery, recovery_email and impersonate are bare strings
        # (`{"non_field_errors": "No recovery flow set."}`), not lists
        # (docs/compatibility.md#error-shapes).
        if path.endswith(("/recovery/", "/recovery_email/", "/impersonate/")):
            responses["400"] = _json_response({"type": "object", "additionalProperties": {}})
        # Deviation 11 (README): the audit log is read-only through the API, so
        # creating, changing or deleting an event is a 405 `Method "…" not allowed.`.
        if path.startswith("/events/events/") and method != "get" and not path.endswith("/export/"):
            responses.setdefault("405", _json_response(GENERIC_ERROR))
        # impersonate answers 401 with an empty body when impersonation is disabled, which is
        # what gatehouse (no browser sessions) always answers (docs/compatibility.md#user-actions).
        if path.endswith("/impersonate/"):
            responses.setdefault("401", {"description": "Impersonation disabled"})
    # Recorded samples (02, 07, 27, … in docs/compatibility.md#authentik-core-samples): users
    # without an address have `"email": ""` — Django's EmailField is blank=True — which
    # `format: email` would reject. Response shapes only.
    for name in ("User", "PartialUser", "UserSelf"):
        email = schemas.get(name, {}).get("properties", {}).get("email")
        if email is not None and email.get("format") == "email":
            email.pop("format")
            email["anyOf"] = [{"format": "email"}, {"maxLength": 0}]
    # docs/compatibility.md#audit-events: volume's `time` is a bucket start without offset
    # (`2026-11-23T12:00:00`), which `format: date-time` rejects.
    time = schemas.get("EventVolume", {}).get("properties", {}).get("time")
    if time is not None and time.get("format") == "date-time":
        time.pop("format")
        time["pattern"] = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"


def _call(method, path, body=None):
    base = os.environ.get("GATEHOUSE_URL", "").rstrip("/")
    token = os.environ.get("GATEHOUSE_SEED_TOKEN") or os.environ.get("GATEHOUSE_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"{base}/api/v3{path}", data=data, headers=headers,
                                     method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def _seed():
    """Real objects for generated requests to address, by path parameter name."""
    name = f"st-seed-{os.getpid()}"
    user = _call("POST", "/core/users/", {"username": name, "name": "Seed User",
                                          "email": f"{name}@example.com"})
    group = _call("POST", "/core/groups/", {"name": name, "users": [user["pk"]]})
    role = _call("POST", "/rbac/roles/", {"name": name})
    _call("POST", f"/rbac/roles/{role['pk']}/add_user/", {"pk": user["pk"]})
    token = _call("POST", "/core/tokens/", {"identifier": name, "user": user["pk"],
                                            "intent": "api", "expiring": False})
    event = _call("GET", "/events/events/?page_size=1")["results"][0]
    permission = _call("GET", "/rbac/permissions/?page_size=1")["results"][0]
    return {
        "/core/users/": {"id": user["pk"]},
        "/core/groups/": {"group_uuid": group["pk"]},
        "/core/tokens/": {"identifier": token["identifier"]},
        "/rbac/roles/": {"uuid": role["pk"]},
        "/rbac/permissions/assigned_by_roles/": {"uuid": role["pk"]},
        "/rbac/permissions/": {"id": permission["id"]},
        "/events/events/": {"event_uuid": event["pk"]},
    }


SEEDED = _seed()


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    operation = context.operation
    if not path_parameters or operation is None or operation.method.upper() == "DELETE":
        return st.just(path_parameters)
    for prefix, values in sorted(SEEDED.items(), key=lambda kv: -len(kv[0])):
        if operation.path.startswith(prefix):
            real = {**path_parameters, **{k: v for k, v in values.items() if k in path_parameters}}
            return st.sampled_from([path_parameters, real])
    return st.just(path_parameters)


def _protected():
    """The caller's own user, groups and token, by the route prefix that addresses them: never
    fuzzed (see the module docstring)."""
    base = os.environ.get("GATEHOUSE_URL", "").rstrip("/")
    token = os.environ.get("GATEHOUSE_TOKEN", "")
    request = urllib.request.Request(
        f"{base}/api/v3/core/users/me/", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        me = json.load(response)["user"]
    identifier = os.environ.get("GATEHOUSE_TOKEN_IDENTIFIER", "authentik-bootstrap-token")
    return {
        "/core/users/": ({str(me["pk"])}, 2_000_000_000),
        "/core/groups/": ({str(g["pk"]) for g in me.get("groups", [])},
                          "00000000-0000-4000-8000-000000000000"),
        "/core/tokens/": ({identifier}, "schemathesis-absent-token"),
    }


PROTECTED = _protected()


@schemathesis.hook
def before_call(context, case, kwargs):
    for prefix, (values, absent) in PROTECTED.items():
        if not case.operation.path.startswith(prefix):
            continue
        for name, value in list((case.path_parameters or {}).items()):
            if str(value) in values:
                case.path_parameters[name] = absent
