"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium.

One browser serves the whole session. If Chromium cannot start, every browser test errors
with the reason: these tests never skip (``.ci/run`` installs both packages).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.services import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = REPO_ROOT / "var" / "browser-screenshots"


def _binary(path: str, package: str) -> str:
    if Path(path).exists():
        return path
    found = shutil.which(Path(path).name)
    if found is None:
        raise RuntimeError(f"{path} is missing: apt-get install -y {package} (.ci/run does)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = _binary(CHROMIUM, "chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(_binary(CHROMEDRIVER, "chromium-driver"))
    )
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The dashboard in the browser, found by the labels a person reads."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, fresh: bool = True) -> Page:
        if fresh:  # forget the key on a page of the origin where no script of ours runs
            self.driver.get(self.base_url + "/dashboard/static/dashboard.css")
            self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(self.base_url + "/")
        return self

    def wait(self, condition, timeout: float = 20):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition)

    def by_id(self, element_id: str):
        return self.driver.find_element(By.ID, element_id)

    def field(self, label: str):
        """The input or select labelled ``label`` (exactly)."""
        labels = self.driver.find_elements(By.XPATH, f"//label[normalize-space()='{label}']")
        for node in labels:
            if node.is_displayed():
                target = node.get_attribute("for")
                if target:
                    return self.by_id(target)
                return node.find_element(By.TAG_NAME, "input")
        raise AssertionError(f"no visible field labelled {label!r}")

    def button(self, text: str):
        return self.wait(
            expected_conditions.element_to_be_clickable(
                (By.XPATH, f"//button[normalize-space()='{text}']")
            )
        )

    def click(self, text: str) -> None:
        """Click the button ``text``, again if live updates redrew it under the pointer."""

        def clicked(_) -> bool:
            try:
                self.driver.find_element(By.XPATH, f"//button[normalize-space()='{text}']").click()
            except (StaleElementReferenceException, NoSuchElementException):
                return False
            return True

        self.wait(clicked)

    def type(self, label: str, text: str) -> None:
        field = self.field(label)
        field.clear()
        field.send_keys(text)

    def choose(self, label: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        self.wait(
            lambda _: value in [o.get_attribute("value") for o in Select(self.field(label)).options]
        )
        Select(self.field(label)).select_by_value(value)

    def go(self, page: str) -> None:
        self.driver.find_element(By.LINK_TEXT, page).click()
        self.wait(
            expected_conditions.visibility_of_element_located((By.ID, f"page-{page.lower()}"))
        )

    def text_appears(self, element_id: str, pattern: str, timeout: float = 20) -> str:
        regex = re.compile(pattern)
        self.wait(lambda _: regex.search(self.by_id(element_id).text), timeout)
        return self.by_id(element_id).text

    def sign_in(self, key: str) -> None:
        self.type("API key", key)
        self.button("Sign in").click()
        self.text_appears("stream-status", "Live updates: connected")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture
def page(browser, live_server, api, request) -> Iterator[Page]:
    dashboard = Page(browser, live_server.url).open()
    yield dashboard
    dashboard.screenshot(request.node.name)
