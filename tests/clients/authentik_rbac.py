#!/usr/bin/env python3
"""RBAC round-trip against gatehouse through authentik's generated Python client.

Does, through CoreApi and RbacApi of `authentik-client` (2026.8.x), what a new user would:
two groups, a third group with both as parents, a role with a global permission
(authentik_core.view_user) and an object permission (authentik_core.view_group on one parent
group), the role attached to the child group, a user in that child group and an API token for
that user (created by the superuser). Then, with a second client using that user's key, checks
what the user may and may not do (list/retrieve vs. 403/404), reads the assignments back as
superuser, unassigns the global permission and checks it is gone on the very next call.

Usage:
    GATEHOUSE_URL=http://127.0.0.1:9000 GATEHOUSE_TOKEN=... python tests/clients/authentik_rbac.py

GATEHOUSE_URL is the server's base URL (with or without /api/v3). GATEHOUSE_TOKEN must be a
superuser's API token. Prints one line per step; exits 1 on the first failure (2 on a usage
error). Set GATEHOUSE_KEEP_GOING=1 to run every step and report all failures (still exits 1).
Every object the script creates (users, groups, role, token) has a unique prefix and is deleted
at the end, also on failure.
"""

import json
import os
import sys
import traceback
import uuid

try:
    import authentik_client
    from authentik_client.api.core_api import CoreApi
    from authentik_client.api.rbac_api import RbacApi
    from authentik_client.exceptions import (
        ApiException,
        ForbiddenException,
        NotFoundException,
    )
    from authentik_client.models.extra_role_object_permission import ExtraRoleObjectPermission
    from authentik_client.models.generic_error import GenericError
    from authentik_client.models.group import Group
    from authentik_client.models.group_request import GroupRequest
    from authentik_client.models.intent_enum import IntentEnum
    from authentik_client.models.model_enum import ModelEnum
    from authentik_client.models.paginated_extra_role_object_permission_list import (
        PaginatedExtraRoleObjectPermissionList,
    )
    from authentik_client.models.paginated_group_list import PaginatedGroupList
    from authentik_client.models.paginated_permission_list import PaginatedPermissionList
    from authentik_client.models.paginated_role_assigned_object_permission_list import (
        PaginatedRoleAssignedObjectPermissionList,
    )
    from authentik_client.models.paginated_role_list import PaginatedRoleList
    from authentik_client.models.paginated_token_list import PaginatedTokenList
    from authentik_client.models.paginated_user_list import PaginatedUserList
    from authentik_client.models.patched_group_request import PatchedGroupRequest
    from authentik_client.models.patched_permission_assign_request import (
        PatchedPermissionAssignRequest,
    )
    from authentik_client.models.patched_user_request import PatchedUserRequest
    from authentik_client.models.permission_assign_request import PermissionAssignRequest
    from authentik_client.models.permission_assign_result import PermissionAssignResult
    from authentik_client.models.role import Role
    from authentik_client.models.role_request import RoleRequest
    from authentik_client.models.session_user import SessionUser
    from authentik_client.models.token import Token
    from authentik_client.models.token_request import TokenRequest
    from authentik_client.models.token_view import TokenView
    from authentik_client.models.user import User
    from authentik_client.models.user_request import UserRequest
except ImportError as e:  # pragma: no cover
    print(f"cannot import authentik_client ({e}); pip install authentik-client", file=sys.stderr)
    sys.exit(2)


class Failed(Exception):
    pass


class Runner:
    def __init__(self, keep_going):
        self.keep_going = keep_going
        self.failures = []
        self.count = 0

    def step(self, name, fn):
        """Runs one step; returns its result, or None after a failure in keep-going mode."""
        self.count += 1
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported the same way
            tb = traceback.extract_tb(e.__traceback__)
            where = next(
                (f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(tb)
                 if f.filename == __file__), "?")
            lines = [ln.strip() for ln in str(e).strip().splitlines()
                     if ln.strip() and not ln.strip().startswith("For further information")]
            summary = f"{type(e).__name__}: {' | '.join(lines[:8])}"
            print(f"FAIL {self.count:02d} {name}: {summary} (at {where})", flush=True)
            if os.environ.get("GATEHOUSE_VERBOSE"):
                traceback.print_exc()
            self.failures.append((name, summary))
            if not self.keep_going:
                raise Failed(name) from e
            return None
        print(f"ok   {self.count:02d} {name}", flush=True)
        return result


