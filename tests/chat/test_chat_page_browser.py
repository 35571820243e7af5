"""The chat page at GET / in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) against the
real app and the SageMaker runtime emulator. Screenshots are saved in each test's tmp_path."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sagemaker_runtime_emulator import Emulator

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "Debian's chromium and chromium-driver are needed (.ci/run installs them with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: Selenium Manager never tries to download a browser or driver.
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_script_timeout(15)
    yield browser
    browser.quit()


@pytest.fixture
def page(driver: Any, app_url: str, emulator: Emulator) -> Any:
    driver.get(app_url + "/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(app_url + "/")
    driver.get_log("browser")
    driver.get_log("performance")
    return driver


def _wait(predicate: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the page")


def _ask(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "prompt")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def _answers(driver: Any) -> list[str]:
    return list(
        driver.execute_script("return [...document.querySelectorAll('.assistant .content')].map(e => e.innerText)")
    )


def _idle(driver: Any) -> bool:
    return bool(driver.execute_script("return !document.getElementById('send').disabled"))


def _no_csp_violations(driver: Any) -> None:
    logs = driver.get_log("browser")
    assert not [e for e in logs if "Content Security Policy" in e["message"]], logs


def test_a_question_streams_tokens_into_the_page(page: Any, emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_scenario(token_delay=0.25)
    _ask(page, "What is SageMaker?")
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        texts = _answers(page)
        if texts and texts[-1] and (not seen or seen[-1] != texts[-1]):
            seen.append(texts[-1])
            if len(seen) == 3:
                page.save_screenshot(str(tmp_path / "streaming.png"))
        if texts and texts[-1] == "Hello! How can I help?" and _idle(page):
            break
        time.sleep(0.02)
    assert seen[-1] == "Hello! How can I help?"
    assert len(seen) >= 4, seen  # the answer grew token by token
    assert all("Hello! How can I help?".startswith(partial) for partial in seen)
    page.save_screenshot(str(tmp_path / "answered.png"))
    _no_csp_violations(page)


def test_the_conversation_is_kept(page: Any, emulator: Emulator) -> None:
    _ask(page, "First question")
    _wait(lambda: _answers(page) == ["Hello! How can I help?"] and _idle(page))
    _ask(page, "Second question")
    _wait(lambda: len(_answers(page)) == 2 and _idle(page))
    assert emulator.requests[-1]["payload"]["inputs"] == (
        "User: First question\nFalcon: Hello! How can I help?\nUser: Second question\nFalcon:"
    )


def test_a_4xx_error_is_shown_with_status_and_message(page: Any, emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_scenario(fault="model422")
    _ask(page, "A prompt that is far too long")
    error = _wait(lambda: page.execute_script("const e = document.querySelector('.error'); return e && e.innerText"))
    assert error == "HTTP 400: Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048"
    page.save_screenshot(str(tmp_path / "error.png"))
    _wait(lambda: _idle(page))
    emulator.set_scenario()
    _ask(page, "Short one")
    _wait(lambda: _answers(page)[-1] == "Hello! How can I help?" and _idle(page))
    # The failed question left the conversation as it was.
    assert emulator.requests[-1]["payload"]["inputs"] == "User: Short one\nFalcon:"


def test_model_output_is_never_markup(page: Any, emulator: Emulator, tmp_path: Path) -> None:
    hostile = [
        "Here is <b>bold</b> code:\n",
        "```html\n",
        "<script>window.pwned = 1</script>\n",
        '<img src=x onerror="window.pwned = 2">\n',
        "```\n",
        '<img src=y onerror="window.pwned = 3"> done',
    ]
    emulator.set_scenario(tokens=hostile)
    _ask(page, "Show me a script tag")
    _wait(lambda: page.execute_script("return document.querySelector('.assistant pre code')") and _idle(page))
    code = page.execute_script("return document.querySelector('.assistant pre code').textContent")
    assert code == '<script>window.pwned = 1</script>\n<img src=x onerror="window.pwned = 2">'
    assert page.execute_script("return document.querySelector('.assistant pre code').dataset.language") == "html"
    text = _answers(page)[-1]
    assert "Here is <b>bold</b> code:" in text and 'onerror="window.pwned = 3"> done' in text
    assert page.execute_script("return document.querySelectorAll('#log script, #log img, #log b').length") == 0
    assert page.execute_script("return window.pwned === undefined")
    page.save_screenshot(str(tmp_path / "code-block.png"))


def _sent_requests(driver: Any, path: str) -> list[dict[str, Any]]:
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent" and message["params"]["request"]["url"].endswith(path):
            requests.append(message["params"]["request"])
    return requests


def test_iam_mode_signs_in_the_browser_like_botocore(page: Any, app_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    page.find_element(By.TAG_NAME, "summary").click()
    Select(page.find_element(By.ID, "auth-mode")).select_by_value("iam")
    page.find_element(By.ID, "access-key-id").send_keys("AKIDEXAMPLE")
    page.find_element(By.ID, "secret-access-key").send_keys("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    page.find_element(By.ID, "session-token").send_keys("session/token==")
    page.find_element(By.ID, "region").send_keys("eu-west-1")
    _ask(page, "Signed hello")
    _wait(lambda: _answers(page) == ["Hello! How can I help?"] and _idle(page))
    (sent,) = [r for r in _sent_requests(page, "/v1/chat/completions") if r["method"] == "POST"]
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-amz-security-token"] == "session/token=="
    request = AWSRequest(
        method="POST",
        url=sent["url"],
        data=sent["postData"].encode(),
        headers={"content-type": headers["content-type"]},
    )
    when = datetime.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session/token==")
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    assert headers["authorization"] == request.headers["Authorization"]
    # Credentials stay in the page's memory: no Web Storage holds them, and a reload forgets them.
    assert_no_stored_secret(page, ["AKIDEXAMPLE", "wJalrXUtnFEMI", "session/token=="])
    page.refresh()
    page.find_element(By.TAG_NAME, "summary").click()
    assert page.find_element(By.ID, "secret-access-key").get_attribute("value") == ""
    assert page.find_element(By.ID, "region").get_attribute("value") == "eu-west-1"  # not a secret: kept


def assert_no_stored_secret(page: Any, secrets: list[str]) -> None:
    stored = page.execute_script(
        "const all = {}; for (const s of [sessionStorage, localStorage]) for (let i = 0; i < s.length; i++)"
        " all[s.key(i)] = s.getItem(s.key(i)); return all"
    )
    assert not [k for k, v in stored.items() if any(secret in v for secret in secrets)], stored


def test_credentials_an_older_page_stored_are_dropped(page: Any) -> None:
    page.execute_script("sessionStorage.setItem('llmchat:secret-access-key', 'old-secret')")
    page.refresh()
    assert page.execute_script("return sessionStorage.getItem('llmchat:secret-access-key')") is None


def test_a_long_term_access_key_gets_advice_to_use_temporary_credentials(page: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    page.find_element(By.TAG_NAME, "summary").click()
    Select(page.find_element(By.ID, "auth-mode")).select_by_value("iam")
    advice = page.find_element(By.ID, "key-advice")
    assert not advice.is_displayed()
    page.find_element(By.ID, "access-key-id").send_keys("AKIAIOSFODNN7EXAMPLE")
    _wait(advice.is_displayed)
    assert "temporary" in advice.text
    page.find_element(By.ID, "session-token").send_keys("token")
    _wait(lambda: not advice.is_displayed())


def test_api_key_mode_sends_the_key(page: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    page.find_element(By.TAG_NAME, "summary").click()
    Select(page.find_element(By.ID, "auth-mode")).select_by_value("api_key")
    page.find_element(By.ID, "api-key").send_keys("k3y-value")
    _ask(page, "Keyed hello")
    _wait(lambda: _answers(page) == ["Hello! How can I help?"] and _idle(page))
    (sent,) = [r for r in _sent_requests(page, "/v1/chat/completions") if r["method"] == "POST"]
    assert {k.lower(): v for k, v in sent["headers"].items()}["x-api-key"] == "k3y-value"
    assert_no_stored_secret(page, ["k3y-value"])


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def test_the_page_is_self_contained_under_a_strict_csp(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["connect-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    (script,) = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", response.text, re.S)
    assert csp["script-src"] == _csp_hash(script) and csp["style-src"] == _csp_hash(style)
    assert "unsafe" not in response.headers["content-security-policy"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text)  # no third-party origin
    assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", script)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in response.headers  # same origin: no CORS


def test_outside_active_hours_the_page_names_the_next_start_without_a_retry_countdown(
    driver: Any, session_emulator: Emulator, tmp_path: Path
) -> None:
    from chat_harness import app_env, start_app

    now = datetime.datetime.now(datetime.UTC)
    day = (now + datetime.timedelta(days=2)).date()
    weekday = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[day.weekday()]
    start = datetime.datetime(day.year, day.month, day.day, 8, 0, tzinfo=datetime.UTC)
    env = app_env(
        session_emulator.url,
        INFERENCE_COMPONENT_NAME="LlmChat-Llm-Component-7A2EEE1A",
        ACTIVE_HOURS=f"{weekday} 08:00-09:00 UTC",
    )
    proc, url = start_app(env, tmp_path / "app.log")
    try:
        session_emulator.set_scenario(fault="no_capacity")
        driver.get(url + "/")
        _ask(driver, "Anyone there?")
        error = _wait(
            lambda: driver.execute_script("const e = document.querySelector('.error'); return e && e.innerText")
        )
        assert error.startswith("Outside active hours: The model runs only inside its active hours")
        assert f"next start at {start.isoformat()}" in error and "retry after" not in error
        _wait(lambda: _idle(driver))
        assert len(session_emulator.requests) == 1  # the page did not retry
        driver.save_screenshot(str(tmp_path / "outside-hours.png"))
    finally:
        session_emulator.set_scenario()
        proc.terminate()
        proc.wait(10)
