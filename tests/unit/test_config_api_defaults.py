"""-c default_max_tokens (the chat API's max_tokens for requests that give none) and the model's alias."""

from __future__ import annotations

import pytest

from constructs.api.settings import model_aliases
from stacks.config import ConfigError, from_context


def test_default_max_tokens_is_unset_by_default() -> None:
    assert from_context({}).default_max_tokens is None


def test_default_max_tokens_is_parsed() -> None:
    config = from_context({"model": "qwen2.5-7b-instruct", "max_total_tokens": "8192", "default_max_tokens": "4000"})
    assert config.default_max_tokens == 4000


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"default_max_tokens": "0"}, r"'default_max_tokens'.*0"),
        ({"default_max_tokens": "many"}, r"'default_max_tokens'.*many"),
        (
            {"model": "qwen2.5-7b-instruct", "max_total_tokens": "4096", "default_max_tokens": "4096"},
            r"default_max_tokens.*4096.*less than max_total_tokens \(4096\)",
        ),
        # TGI generates at most max_total_tokens - max_input_tokens (1024 with the defaults).
        ({"default_max_tokens": "1500"}, r"default_max_tokens.*1500.*max_total_tokens - max_input_tokens = 1024"),
    ],
)
def test_bad_default_max_tokens_names_key_value_and_allowed(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)


@pytest.mark.parametrize(
    ("served", "preset", "aliases"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b-instruct", ("qwen2.5-7b-instruct",)),
        ("acme/chat-7b", "acme/chat-7b", ("chat-7b",)),
        ("tiiuae/falcon-40b-instruct", "falcon-40b-instruct", ("falcon-40b-instruct",)),
        ("local-model", None, ()),
    ],
)
def test_model_aliases_have_no_slash(served: str, preset: str | None, aliases: tuple[str, ...]) -> None:
    assert model_aliases(served, preset) == aliases