def expect_error(call, status, exc_type, body=None, data_type=None):
    """Calls `call`, which must raise `exc_type` with `status`; checks the JSON body and that
    the client parsed it into `data_type`. Returns the parsed body."""
    try:
        got = call()
    except ApiException as e:
        assert isinstance(e, exc_type), (
            f"raised {type(e).__name__} {e.status}, expected {exc_type.__name__}; body {e.body!r}")
        assert e.status == status, f"status {e.status}, expected {status}; body {e.body!r}"
        try:
            parsed = json.loads(e.body)
        except (TypeError, ValueError) as je:
            raise AssertionError(f"error body is not JSON: {e.body!r}") from je
        if body is not None:
            assert parsed == body, f"body {parsed!r}, expected {body!r}"
        if data_type is not None:
            assert isinstance(e.data, data_type), (
                f"client did not parse the error body into {data_type.__name__} "
                f"(data={e.data!r}, body={e.body!r})")
        return parsed
    raise AssertionError(f"expected {exc_type.__name__} {status}, call succeeded: {got!r}")


def expect_forbidden(call):
    body = expect_error(call, 403, ForbiddenException, None, GenericError)
    assert isinstance(body.get("detail"), str), body
    return body


def expect_not_found(call):
    body = expect_error(call, 404, NotFoundException)
    assert isinstance(body.get("detail"), str), body
    return body


