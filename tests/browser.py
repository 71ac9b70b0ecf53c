"""Pages driven as an editor drives them: Playwright on Debian's Chromium.

Loaded by the root conftest (``pytest_plugins``). Playwright's own browser
download is not used: ``apt-get install -y chromium`` (``.ci/run`` installs it
when missing). Without a Chromium a browser test fails, saying so; it is never
skipped.

When a browser test fails, the page as it was is saved as
``var/screenshots/<test>.png`` (``var/`` is not tracked) and the path is
added to the failure's report. With ``BROWSER_SCREENSHOTS=<folder>`` the
steps a test names with ``shot(page, name)`` are saved there too, to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent
FAILURE_SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "editor-password-123"
VIEWPORT = {"width": 1400, "height": 1000}


def chromium() -> str:
    found = shutil.which("chromium") or next(
        (path for path in ("/usr/bin/chromium",) if os.access(path, os.X_OK)), None
    )
    if found is None:
        pytest.fail(
            "No Chromium found (looked for `chromium` on PATH and /usr/bin/chromium). "
            "Install Debian's: apt-get update && apt-get install -y chromium",
            pytrace=False,
        )
    return found


_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def page(request, monkeypatch):
    """A Chromium page at 1400x1000; on failure, a screenshot of it."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls in between are plain synchronous calls all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
            call = request.node.stash.get(_REPORTS, {}).get("call")
            if call is not None and call.failed:
                FAILURE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
                path = FAILURE_SCREENSHOTS / f"{name}.png"
                page.screenshot(path=str(path), full_page=True)
                call.sections.append(("screenshot", f"The page at the failure: {path}"))
                print(f"\nScreenshot of the page at the failure: {path}")  # noqa: T201
        finally:
            browser.close()
            # With Playwright's loop marked running, Django gives the test's code
            # database connections of its own: close them, or the test database
            # could not be dropped at the end.
            connections.close_all()


def shot(page, name: str) -> None:
    """Save the page as ``<name>.png`` under ``BROWSER_SCREENSHOTS``, when set."""
    folder = os.environ.get("BROWSER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def log_in(page, live_server, user, then: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/admin/login/?next={then}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{live_server.url}{then}")


@pytest.fixture
def editor_user(django_user_model):
    return django_user_model.objects.create_superuser(
        username="editor", email="editor@example.org", password=PASSWORD
    )


def table_fits(page, selector: str = "#result_list") -> bool:
    """Whether a table's every column is inside the window, none cut off."""
    return page.evaluate(
        "([selector, width]) => {"
        "  const table = document.querySelector(selector);"
        "  return table.getBoundingClientRect().right <= width"
        "    && document.documentElement.scrollWidth <= width;"
        "}",
        [selector, VIEWPORT["width"]],
    )


def contrast(page, selector: str) -> float:
    """The WCAG contrast ratio of an element's text against its background."""
    return page.evaluate(
        """selector => {
          const element = document.querySelector(selector);
          const rgb = text => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const luminance = ([r, g, b]) => {
            const [R, G, B] = [r, g, b].map(v => {
              v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * R + 0.7152 * G + 0.0722 * B;
          };
          let node = element, background = "rgba(0, 0, 0, 0)";
          while (node && /rgba\\(0, 0, 0, 0\\)|transparent/.test(background)) {
            background = getComputedStyle(node).backgroundColor;
            node = node.parentElement;
          }
          if (/rgba\\(0, 0, 0, 0\\)|transparent/.test(background)) {
            background = "rgb(255, 255, 255)";
          }
          const text = getComputedStyle(element).color;
          const [a, b] = [luminance(rgb(text)), luminance(rgb(background))];
          return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }""",
        selector,
    )


@pytest.fixture
def celery_worker_process(transactional_db) -> Iterator[subprocess.Popen]:
    """A real Celery worker on this test database and the test Redis database,
    taking sync and matching jobs, as in production."""
    import redis
    from django.conf import settings

    database = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=(
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="tracker.settings.test",
        TRACKER_ALLOW_PRIVATE_SOURCES="1",
        CELERY_TASK_ALWAYS_EAGER="0",
        # Runs the syncs queue wait; a test asks for the runs it follows.
        MATCHING_DEBOUNCE_SECONDS="600",
    )
    redis.Redis.from_url(settings.REDIS_URL).delete("sync", "celery", "matching")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "tracker",
            "worker",
            "--queues",
            "celery,sync,matching",
            "--concurrency",
            "1",
            "--pool",
            "prefork",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    time.sleep(0.5)
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(30)
