#!/usr/bin/env python3
"""Users CRUD round-trip against gatehouse through authentik's generated Python client.

Exercises /api/v3/core/users/ with `authentik-client` (2026.8.x): create, list (paging,
ordering, search and filters), retrieve, update (PUT), partial_update (PATCH), set_password,
me, paths, destroy, and the error answers (400/403/404 raised as the client's ApiException
subclasses, with the JSON body).

Usage:
    GATEHOUSE_URL=http://127.0.0.1:9000 GATEHOUSE_TOKEN=... python tests/clients/authentik_users.py

GATEHOUSE_URL is the server's base URL (with or without /api/v3). GATEHOUSE_TOKEN must be a
superuser's API token. Prints one line per step; exits 1 on the first failure (2 on a usage
error). Set GATEHOUSE_KEEP_GOING=1 to run every step and report all failures (still exits 1).
Every user the script creates has a unique prefix and is deleted at the end, also on failure.
"""

import json
import os
import sys
import traceback
import uuid

try:
    import authentik_client
    from authentik_client.api.core_api import CoreApi
    from authentik_client.exceptions import (
        ApiException,
        BadRequestException,
        ForbiddenException,
        NotFoundException,
    )
    from authentik_client.models.generic_error import GenericError
    from authentik_client.models.paginated_user_list import PaginatedUserList
    from authentik_client.models.patched_user_request import PatchedUserRequest
    from authentik_client.models.session_user import SessionUser
    from authentik_client.models.user import User
    from authentik_client.models.user_password_set_request import UserPasswordSetRequest
    from authentik_client.models.user_path import UserPath
    from authentik_client.models.user_request import UserRequest
    from authentik_client.models.user_type_enum import UserTypeEnum
    from authentik_client.models.validation_error import ValidationError
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
        assert isinstance(e, exc_type), f"raised {type(e).__name__}, expected {exc_type.__name__}"
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