def main():
    base = os.environ.get("GATEHOUSE_URL", "").rstrip("/")
    token = os.environ.get("GATEHOUSE_TOKEN", "")
    if not base or not token:
        print("set GATEHOUSE_URL and GATEHOUSE_TOKEN", file=sys.stderr)
        return 2
    if not base.endswith("/api/v3"):
        base += "/api/v3"
    keep_going = os.environ.get("GATEHOUSE_KEEP_GOING", "") not in ("", "0", "false")

    client = authentik_client.ApiClient(
        authentik_client.Configuration(host=base, access_token=token))
    core = CoreApi(client)
    rbac = RbacApi(client)
    # The second client (the unprivileged user's key) is made once the key is known.
    user_api = {}

    run = Runner(keep_going)
    tag = "ghr" + uuid.uuid4().hex[:10]
    created_users = {}  # pk -> username
    created_groups = {}  # uuid -> name (children first on cleanup: insertion order reversed)
    created_roles = {}  # uuid -> name
    created_tokens = {}  # identifier -> None
    st = {}  # state shared between steps

    def ucore():
        assert "core" in user_api, "no user client (token step failed)"
        return user_api["core"]

    def urbac():
        assert "rbac" in user_api, "no user client (token step failed)"
        return user_api["rbac"]

    # ---- setup as superuser -------------------------------------------------------------

    def s_me():
        me = core.core_users_me_retrieve()
        assert isinstance(me, SessionUser), type(me).__name__
        assert me.user.is_superuser is True, "the token's user must be a superuser"
        st["admin"] = me.user

    def create_group(key, req):
        resp = core.core_groups_create_with_http_info(req)
        assert resp.status_code == 201, f"status {resp.status_code}"
        g = resp.data
        assert isinstance(g, Group), type(g).__name__
        created_groups[g.pk] = g.name
        st[key] = g
        assert g.name == req.name, g.name
        return g

    def s_group_a():
        g = create_group("ga", GroupRequest(name=f"{tag}-parent-a"))
        assert g.parents in ([], None), g.parents

    def s_group_b():
        create_group("gb", GroupRequest(name=f"{tag}-parent-b", attributes={"side": "b"}))

    def s_group_child():
        g = create_group("gc", GroupRequest(
            name=f"{tag}-child", parents=[st["ga"].pk, st["gb"].pk]))
        assert sorted(map(str, g.parents or [])) == sorted([str(st["ga"].pk), str(st["gb"].pk)]), (
            f"parents {g.parents!r}")

    def s_role():
        resp = rbac.rbac_roles_create_with_http_info(RoleRequest(name=f"{tag}-role"))
        assert resp.status_code == 201, f"status {resp.status_code}"
        r = resp.data
        assert isinstance(r, Role), type(r).__name__
        assert r.name == f"{tag}-role", r.name
        created_roles[r.pk] = r.name
        st["role"] = r

    def s_assign_global():
        resp = rbac.rbac_permissions_assigned_by_roles_assign_with_http_info(
            st["role"].pk, PermissionAssignRequest(permissions=["authentik_core.view_user"]))
        assert resp.status_code in (200, 201), f"status {resp.status_code}"
        assert isinstance(resp.data, list) and len(resp.data) == 1, resp.data
        assert all(isinstance(x, PermissionAssignResult) for x in resp.data), resp.data

    def s_assign_object():
        resp = rbac.rbac_permissions_assigned_by_roles_assign_with_http_info(
            st["role"].pk, PermissionAssignRequest(
                permissions=["authentik_core.view_group"],
                model=ModelEnum.AUTHENTIK_CORE_DOT_GROUP, object_pk=str(st["ga"].pk)))
        assert resp.status_code in (200, 201), f"status {resp.status_code}"
        assert isinstance(resp.data, list) and len(resp.data) == 1, resp.data
        assert all(isinstance(x, PermissionAssignResult) for x in resp.data), resp.data

    def s_attach_role():
        g = core.core_groups_partial_update(
            st["gc"].pk, PatchedGroupRequest(roles=[st["role"].pk]))
        assert isinstance(g, Group), type(g).__name__
        assert [str(x) for x in (g.roles or [])] == [str(st["role"].pk)], g.roles
        assert [r.pk for r in g.roles_obj] == [st["role"].pk], g.roles_obj
        assert sorted(map(str, g.parents or [])) == sorted([str(st["ga"].pk), str(st["gb"].pk)]), (
            f"PATCH roles changed parents: {g.parents!r}")
        st["gc"] = g

    def create_user(key, req):
        resp = core.core_users_create_with_http_info(req)
        assert resp.status_code == 201, f"status {resp.status_code}"
        u = resp.data
        assert isinstance(u, User), type(u).__name__
        created_users[u.pk] = u.username
        st[key] = u
        return u

    def s_user():
        u = create_user("user", UserRequest(
            username=f"{tag}-member", name="RBAC Member", groups=[st["gc"].pk]))
        assert [str(x) for x in u.groups] == [str(st["gc"].pk)], u.groups
        assert u.is_superuser is False, u.is_superuser

    def s_other_user():
        create_user("other", UserRequest(username=f"{tag}-other", name="Other"))

    def s_token():
        ident = f"{tag}-member-api"
        resp = core.core_tokens_create_with_http_info(TokenRequest(
            identifier=ident, intent=IntentEnum.API, user=st["user"].pk, expiring=False,
            description="rbac check"))
        assert resp.status_code == 201, f"status {resp.status_code}"
        t = resp.data
        assert isinstance(t, Token), type(t).__name__
        created_tokens[t.identifier] = None
        assert t.identifier == ident and t.intent == IntentEnum.API, t
        assert t.user == st["user"].pk, f"token user {t.user!r}, expected {st['user'].pk}"
        assert t.user_obj.username == st["user"].username, t.user_obj.username
        assert t.expiring is False, t.expiring
        st["token"] = t

    def s_view_key():
        resp = core.core_tokens_view_key_retrieve_with_http_info(st["token"].identifier)
        assert resp.status_code == 200, f"status {resp.status_code}"
        assert isinstance(resp.data, TokenView), type(resp.data).__name__
        key = resp.data.key
        assert key and isinstance(key, str), key
        c = authentik_client.ApiClient(authentik_client.Configuration(host=base, access_token=key))
        user_api["core"] = CoreApi(c)
        user_api["rbac"] = RbacApi(c)

    # ---- as the unprivileged user -------------------------------------------------------

    def s_u_me():
        me = ucore().core_users_me_retrieve()
        assert isinstance(me, SessionUser), type(me).__name__
        assert me.user.pk == st["user"].pk, f"me is {me.user.username!r}"
        assert me.user.is_superuser is False, me.user.is_superuser

    def s_u_users_list():
        page = ucore().core_users_list()
        assert isinstance(page, PaginatedUserList), type(page).__name__
        names = {u.username for u in page.results}
        assert page.pagination.count >= 3, page.pagination
        want = {st["user"].username, st["other"].username}
        if page.pagination.count <= len(page.results):
            want.add(st["admin"].username)
        assert want <= names, f"missing {want - names}"
        page = ucore().core_users_list(search=tag, ordering="username")
        assert [u.username for u in page.results] == [f"{tag}-member", f"{tag}-other"], (
            [u.username for u in page.results])

    def s_u_users_retrieve():
        u = ucore().core_users_retrieve(st["other"].pk)
        assert isinstance(u, User), type(u).__name__
        assert u.username == st["other"].username, u.username
        u = ucore().core_users_retrieve(st["admin"].pk)
        assert u.username == st["admin"].username, u.username

    def s_u_users_patch():
        expect_forbidden(lambda: ucore().core_users_partial_update(
            st["other"].pk, PatchedUserRequest(name="hijacked")))
        assert core.core_users_retrieve(st["other"].pk).name == "Other", "name was changed"

    def s_u_groups_list():
        page = ucore().core_groups_list()
        assert isinstance(page, PaginatedGroupList), type(page).__name__
        got = [g.pk for g in page.results]
        assert got == [st["ga"].pk], (
            f"groups {[g.name for g in page.results]}, expected [{st['ga'].name}]")
        assert page.pagination.count == 1, page.pagination

    def s_u_group_retrieve():
        g = ucore().core_groups_retrieve(st["ga"].pk)
        assert isinstance(g, Group) and g.pk == st["ga"].pk, g

    def s_u_group_retrieve_other():
        expect_not_found(lambda: ucore().core_groups_retrieve(st["gb"].pk))
        expect_not_found(lambda: ucore().core_groups_retrieve(st["gc"].pk))

    def s_u_users_create():
        expect_forbidden(lambda: ucore().core_users_create(
            UserRequest(username=f"{tag}-sneaky", name="x")))
        found = core.core_users_list(username=f"{tag}-sneaky").results
        for u in found:
            created_users[u.pk] = u.username
        assert not found, "the user was created anyway"

    def s_u_roles_list():
        expect_forbidden(lambda: urbac().rbac_roles_list())

    def s_u_tokens_list():
        page = ucore().core_tokens_list()
        assert isinstance(page, PaginatedTokenList), type(page).__name__
        got = [(t.identifier, t.user) for t in page.results]
        assert got == [(st["token"].identifier, st["user"].pk)], got

    # ---- read back as superuser ---------------------------------------------------------

    def s_roles_of_user():
        page = rbac.rbac_roles_list(users=st["user"].pk, inherited=True)
        assert isinstance(page, PaginatedRoleList), type(page).__name__
        assert [r.pk for r in page.results] == [st["role"].pk], page.results

    def s_permissions_of_role():
        page = rbac.rbac_permissions_list(role=str(st["role"].pk))
        assert isinstance(page, PaginatedPermissionList), type(page).__name__
        got = {(p.app_label, p.codename) for p in page.results}
        assert ("authentik_core", "view_user") in got, got
        assert ("authentik_core", "view_group") not in got, f"object perm listed as global: {got}"

    def s_assigned_by_roles():
        page = rbac.rbac_permissions_assigned_by_roles_list(
            model="authentik_core.group", object_pk=str(st["ga"].pk))
        assert isinstance(page, PaginatedRoleAssignedObjectPermissionList), type(page).__name__
        ours = [r for r in page.results if r.role_pk == str(st["role"].pk)]
        assert len(ours) == 1, [r.role_pk for r in page.results]
        r = ours[0]
        assert r.name == st["role"].name, r.name
        codes = [(p.codename, p.object_pk) for p in r.object_permissions]
        assert ("view_group", str(st["ga"].pk)) in codes, codes

    def s_role_object_permissions():
        page = rbac.rbac_permissions_roles_list(uuid=st["role"].pk)
        assert isinstance(page, PaginatedExtraRoleObjectPermissionList), type(page).__name__
        assert all(isinstance(p, ExtraRoleObjectPermission) for p in page.results)
        got = [(p.app_label, p.model, p.codename, p.object_pk) for p in page.results]
        assert got == [("authentik_core", "group", "view_group", str(st["ga"].pk))], got

    def s_child_parents():
        g = core.core_groups_retrieve(st["gc"].pk, include_parents=True)
        assert isinstance(g, Group), type(g).__name__
        assert g.parents_obj is not None, "parents_obj missing with include_parents=True"
        assert sorted(p.name for p in g.parents_obj) == sorted(
            [st["ga"].name, st["gb"].name]), [p.name for p in g.parents_obj]
        assert len(g.parents or []) == 2, g.parents

    # ---- unassign -----------------------------------------------------------------------

    def s_unassign():
        resp = rbac.rbac_permissions_assigned_by_roles_unassign_partial_update_with_http_info(
            st["role"].pk,
            PatchedPermissionAssignRequest(permissions=["authentik_core.view_user"]))
        assert resp.status_code == 204, f"status {resp.status_code}"
        assert resp.data is None

    def s_u_users_list_after():
        expect_forbidden(lambda: ucore().core_users_list())

    def s_permissions_of_role_after():
        got = {(p.app_label, p.codename) for p in
               rbac.rbac_permissions_list(role=str(st["role"].pk)).results}
        assert ("authentik_core", "view_user") not in got, got

    def s_u_object_grant_kept():
        got = [g.pk for g in ucore().core_groups_list().results]
        assert got == [st["ga"].pk], got

    steps = [
        ("superuser me_retrieve", s_me),
        ("core_groups_create parent A", s_group_a),
        ("core_groups_create parent B", s_group_b),
        ("core_groups_create child with parents=[A, B]", s_group_child),
        ("rbac_roles_create", s_role),
        ("assign global authentik_core.view_user to role", s_assign_global),
        ("assign object view_group on A to role", s_assign_object),
        ("core_groups_partial_update child roles=[role]", s_attach_role),
        ("core_users_create member in child group", s_user),
        ("core_users_create other user", s_other_user),
        ("core_tokens_create api token for member", s_token),
        ("core_tokens_view_key_retrieve", s_view_key),
        ("member: core_users_me_retrieve, not superuser", s_u_me),
        ("member: core_users_list shows users", s_u_users_list),
        ("member: core_users_retrieve other users", s_u_users_retrieve),
        ("member: core_users_partial_update other -> 403", s_u_users_patch),
        ("member: core_groups_list == [A]", s_u_groups_list),
        ("member: core_groups_retrieve A", s_u_group_retrieve),
        ("member: core_groups_retrieve B / child -> 404", s_u_group_retrieve_other),
        ("member: core_users_create -> 403", s_u_users_create),
        ("member: rbac_roles_list -> 403", s_u_roles_list),
        ("member: core_tokens_list only own token", s_u_tokens_list),
        ("rbac_roles_list(users=member, inherited=True) has role", s_roles_of_user),
        ("rbac_permissions_list(role=) has view_user", s_permissions_of_role),
        ("rbac_permissions_assigned_by_roles_list(model, object_pk)", s_assigned_by_roles),
        ("rbac_permissions_roles_list(uuid=role)", s_role_object_permissions),
        ("core_groups_retrieve child include_parents=True", s_child_parents),
        ("unassign global view_user -> 204", s_unassign),
        ("member: core_users_list -> 403 right after unassign", s_u_users_list_after),
        ("rbac_permissions_list(role=) no longer has view_user", s_permissions_of_role_after),
        ("member: object grant on A still applies", s_u_object_grant_kept),
    ]

    code = 0
    try:
        for name, fn in steps:
            run.step(name, fn)
    except Failed:
        code = 1
    finally:
        def cleanup(what, ident, call):
            nonlocal code
            try:
                call()
                print(f"cleanup: deleted {what} {ident}")
            except NotFoundException:
                pass
            except Exception as e:  # noqa: BLE001
                print(f"cleanup: could not delete {what} {ident}: {e}", file=sys.stderr)
                code = 1

        for ident in list(created_tokens):
            cleanup("token", ident, lambda i=ident: core.core_tokens_destroy(i))
        for pk, username in list(created_users.items()):
            cleanup("user", username, lambda p=pk: core.core_users_destroy(p))
        for pk, name in reversed(list(created_groups.items())):
            cleanup("group", name, lambda p=pk: core.core_groups_destroy(p))
        for pk, name in list(created_roles.items()):
            cleanup("role", name, lambda p=pk: rbac.rbac_roles_destroy(p))
    if run.failures:
        code = 1
        print(f"{len(run.failures)} of {run.count} steps failed")
    else:
        print(f"all {run.count} steps passed")
    return code


if __name__ == "__main__":
    sys.exit(main())
