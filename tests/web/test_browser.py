"""A real browser on the example page: headless Chromium (Debian's chromium and
chromium-driver, which the test command installs), driven with selenium.

Two separate browser profiles log in as the same user; the first lists the devices, ends
the second's session, and the second finds itself logged out on reload; then the first
logs out. Production cookies (``__Host-sesh``, Secure): Chromium keeps them from
``http://127.0.0.1``. Screenshots go to a temporary folder; with
``SESH_REFRESH_SCREENSHOT=1`` the device list's also replaces ``docs/images/webapp.png``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from testbed.webapps import ROOT, WebApp

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = (
    "the browser test needs Debian's chromium and chromium-driver: apt-get install chromium"
    " chromium-driver (bash scripts/test.sh installs them)"
)


@pytest.fixture(scope="module", params=["fastapi", "flask", "django"])
def app(request: pytest.FixtureRequest, private_redis_url: str) -> Iterator[WebApp]:
    running = WebApp(request.param, private_redis_url).start()
    yield running
    running.stop()


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[Callable[[str], WebDriver]]:
    """Opens headless Chromium windows, each with a profile of its own; closes them all."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(INSTALL_HINT, pytrace=False)
    opened: list[WebDriver] = []

    def open_browser(name: str) -> WebDriver:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--window-size=900,900", f"--user-data-dir={tmp_path / name}",
        ):  # fmt: skip
            options.add_argument(flag)
        if os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
        # The driver's path, so that selenium never looks for one to download.
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        opened.append(driver)
        return driver

    os.environ.setdefault("SE_AVOID_STATS", "true")
    yield open_browser
    for driver in opened:
        driver.quit()


def wait(driver: WebDriver, what: str, ready: Callable[[WebDriver], object]) -> None:
    WebDriverWait(driver, 10, poll_frequency=0.05).until(ready, message=f"waiting for {what}")


def shown(driver: WebDriver, element_id: str) -> bool:
    return bool(driver.find_element(By.ID, element_id).is_displayed())


def log_in(driver: WebDriver, url: str, user: str) -> None:
    driver.get(url)
    wait(driver, "the login form", lambda d: shown(d, "anonymous"))
    driver.find_element(By.ID, "user-id").send_keys(user)
    driver.find_element(By.ID, "login").click()
    wait(driver, f"{user} logged in", lambda d: d.find_element(By.ID, "who").text == user)


def devices(driver: WebDriver) -> list[tuple[str, str]]:
    """The device list as the page shows it, read in one go (the page redraws it)."""
    script = (
        "return [...document.querySelectorAll('#devices li')]"
        ".map(li => [li.dataset.handle, li.dataset.current])"
    )
    return [tuple(pair) for pair in driver.execute_script(script)]


def test_a_user_ends_another_device_and_logs_out(
    app: WebApp, browsers: Callable[[str], WebDriver], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{app.port}/"
    first, second = browsers("first"), browsers("second")
    log_in(first, url, "alice")
    cookie = first.get_cookie("__Host-sesh")
    assert cookie is not None
    assert (cookie["secure"], cookie["httpOnly"]) == (True, True)
    assert first.execute_script("return document.cookie") == ""  # HttpOnly: no script sees it
    log_in(second, url, "alice")

    first.refresh()
    wait(first, "two devices", lambda d: len(devices(d)) == 2)
    assert sorted(current for _, current in devices(first)) == ["false", "true"]
    first.save_screenshot(str(tmp_path / "devices.png"))
    if os.environ.get("SESH_REFRESH_SCREENSHOT") == "1":
        shutil.copy(tmp_path / "devices.png", ROOT / "docs" / "images" / "webapp.png")

    other = first.find_element(By.CSS_SELECTOR, '#devices li[data-current="false"] button.end')
    other.click()
    wait(first, "one device left", lambda d: len(devices(d)) == 1)
    assert devices(first)[0][1] == "true"

    second.refresh()
    wait(second, "the second browser logged out", lambda d: shown(d, "anonymous"))
    assert not shown(second, "signed-in")
    second.save_screenshot(str(tmp_path / "ended.png"))

    first.find_element(By.ID, "logout").click()
    wait(first, "the first browser logged out", lambda d: shown(d, "anonymous"))
    assert first.get_cookie("__Host-sesh") is None  # the cookie expired
    first.refresh()
    wait(first, "still logged out after a reload", lambda d: shown(d, "anonymous"))
    first.save_screenshot(str(tmp_path / "logged-out.png"))