def check_user(u, **expected):
    assert isinstance(u, User), f"not a User: {type(u).__name__}"
    for key, want in expected.items():
        have = getattr(u, key)
        assert have == want, f"{key}: {have!r}, expected {want!r}"
    assert isinstance(u.pk, int) and u.pk > 0, f"pk {u.pk!r}"
    assert u.uuid is not None and u.uid and isinstance(u.uid, str), "uuid/uid missing"
    assert u.avatar.startswith(("data:", "http://", "https://")), f"avatar {u.avatar[:40]!r}"
    assert u.date_joined and u.last_updated and u.password_change_date, "timestamps missing"
    assert isinstance(u.is_superuser, bool)
    assert u.groups_obj is None or isinstance(u.groups_obj, list)
    assert u.roles_obj is None or isinstance(u.roles_obj, list)


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
    api = CoreApi(client)
    bad_api = CoreApi(authentik_client.ApiClient(
        authentik_client.Configuration(host=base, access_token="not-a-valid-token")))

    run = Runner(keep_going)
    tag = "ghc" + uuid.uuid4().hex[:10]
    path_a = f"gatehouse-tests/{tag}/a"
    path_b = f"gatehouse-tests/{tag}/b"
    created = {}  # pk -> username, deleted in the finally block
    st = {}  # state shared between steps

    def create(key, req):
        resp = api.core_users_create_with_http_info(req)
        assert resp.status_code == 201, f"status {resp.status_code}"
        u = resp.data
        assert isinstance(u, User), f"not a User: {type(u).__name__}"
        created[u.pk] = u.username
        st[key] = u
        return u

    def s_me():
        resp = api.core_users_me_retrieve_with_http_info()
        assert resp.status_code == 200, f"status {resp.status_code}"
        me = resp.data
        assert isinstance(me, SessionUser), type(me).__name__
        assert me.user.is_superuser is True, "the token's user must be a superuser"
        assert isinstance(me.user.is_current, bool)
        assert any(x.pk == me.user.pk for x in me.users), "me.users lacks the caller"
        assert me.original is None, f"original {me.original!r}"
        st["me"] = me.user

    def s_create_a():
        u = create("a", UserRequest(
            username=f"{tag}-alice", name="Alice Ärger", email=f"{tag}-alice@example.com",
            path=path_a, attributes={"team": "red", "n": 1, "nested": {"l": [1, "x", None]}},
            is_active=True, type=UserTypeEnum.INTERNAL))
        check_user(u, username=f"{tag}-alice", name="Alice Ärger",
                   email=f"{tag}-alice@example.com", path=path_a, is_active=True,
                   type=UserTypeEnum.INTERNAL, is_superuser=False, last_login=None, groups=[],
                   roles=[],
                   attributes={"team": "red", "n": 1, "nested": {"l": [1, "x", None]}})

    def s_create_b():
        u = create("b", UserRequest(
            username=f"{tag}-bob", name="Bob", email=f"{tag}-bob@example.com", path=path_b,
            attributes={}, is_active=False, type=UserTypeEnum.EXTERNAL))
        check_user(u, username=f"{tag}-bob", path=path_b, is_active=False,
                   type=UserTypeEnum.EXTERNAL, attributes={})

    def s_create_minimal():
        u = create("c", UserRequest(username=f"{tag}-carol", name="Carol"))
        check_user(u, username=f"{tag}-carol", name="Carol", path="users", is_active=True,
                   type=UserTypeEnum.INTERNAL, attributes={})
        assert u.email in ("", None), f"email {u.email!r}"

    def s_create_service_account():
        u = create("d", UserRequest(
            username=f"{tag}-svc", name="Service", path=path_b,
            type=UserTypeEnum.SERVICE_ACCOUNT))
        check_user(u, username=f"{tag}-svc", type=UserTypeEnum.SERVICE_ACCOUNT)

    def s_create_duplicate():
        expect_error(
            lambda: api.core_users_create(UserRequest(username=f"{tag}-alice", name="Dup")),
            400, BadRequestException, {"username": ["This field must be unique."]},
            ValidationError)

    def s_create_invalid_username():
        body = expect_error(
            lambda: api.core_users_create(UserRequest(username=f"{tag} bad name", name="x")),
            400, BadRequestException, None, ValidationError)
        assert list(body) == ["username"], body

    def s_create_invalid_email():
        body = expect_error(
            lambda: api.core_users_create(
                UserRequest(username=f"{tag}-mail", name="x", email="not-an-email")),
            400, BadRequestException, None, ValidationError)
        assert list(body) == ["email"], body

    def s_retrieve():
        resp = api.core_users_retrieve_with_http_info(st["a"].pk)
        assert resp.status_code == 200
        assert resp.data == st["a"], f"retrieve differs from create:\n{resp.data}\n{st['a']}"

    def s_retrieve_404():
        body = expect_error(lambda: api.core_users_retrieve(2_000_000_000), 404,
                            NotFoundException)
        assert isinstance(body.get("detail"), str), body

    def s_forbidden():
        expect_error(lambda: bad_api.core_users_list(), 403, ForbiddenException, None,
                     GenericError)

    def ours(page):
        return [u.username for u in page.results if u.username.startswith(tag)]

    def s_list_plain():
        resp = api.core_users_list_with_http_info()
        assert resp.status_code == 200
        page = resp.data
        assert isinstance(page, PaginatedUserList)
        p = page.pagination
        assert p.count >= 4 and p.current == 1, p
        assert isinstance(page.autocomplete, dict)
        for u in page.results:
            check_user(u)
        if p.count <= 20:
            assert sorted(ours(page)) == sorted(
                f"{tag}-{n}" for n in ("alice", "bob", "carol", "svc")), ours(page)

    def s_list_paging():
        first = api.core_users_list(search=tag, page_size=1, page=1, ordering="username")
        second = api.core_users_list(search=tag, page_size=1, page=2, ordering="username")
        assert first.pagination.count == 4, first.pagination
        assert first.pagination.total_pages == 4, first.pagination
        assert (first.pagination.next, first.pagination.previous) == (2, 0), first.pagination
        assert (second.pagination.next, second.pagination.previous) == (3, 1), second.pagination
        assert (second.pagination.start_index, second.pagination.end_index) == (2, 2)
        assert ours(first) == [f"{tag}-alice"] and ours(second) == [f"{tag}-bob"]
        expect_error(lambda: api.core_users_list(search=tag, page_size=1, page=99), 404,
                     NotFoundException, {"detail": "Invalid page."})

    def s_list_ordering():
        asc = ours(api.core_users_list(search=tag, ordering="username"))
        desc = ours(api.core_users_list(search=tag, ordering="-username"))
        assert asc == sorted(asc) and len(asc) == 4, asc
        assert desc == list(reversed(asc)), desc
        by_pk = ours(api.core_users_list(search=tag, ordering="-pk"))
        assert by_pk == [f"{tag}-{n}" for n in ("svc", "carol", "bob", "alice")], by_pk

    def s_list_search():
        got = ours(api.core_users_list(search=f"{tag}-alice"))
        assert got == [f"{tag}-alice"], got
        got = ours(api.core_users_list(search=f"{tag}-ALICE@EXAMPLE"))  # email, any case
        assert got == [f"{tag}-alice"], got

    def s_list_search_non_ascii():
        # authentik (PostgreSQL, UPPER() LIKE UPPER()) matches non-ASCII letters in any case.
        got = [u for u in ours(api.core_users_list(search="Ärger")) if u == f"{tag}-alice"]
        assert got == [f"{tag}-alice"], f"search=Ärger (name 'Alice Ärger') found {got}"
        got = [u for u in ours(api.core_users_list(search="äRGER")) if u == f"{tag}-alice"]
        assert got == [f"{tag}-alice"], f"search=äRGER (name 'Alice Ärger') found {got}"

    def s_list_username():
        page = api.core_users_list(username=f"{tag}-bob")
        assert [u.username for u in page.results] == [f"{tag}-bob"], page.results
        assert page.results[0] == st["b"]

    def s_list_is_active():
        inactive = ours(api.core_users_list(search=tag, is_active=False))
        active = ours(api.core_users_list(search=tag, is_active=True))
        assert inactive == [f"{tag}-bob"], inactive
        assert sorted(active) == [f"{tag}-alice", f"{tag}-carol", f"{tag}-svc"], active

    def s_list_path():
        got = ours(api.core_users_list(path=path_a))
        assert got == [f"{tag}-alice"], got
        got = ours(api.core_users_list(path_startswith=f"gatehouse-tests/{tag}/"))
        assert sorted(got) == [f"{tag}-alice", f"{tag}-bob", f"{tag}-svc"], got

    def s_list_type():
        got = ours(api.core_users_list(search=tag, type=[UserTypeEnum.EXTERNAL]))
        assert got == [f"{tag}-bob"], got
        got = ours(api.core_users_list(
            search=tag, type=[UserTypeEnum.EXTERNAL, UserTypeEnum.SERVICE_ACCOUNT]))
        assert sorted(got) == [f"{tag}-bob", f"{tag}-svc"], got

    def s_list_include_groups_false():
        page = api.core_users_list(username=f"{tag}-alice", include_groups=False)
        assert len(page.results) == 1, page.results
        u = page.results[0]
        assert u.groups_obj is None, f"groups_obj {u.groups_obj!r}"
        assert u.groups == [], u.groups
        page = api.core_users_list(username=f"{tag}-alice", include_roles=False)
        assert page.results[0].roles_obj is None, page.results[0].roles_obj

    def s_paths():
        resp = api.core_users_paths_retrieve_with_http_info()
        assert resp.status_code == 200
        assert isinstance(resp.data, UserPath)
        assert path_a in resp.data.paths and path_b in resp.data.paths, resp.data.paths
        only = api.core_users_paths_retrieve(search=f"{tag}-alice")
        assert only.paths == [path_a], only.paths

    def s_update():
        pk = st["a"].pk
        resp = api.core_users_update_with_http_info(pk, UserRequest(
            username=f"{tag}-alice2", name="Alice Two", email=f"{tag}-alice2@example.com",
            path=path_b, attributes={"team": "blue"}, is_active=False,
            type=UserTypeEnum.EXTERNAL))
        assert resp.status_code == 200
        check_user(resp.data, pk=pk, username=f"{tag}-alice2", name="Alice Two",
                   email=f"{tag}-alice2@example.com", path=path_b,
                   attributes={"team": "blue"}, is_active=False, type=UserTypeEnum.EXTERNAL,
                   uuid=st["a"].uuid, date_joined=st["a"].date_joined)
        created[pk] = resp.data.username
        st["a"] = resp.data
        assert api.core_users_retrieve(pk) == resp.data

    def s_update_duplicate():
        expect_error(
            lambda: api.core_users_update(st["b"].pk, UserRequest(
                username=f"{tag}-alice2", name="Bob")),
            400, BadRequestException, {"username": ["This field must be unique."]},
            ValidationError)

    def s_partial_update():
        pk = st["a"].pk
        resp = api.core_users_partial_update_with_http_info(
            pk, PatchedUserRequest(name="Alice Patched", is_active=True))
        assert resp.status_code == 200
        check_user(resp.data, pk=pk, username=f"{tag}-alice2", name="Alice Patched",
                   is_active=True, path=path_b, attributes={"team": "blue"},
                   type=UserTypeEnum.EXTERNAL, email=f"{tag}-alice2@example.com")
        resp = api.core_users_partial_update_with_http_info(pk, PatchedUserRequest(
            attributes={"x": [1, 2]}, type=UserTypeEnum.INTERNAL, path=path_a))
        check_user(resp.data, attributes={"x": [1, 2]}, type=UserTypeEnum.INTERNAL,
                   path=path_a, name="Alice Patched")
        st["a"] = resp.data
        assert api.core_users_retrieve(pk) == resp.data

    def s_partial_update_empty():
        u = api.core_users_partial_update(st["a"].pk, PatchedUserRequest())
        check_user(u, username=st["a"].username, name=st["a"].name)

    def s_partial_update_errors():
        expect_error(
            lambda: api.core_users_partial_update(
                st["b"].pk, PatchedUserRequest(username=st["a"].username)),
            400, BadRequestException, {"username": ["This field must be unique."]},
            ValidationError)
        expect_error(
            lambda: api.core_users_partial_update(2_000_000_000, PatchedUserRequest(name="x")),
            404, NotFoundException)

    def s_set_password():
        resp = api.core_users_set_password_create_with_http_info(
            st["a"].pk, UserPasswordSetRequest(password="correct horse battery staple 9!"))
        assert resp.status_code == 204, f"status {resp.status_code}"
        assert resp.data is None
        u = api.core_users_retrieve(st["a"].pk)
        assert u.password_change_date >= st["a"].password_change_date
        expect_error(
            lambda: api.core_users_set_password_create(
                2_000_000_000, UserPasswordSetRequest(password="x" * 12)),
            404, NotFoundException)

    def s_destroy():
        for key in ("a", "b", "c", "d"):
            pk = st[key].pk
            resp = api.core_users_destroy_with_http_info(pk)
            assert resp.status_code == 204, f"status {resp.status_code}"
            assert resp.data is None
            created.pop(pk, None)
            expect_error(lambda: api.core_users_retrieve(pk), 404, NotFoundException)

    def s_destroy_404():
        expect_error(lambda: api.core_users_destroy(st["a"].pk), 404, NotFoundException)

    def s_gone():
        assert ours(api.core_users_list(search=tag)) == []
        paths = api.core_users_paths_retrieve().paths
        assert path_a not in paths and path_b not in paths, paths

    steps = [
        ("me_retrieve -> SessionUser", s_me),
        ("create internal user (all fields)", s_create_a),
        ("create inactive external user", s_create_b),
        ("create with username+name only (defaults)", s_create_minimal),
        ("create service_account user", s_create_service_account),
        ("create duplicate username -> 400 unique", s_create_duplicate),
        ("create invalid username -> 400", s_create_invalid_username),
        ("create invalid email -> 400", s_create_invalid_email),
        ("retrieve == create response", s_retrieve),
        ("retrieve unknown id -> 404", s_retrieve_404),
        ("invalid token -> 403 GenericError", s_forbidden),
        ("list (plain)", s_list_plain),
        ("list page/page_size + invalid page 404", s_list_paging),
        ("list ordering username/-username/-pk", s_list_ordering),
        ("list search (ASCII, case-insensitive)", s_list_search),
        ("list search non-ASCII, case-insensitive", s_list_search_non_ascii),
        ("list username filter", s_list_username),
        ("list is_active filter", s_list_is_active),
        ("list path / path_startswith filter", s_list_path),
        ("list type filter", s_list_type),
        ("list include_groups=False / include_roles=False", s_list_include_groups_false),
        ("paths_retrieve", s_paths),
        ("update (PUT) all fields", s_update),
        ("update (PUT) to a taken username -> 400", s_update_duplicate),
        ("partial_update (PATCH)", s_partial_update),
        ("partial_update with empty body", s_partial_update_empty),
        ("partial_update errors -> 400 / 404", s_partial_update_errors),
        ("set_password_create -> 204 (+404 unknown id)", s_set_password),
        ("destroy -> 204, then retrieve -> 404", s_destroy),
        ("destroy unknown -> 404", s_destroy_404),
        ("list/paths no longer show the deleted users", s_gone),
    ]

    code = 0
    try:
        for name, fn in steps:
            run.step(name, fn)
    except Failed:
        code = 1
    finally:
        for pk, username in list(created.items()):
            try:
                api.core_users_destroy(pk)
                print(f"cleanup: deleted {username} (pk {pk})")
            except NotFoundException:
                pass
            except Exception as e:  # noqa: BLE001
                print(f"cleanup: could not delete {username} (pk {pk}): {e}", file=sys.stderr)
                code = 1
    if run.failures:
        code = 1
        print(f"{len(run.failures)} of {run.count} steps failed")
    else:
        print(f"all {run.count} steps passed")
    return code


if __name__ == "__main__":
    sys.exit(main())
