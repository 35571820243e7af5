"""`make chat` (python -m llmchat) under a pseudo-terminal against the real app + the SageMaker runtime emulator.

Every wait is on an event: text the client prints (pexpect), or the emulator's stream record changing (a stream
held after N events until released or until the caller goes away). pexpect's timeout only bounds a hung client.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from sagemaker_runtime_emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
PROMPT = "you> "
HANG_BOUND_SECONDS = 120  # fails a hung test; a passing one never waits it out


@pytest.fixture
def chat(app_url: str, tmp_path: Path) -> Iterator[pexpect.spawn]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "llmchat", "--url", app_url, "--auth", "none"],
        cwd=str(REPO),
        env=env,
        encoding="utf-8",
        timeout=HANG_BOUND_SECONDS,
        dimensions=(40, 160),
    )
    child.logfile_read = (tmp_path / "transcript.txt").open("w")
    child.expect("falcon-40b-instruct at ")
    child.expect_exact(PROMPT)
    yield child
    child.close(force=True)
    child.logfile_read.close()


def test_two_turn_conversation_keeps_the_history(chat: pexpect.spawn, emulator: Emulator) -> None:
    chat.sendline("What is SageMaker?")
    chat.expect_exact("llm> Hello! How can I help?")
    chat.expect_exact(PROMPT)
    emulator.scenario.tokens = [" A", " managed", " ML", " service."]
    chat.sendline("Tell me more")
    chat.expect_exact("llm> A managed ML service.")  # the proxy trims the leading space
    chat.expect_exact(PROMPT)
    second = emulator.requests[-1]["payload"]["inputs"]
    assert second == "User: What is SageMaker?\nFalcon: Hello! How can I help?\nUser: Tell me more\nFalcon:"


def test_tokens_are_printed_as_they_stream(chat: pexpect.spawn, emulator: Emulator) -> None:
    emulator.set_scenario(hold_after=2)  # "Hello", "!", then the model holds the rest
    chat.sendline("Hi")
    chat.expect_exact("llm> Hello!")  # printed while the rest of the answer does not exist yet
    assert emulator.wait_for(lambda streams: streams and streams[0].held, HANG_BOUND_SECONDS)
    assert not emulator.streams[0].completed
    emulator.release()
    chat.expect_exact(" How can I help?")
    chat.expect_exact(PROMPT)


def test_ctrl_c_cancels_the_answer_and_the_chat_goes_on(chat: pexpect.spawn, emulator: Emulator) -> None:
    # The model sends one token, then holds the rest until the proxy lets go of the stream.
    emulator.set_scenario(tokens=[f" t{i}" for i in range(40)], hold_after=1)
    chat.sendline("Count slowly")
    chat.expect_exact("llm> t0")
    chat.sendintr()
    chat.expect_exact("(answer cancelled)")
    chat.expect_exact(PROMPT)
    # The model stream was dropped: the emulator saw its caller go away.
    assert emulator.wait_for(lambda streams: streams and streams[0].caller_gone, HANG_BOUND_SECONDS)
    assert not emulator.streams[0].completed
    emulator.set_scenario()
    chat.sendline("Hi again")
    chat.expect_exact("llm> Hello! How can I help?")
    # The cancelled question did not join the conversation.
    assert emulator.requests[-1]["payload"]["inputs"] == "User: Hi again\nFalcon:"


def test_ctrl_c_at_the_prompt_does_not_leave(chat: pexpect.spawn) -> None:
    chat.sendintr()
    chat.expect_exact("(Ctrl-D or /quit leaves)")
    chat.sendline("/quit")
    chat.expect(pexpect.EOF)


def test_a_starting_model_is_waited_for_with_a_countdown(chat: pexpect.spawn, emulator: Emulator) -> None:
    # The proxy tries SageMaker 3 times per request: 6 failures are two 503s (Retry-After: 1) for the client.
    emulator.set_scenario(fault="unavailable", fault_times=6)
    chat.sendline("Are you up?")
    chat.expect_exact("error 503: The model endpoint is not ready; retry later. (retry after 1 s)")
    chat.expect_exact("retrying in   1 s (Ctrl-C cancels)")
    chat.expect_exact("retrying now")
    chat.expect_exact("error 503")
    chat.expect_exact("retrying now")
    chat.expect_exact("llm> Hello! How can I help?")
    chat.expect_exact(PROMPT)


def test_commands_change_what_is_sent(chat: pexpect.spawn, emulator: Emulator) -> None:
    chat.sendline("/system You are terse.")
    chat.expect_exact("(system prompt set: You are terse.)")
    chat.sendline("/params temperature=0.7 max_tokens=3")
    chat.expect_exact("(params: temperature=0.7 max_tokens=3)")
    chat.sendline("Hi")
    chat.expect_exact("llm> Hello! How")
    chat.expect_exact(PROMPT)
    payload = emulator.requests[-1]["payload"]
    assert payload["inputs"].startswith("You are terse.")
    assert payload["parameters"]["temperature"] == 0.7 and payload["parameters"]["max_new_tokens"] == 3
    chat.sendline("/reset")
    chat.expect_exact("(conversation cleared)")
    chat.sendline("/params temperature=hot")
    chat.expect_exact("bad value for temperature: 'hot' is not a float")
    chat.expect_exact(PROMPT)
    chat.sendline("Again")
    chat.expect_exact("llm> Hello! How")
    chat.expect_exact(PROMPT)
    assert emulator.requests[-1]["payload"]["inputs"] == "You are terse.\n\nUser: Again\nFalcon:"


def test_a_4xx_is_shown_with_the_api_message(chat: pexpect.spawn, emulator: Emulator) -> None:
    emulator.set_scenario(fault="model422")
    chat.sendline("Too long")
    chat.expect_exact("error 400: Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048")
    chat.expect_exact(PROMPT)
