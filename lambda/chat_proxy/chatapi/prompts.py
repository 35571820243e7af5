"""Render chat messages into a model family's prompt, and strip its stop sequences from generated text.

Each family is one row of data. Falcon reproduces the original guide's convention exactly::

    {system}\\n\\nUser: {user}\\nFalcon: {assistant}\\nUser: {user}\\nFalcon:

(the guide's follow-up prompt is ``prompt + generated_text + "\\nUser: ...\\nFalcon:"``, and the model's text
starts with one space, which is what ``"Falcon: " + content`` gives back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PromptFamily:
    bos: str
    system: str  # "{content}" template for a standalone system block; "" when merged into the first user turn
    merged_system: str  # "{system}" + "{user}" template used when ``system`` is ""
    user: str
    assistant: str
    generation_prompt: str
    stop: tuple[str, ...]
    # The generation prompt ends right after a label ("Falcon:", "[/INST]"): the model answers " text".
    strip_leading_whitespace: bool


FAMILIES: dict[str, PromptFamily] = {
    "falcon": PromptFamily(
        bos="",
        system="{content}\n\n",
        merged_system="",
        user="User: {content}\n",
        assistant="Falcon: {content}\n",
        generation_prompt="Falcon:",
        stop=("\nUser:", "<|endoftext|>"),
        strip_leading_whitespace=True,
    ),
    "chatml": PromptFamily(
        bos="",
        system="<|im_start|>system\n{content}<|im_end|>\n",
        merged_system="",
        user="<|im_start|>user\n{content}<|im_end|>\n",
        assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
        generation_prompt="<|im_start|>assistant\n",
        stop=("<|im_end|>",),
        strip_leading_whitespace=False,
    ),
    "llama2": PromptFamily(
        bos="<s>",
        system="",
        merged_system="<<SYS>>\n{system}\n<</SYS>>\n\n{user}",
        user="[INST] {content} [/INST]",
        assistant=" {content} </s><s>",
        generation_prompt="",
        stop=("</s>",),
        strip_leading_whitespace=True,
    ),
    "mistral": PromptFamily(
        bos="<s>",
        system="",
        merged_system="{system}\n\n{user}",
        user="[INST] {content} [/INST]",
        assistant="{content}</s>",
        generation_prompt="",
        stop=("</s>",),
        strip_leading_whitespace=True,
    ),
}


@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


def render(family: PromptFamily, system: str | None, turns: Sequence[Turn]) -> str:
    """The prompt for ``turns`` (alternating, ending with a user turn), with an optional system prompt."""
    parts = [family.bos]
    pending_system = system
    if system is not None and family.system:
        parts.append(family.system.format(content=system))
        pending_system = None
    for turn in turns:
        if turn.role == "user":
            content = turn.content
            if pending_system is not None:
                content = family.merged_system.format(system=pending_system, user=content)
                pending_system = None
            parts.append(family.user.format(content=content))
        else:
            parts.append(family.assistant.format(content=turn.content))
    parts.append(family.generation_prompt)
    return "".join(parts)


def strip_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` without a trailing stop sequence (TGI includes the matched stop sequence in its output)."""
    for stop in sorted(stops, key=len, reverse=True):
        if stop and text.endswith(stop):
            return text[: -len(stop)]
    return text


class StopFilter:
    """Streams text while holding back any tail that could still become a stop sequence."""

    def __init__(self, stops: Sequence[str], *, strip_leading_whitespace: bool = False) -> None:
        self._stops = [s for s in stops if s]
        self._pending = ""
        self._stopped = False
        self._strip_leading = strip_leading_whitespace

    @property
    def stopped(self) -> bool:
        return self._stopped

    def push(self, text: str) -> str:
        """Feed generated text; return the part that is safe to send now."""
        if self._stopped:
            return ""
        self._pending += text
        if self._strip_leading:
            self._pending = self._pending.lstrip()
            if not self._pending:
                return ""
            self._strip_leading = False
        cut = min((i for i in (self._pending.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self._pending, self._stopped = self._pending[:cut], "", True
            return out
        hold = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._pending)), 0, -1):
                if self._pending.endswith(stop[:n]):
                    hold = max(hold, n)
                    break
        out = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(out) :]
        return out

    def flush(self) -> str:
        """The held-back text once generation ended without completing a stop sequence."""
        out, self._pending = ("" if self._stopped else self._pending), ""
        return out
