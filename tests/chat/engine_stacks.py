"""One ENGINE x PROMPT_FAMILY combination under test: its app process and the emulator behaving as its engine.

(A module of its own rather than conftest: test modules import it, and several test folders have a conftest.)
"""

from __future__ import annotations

import httpx
import openai
from chat_harness import MODEL_ID
from sagemaker_runtime_emulator import Emulator


class Stack:
    """The app of one ENGINE x PROMPT_FAMILY combination and the emulator behaving as that engine."""

    def __init__(self, url: str, engine: str, family: str, emulator: Emulator) -> None:
        self.url, self.engine, self.family, self.emulator = url, engine, family, emulator

    @property
    def server(self) -> bool:
        return self.family == "server"

    def scenario(self, **kwargs: object) -> None:
        self.emulator.set_scenario(engine=self.engine, served_model_name=MODEL_ID, **kwargs)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15)

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=15)


def make_stack(combo_apps: dict[str, str], emulator: Emulator, engine: str, family: str) -> Stack:
    result = Stack(combo_apps[f"{engine}/{family}"], engine, family, emulator)
    result.scenario()
    return result
