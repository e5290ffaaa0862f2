"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium.

One browser serves the whole session. If Chromium cannot start, every browser test errors
with the reason: these tests never skip (``.ci/run`` installs both packages).
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
)
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
        """``condition`` until it holds; looked at again when live updates redrew what it read
        (an element found by id, then replaced before its text was read) or when the dialog
        waited for (``d.switch_to.alert``) is not open yet."""
        return WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.05,
            ignored_exceptions=(
                NoSuchElementException,
                StaleElementReferenceException,
                NoAlertPresentException,
            ),
        ).until(condition)

    def by_id(self, element_id: str):
        return self.driver.find_element(By.ID, element_id)

    def field(self, label: str, within: str | None = None):
        """The input or select labelled ``label`` (exactly), in the element ``within`` (an id)."""
        scope = f"//*[@id='{within}']" if within else ""
        labels = self.driver.find_elements(By.XPATH, f"{scope}//label[normalize-space()='{label}']")
        for node in labels:
            if node.is_displayed():
                target = node.get_attribute("for")
                if target:
                    return self.by_id(target)
                return node.find_element(By.TAG_NAME, "input")
        raise AssertionError(
            f"no visible field labelled {label!r}" + (f" in #{within}" if within else "")
        )

    def button(self, text: str):
        return self.wait(
            expected_conditions.element_to_be_clickable(
                (By.XPATH, f"//button[normalize-space()='{text}']")
            )
        )

    def click(self, text: str) -> None:
        """Click the visible button ``text``, again if live updates redrew it under the pointer."""

        def clicked(_) -> bool:
            try:
                found = self.driver.find_elements(By.XPATH, f"//button[normalize-space()='{text}']")
                shown = [b for b in found if b.is_displayed() and b.is_enabled()]
                if not shown:  # another page's button of the same name stays hidden
                    return False
                shown[0].click()
            except (StaleElementReferenceException, NoSuchElementException):
                return False
            return True

        self.wait(clicked)

    def click_css(self, selector: str) -> None:
        """Click the element at ``selector``, again if live updates redrew it meanwhile."""

        def clicked(_) -> bool:
            try:
                self.driver.find_element(By.CSS_SELECTOR, selector).click()
            except (StaleElementReferenceException, NoSuchElementException):
                return False
            return True

        self.wait(clicked)

    def type(self, label: str, text: str, within: str | None = None) -> None:
        def typed(_) -> bool:
            """A field drawn again meanwhile (a strategy's or brokerage's fields) is stale:
            :meth:`wait` looks again and it is typed anew."""
            field = self.field(label, within)
            field.clear()
            field.send_keys(text)
            return True

        self.wait(typed)

    def choose(self, label: str, value: str, within: str | None = None) -> None:
        from selenium.webdriver.support.ui import Select

        def chosen(_) -> bool:
            """Live fleet events redraw a select's options: look again until the choice holds."""
            try:
                select = Select(self.field(label, within))
                if value not in [o.get_attribute("value") for o in select.options]:
                    return False
                select.select_by_value(value)
                return select.first_selected_option.get_attribute("value") == value
            except (StaleElementReferenceException, NoSuchElementException):
                return False

        self.wait(chosen)

    def go(self, page: str) -> None:
        self.driver.find_element(By.LINK_TEXT, page).click()
        self.wait(
            expected_conditions.visibility_of_element_located((By.ID, f"page-{page.lower()}"))
        )

    def text_gone(self, element_id: str, pattern: str, timeout: float = 20) -> str:
        regex = re.compile(pattern)
        self.wait(lambda _: not regex.search(self.by_id(element_id).text), timeout)
        return self.by_id(element_id).text

    def text_appears(self, element_id: str, pattern: str, timeout: float = 20) -> str:
        regex = re.compile(pattern)
        self.wait(lambda _: regex.search(self.by_id(element_id).text), timeout)
        return self.by_id(element_id).text

    def sign_in(self, key: str) -> None:
        self.type("API key", key)
        self.button("Sign in").click()
        self.text_appears("stream-status", "Live updates: connected")

    @contextlib.contextmanager
    def on_a_phone(self) -> Iterator[Page]:
        """The window at a phone's size (390 x 844) inside the block, then as it was."""
        size = self.driver.get_window_size()
        self.driver.set_window_size(390, 844)
        try:
            yield self
        finally:
            self.driver.set_window_size(size["width"], size["height"])

    def assert_fits_the_width(self, what: str) -> None:
        """The page does not scroll sideways (on a phone, a table or a long option might)."""
        overflow = self.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"{what} scrolls sideways by {overflow}px on a phone"

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
