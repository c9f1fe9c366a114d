"""Headless Chromium for the console tests (Debian `chromium`,
`chromium-driver`, `python3-selenium`; packaging/deps.sh installs them).

    with Browser() as b:
        b.get(url); b.wait_css("#agents tbody tr"); b.errors()

A fresh temporary profile per Browser; no network but what the page asks
for (the hub on loopback): background networking, component updates and
sync are off.
"""

import json
import os
import shutil
import tempfile
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser_missing():
    """A reason to skip, or None when the browser and driver are here."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is not installed (packaging/deps.sh)"
    for p in (CHROMIUM, CHROMEDRIVER):
        if not os.access(p, os.X_OK):
            return f"{p} is not installed (packaging/deps.sh: chromium, chromium-driver)"
    return None


class Browser:
    def __init__(self, width=1280, height=1000):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="outpost-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--disable-default-apps", "--disable-extensions",
                  f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.log_path = os.path.join(self.profile, "chromedriver.log")
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=self.log_path),
                                       options=opts)
        self.driver.set_page_load_timeout(30)
        self.seen_logs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def get(self, url):
        self.driver.get(url)

    def wait(self, what, fn, timeout=30.0):
        """fn() until it returns something true; fails with what."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except Exception as e:  # an element replaced while we read it
                last = e
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what} (last error: {last!r}); "
                             f"browser log: {json.dumps(self.logs())[:2000]}")

    def css(self, sel):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, sel)

    def wait_css(self, sel, n=1, timeout=30.0):
        return self.wait(f"{n} x {sel}", lambda: (lambda e: e if len(e) >= n else None)(
            self.css(sel)), timeout)

    def texts(self, sel):
        return [e.text for e in self.css(sel)]

    def logs(self):
        """Every browser console entry so far (Chromium hands each out once)."""
        self.seen_logs += self.driver.get_log("browser")
        return self.seen_logs

    def errors(self, allow=()):
        return [e for e in self.logs() if e.get("level") == "SEVERE"
                and not any(a in e.get("message", "") for a in allow)]

    def screenshot(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.driver.save_screenshot(path)
