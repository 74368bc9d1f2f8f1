#!/usr/bin/env python3
"""The admin console in a real browser: Playwright driving Debian's chromium, headless.

Environment: GATEHOUSE_URL (the server), GATEHOUSE_ADMIN / GATEHOUSE_ADMIN_PASSWORD (a
superuser), GATEHOUSE_MEMBER / GATEHOUSE_MEMBER_PASSWORD (a user without permissions),
GATEHOUSE_PARENT_GROUP / GATEHOUSE_CHILD_GROUP (uuids: the child's parent is the parent),
GATEHOUSE_CHROMIUM (default /usr/bin/chromium), and optionally GATEHOUSE_SCREENSHOTS (a folder:
a screenshot of each page is written there). Prints one "ok <step>" line per step; any failed
expectation, page error or console error (a Content-Security-Policy violation is one) exits
non-zero.
"""

import os
import re
import sys
import uuid

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["GATEHOUSE_URL"].rstrip("/")
ADMIN = os.environ["GATEHOUSE_ADMIN"]
ADMIN_PW = os.environ["GATEHOUSE_ADMIN_PASSWORD"]
MEMBER = os.environ["GATEHOUSE_MEMBER"]
MEMBER_PW = os.environ["GATEHOUSE_MEMBER_PASSWORD"]
PARENT = os.environ["GATEHOUSE_PARENT_GROUP"]
CHILD = os.environ["GATEHOUSE_CHILD_GROUP"]
CHROMIUM = os.environ.get("GATEHOUSE_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("GATEHOUSE_SCREENSHOTS")

errors = []


def ok(step):
    print(f"ok {step}", flush=True)


def watch(page):
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))


def shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(page, username, password):
    page.goto(f"{BASE}/if/admin/")
    expect(page.get_by_role("heading", name="Sign in to gatehouse")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        admin = browser.new_context(viewport={"width": 1280, "height": 800})
        page = admin.new_page()
        watch(page)

        page.goto(f"{BASE}/if/login/")
        shot(page, "login")
        sign_in(page, ADMIN, ADMIN_PW)
        expect(page).to_have_url(f"{BASE}/if/admin/")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        shot(page, "dashboard")
        ok("sign in")

        # Every page loads (console errors are collected all along).
        for name, path, heading in [
            ("users", "/if/admin/users/", "Users"),
            ("groups", "/if/admin/groups/", "Groups"),
            ("roles", "/if/admin/roles/", "Roles"),
            ("tokens", "/if/admin/tokens/", "Tokens"),
            ("events", "/if/admin/events/", "Audit log"),
            ("account", "/if/user/", "My account"),
        ]:
            response = page.goto(f"{BASE}{path}")
            assert response.status == 200, (path, response.status)
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            shot(page, name)
        ok("every page loads")

        # First render of the users page, as the browser measures it (reported, not asserted).
        page.goto(f"{BASE}/if/admin/users/")
        timing = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {ttfb: n.responseStart - n.requestStart, dcl: n.domContentLoadedEventEnd - n.startTime}; }"
        )
        fcp = page.evaluate(
            "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null"
        )
        print(
            f"users page: server {timing['ttfb']:.1f} ms, DOMContentLoaded {timing['dcl']:.1f} ms, "
            f"first contentful paint {fcp if fcp is None else round(fcp, 1)} ms",
            flush=True,
        )
        ok("users page timing")

        # Create, edit, deactivate, delete a user.
        name = "br-" + uuid.uuid4().hex[:8]
        page.get_by_role("link", name="New user").click()
        page.get_by_label("Username").fill(name)
        page.get_by_label("Name", exact=True).fill("Browser User")
        page.get_by_label("Email").fill(f"{name}@example.com")
        page.get_by_role("button", name="Create").click()
        expect(page.get_by_text("Created.")).to_be_visible()
        shot(page, "user")
        page.get_by_label("Name", exact=True).fill("Browser User Renamed")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Saved.")).to_be_visible()
        expect(page.get_by_label("Name", exact=True)).to_have_value("Browser User Renamed")
        page.get_by_role("button", name="Deactivate").click()
        expect(page.get_by_text("The user was deactivated.")).to_be_visible()
        page.get_by_role("link", name="Delete user").click()
        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_text("Deleted.")).to_be_visible()
        page.get_by_label("Search").fill(name)
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_text("No users match.")).to_be_visible()
        ok("create, edit, deactivate, delete a user")

        # A member of the child group is an effective member of its parent.
        page.goto(f"{BASE}/if/admin/groups/{CHILD}/")
        page.get_by_label("Username").fill(MEMBER)
        page.get_by_role("button", name="Add member").click()
        expect(page.get_by_text("The member was added.")).to_be_visible()
        page.goto(f"{BASE}/if/admin/groups/{PARENT}/")
        effective = page.locator("h2:has-text('Effective members') + p + table")
        expect(effective.get_by_role("link", name=MEMBER)).to_be_visible()
        shot(page, "group")
        ok("effective membership through the hierarchy")

        # A new group below the child: its member is an effective member of the parent (two
        # levels up) until the group is deleted.
        gname = "br-group-" + uuid.uuid4().hex[:6]
        page.goto(f"{BASE}/if/admin/groups/")
        page.get_by_role("link", name="New group").click()
        page.get_by_label("Name", exact=True).fill(gname)
        page.get_by_label("Parent group").fill(CHILD)
        shot(page, "group-new")
        page.get_by_role("button", name="Create group").click()
        expect(page.get_by_text("Created.")).to_be_visible()
        expect(page.get_by_role("heading", name=f"Group {gname}")).to_be_visible()
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_role("button", name="Add member").click()
        expect(page.get_by_text("The member was added.")).to_be_visible()
        page.goto(f"{BASE}/if/admin/groups/{PARENT}/")
        effective = page.locator("h2:has-text('Effective members') + p + table")
        expect(effective.get_by_role("link", name=ADMIN, exact=True)).to_be_visible()
        # A cycle is refused with the API's message, next to the field, which gets the focus.
        before = len(errors)
        page.get_by_label("Parent group").fill(gname)
        page.get_by_role("button", name="Add parent").click()
        expect(page.locator("#err-parents")).to_contain_text("would create a cycle")
        expect(page.get_by_label("Parent group")).to_be_focused()
        shot(page, "group-cycle")
        # The browser logs the 400 answer itself as a failed load: that one is expected.
        del errors[before:]
        ok("create a group with a parent; its member is an effective member above")

        page.goto(f"{BASE}/if/admin/groups/?q={gname}")
        page.get_by_role("link", name=gname).click()
        page.get_by_role("link", name="Delete group").click()
        expect(page.get_by_text("cannot be undone")).to_be_visible()
        page.get_by_role("button", name=f"Delete group {gname}").click()
        expect(page.get_by_text("Deleted.")).to_be_visible()
        expect(page.get_by_role("link", name=gname)).to_have_count(0)
        page.goto(f"{BASE}/if/admin/groups/{PARENT}/")
        effective = page.locator("h2:has-text('Effective members') + p + table")
        expect(effective.get_by_role("link", name=ADMIN, exact=True)).to_have_count(0)
        ok("delete a group")

        # A new token's key is shown once.
        page.goto(f"{BASE}/if/admin/tokens/")
        identifier = "br-token-" + uuid.uuid4().hex[:6]
        page.get_by_label("Identifier").fill(identifier)
        page.get_by_role("button", name="Create").click()
        key = page.locator("#new-key").inner_text().strip()
        assert len(key) == 60, key
        shot(page, "token-created")
        page.goto(f"{BASE}/if/admin/tokens/")
        expect(page.get_by_role("cell", name=identifier, exact=True)).to_be_visible()
        assert key not in page.content(), "the key is shown only once"
        ok("token key shown once")

        # The audit log filters by action.
        page.goto(f"{BASE}/if/admin/events/")
        page.get_by_label("Action", exact=True).fill("model_deleted")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"/if/admin/events/\?action=model_deleted&"))
        rows = page.locator("tbody tr")
        assert rows.count() >= 1
        for i in range(rows.count()):
            assert "model_deleted" in rows.nth(i).inner_text()
        shot(page, "events-filtered")
        ok("audit log filter")

        # A user without permissions sees self-service only.
        member = browser.new_context()
        mpage = member.new_page()
        watch(mpage)
        sign_in(mpage, MEMBER, MEMBER_PW)
        expect(mpage).to_have_url(f"{BASE}/if/user/")
        expect(mpage.get_by_role("link", name="Users")).to_have_count(0)
        shot(mpage, "self-service")
        before = len(errors)
        denied = mpage.goto(f"{BASE}/if/admin/users/")
        assert denied.status == 403, denied.status
        # The browser logs the refused page itself as a failed load: that one is expected.
        del errors[before:]
        ok("non-admin sees self-service only")

        browser.close()
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(1)
    ok("no console errors")


if __name__ == "__main__":
    main()
