"""Context key image_url_domains (issue 17, High 1): one https host for vLLM, named errors otherwise; and no
extra_env that turns on the engines' prompt logging."""

from __future__ import annotations

import pytest

from stacks.config import ConfigError, from_context

VLLM = {"model": "qwen2.5-7b-instruct"}


def test_media_hosts_are_off_by_default() -> None:
    assert from_context(VLLM).image_url_domains == ()


def test_one_host_is_accepted_and_normalised() -> None:
    assert from_context({**VLLM, "image_url_domains": " images.example.com. "}).image_url_domains == (
        "images.example.com",
    )


@pytest.mark.parametrize(
    "value",
    [
        "https://images.example.com",
        "images.example.com/cats",
        "images.example.com:443",
        "169.254.169.254",
        "*.example.com",
        "Images.Example.com",
        "localhost",
        "user@images.example.com",
        "",
    ],
)
def test_bad_hosts_name_the_key_and_what_is_allowed(value: str) -> None:
    with pytest.raises(ConfigError, match=r"'image_url_domains'.*one https host name like images.example.com"):
        from_context({**VLLM, "image_url_domains": value})


def test_several_hosts_are_refused_because_the_container_could_not_enforce_them() -> None:
    with pytest.raises(ConfigError, match=r"'image_url_domains'.*exactly one host: the vLLM container"):
        from_context({**VLLM, "image_url_domains": "a.example.com,b.example.com"})


def test_tgi_cannot_allow_media_hosts() -> None:
    with pytest.raises(ConfigError, match=r"'image_url_domains'.*applies to engine=vllm, not tgi"):
        from_context({"image_url_domains": "images.example.com"})


@pytest.mark.parametrize("env", ['{"LOG_LEVEL":"debug"}', '{"RUST_LOG":"text_generation_router=trace"}'])
def test_extra_env_may_not_turn_on_logs_that_hold_prompts(env: str) -> None:
    with pytest.raises(ConfigError, match=r"'extra_env'.*would log prompts and answers"):
        from_context({"extra_env": env})
    assert from_context({"extra_env": '{"LOG_LEVEL":"warn"}'}).extra_env == {"LOG_LEVEL": "warn"}
