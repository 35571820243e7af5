"""Prompt rendering per family (the original guide's Falcon prompt exactly) and stop-sequence handling."""

from __future__ import annotations

from chatapi.prompts import FAMILIES, StopFilter, Turn, render, strip_stop

GUIDE_SYSTEM = "You are an helpful Assistant, called Falcon. Knowing everyting about AWS."
GUIDE_PROMPT = """You are an helpful Assistant, called Falcon. Knowing everyting about AWS.

User: Can you tell me something about Amazon SageMaker?
Falcon:"""
GUIDE_ANSWER = " Amazon SageMaker is a fully managed platform."


def test_falcon_reproduces_the_guides_first_prompt() -> None:
    turns = [Turn("user", "Can you tell me something about Amazon SageMaker?")]
    assert render(FAMILIES["falcon"], GUIDE_SYSTEM, turns) == GUIDE_PROMPT


def test_falcon_reproduces_the_guides_follow_up_prompt() -> None:
    question = "How would you recommend start using Amazon SageMaker? If i am new to Machine Learning?"
    guide_new_prompt = f"""{GUIDE_PROMPT}{GUIDE_ANSWER}
User: {question}
Falcon:"""
    turns = [
        Turn("user", "Can you tell me something about Amazon SageMaker?"),
        Turn("assistant", GUIDE_ANSWER.lstrip()),
        Turn("user", question),
    ]
    assert render(FAMILIES["falcon"], GUIDE_SYSTEM, turns) == guide_new_prompt


def test_falcon_without_system_starts_with_the_user_turn() -> None:
    assert render(FAMILIES["falcon"], None, [Turn("user", "hi")]) == "User: hi\nFalcon:"


def test_falcon_stops_at_the_next_user_turn_and_end_of_text() -> None:
    assert FAMILIES["falcon"].stop == ("\nUser:", "<|endoftext|>")


def test_chatml_renders_im_start_blocks() -> None:
    prompt = render(FAMILIES["chatml"], "sys", [Turn("user", "q"), Turn("assistant", "a"), Turn("user", "q2")])
    assert prompt == (
        "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n"
        "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n"
    )


def test_llama2_puts_system_inside_the_first_instruction() -> None:
    prompt = render(FAMILIES["llama2"], "sys", [Turn("user", "q"), Turn("assistant", "a"), Turn("user", "q2")])
    assert prompt == "<s>[INST] <<SYS>>\nsys\n<</SYS>>\n\nq [/INST] a </s><s>[INST] q2 [/INST]"


def test_mistral_prepends_system_to_the_first_user_message() -> None:
    prompt = render(FAMILIES["mistral"], "sys", [Turn("user", "q"), Turn("assistant", "a"), Turn("user", "q2")])
    assert prompt == "<s>[INST] sys\n\nq [/INST]a</s>[INST] q2 [/INST]"


def test_strip_stop_removes_a_trailing_stop_sequence_only() -> None:
    assert strip_stop("Hello\nUser:", ["\nUser:"]) == "Hello"
    assert strip_stop("User: is fine\nUser: here", ["\nUser:"]) == "User: is fine\nUser: here"


def test_stop_filter_holds_back_a_stop_sequence_split_across_tokens() -> None:
    stop_filter = StopFilter(["\nUser:"])
    out = [stop_filter.push(t) for t in ["Hi", " there", "\n", "User", ":", " more"]]
    assert out == ["Hi", " there", "", "", "", ""]
    assert stop_filter.stopped


def test_stop_filter_releases_a_false_alarm_prefix() -> None:
    stop_filter = StopFilter(["\nUser:"])
    assert [stop_filter.push(t) for t in ["a", "\n", "Us", "e"]] == ["a", "", "", ""]
    assert stop_filter.push("d") == "\nUsed"


def test_stop_filter_flushes_held_text_when_generation_ends() -> None:
    stop_filter = StopFilter(["\nUser:"])
    assert stop_filter.push("end\nUs") == "end"
    assert stop_filter.flush() == "\nUs"


def test_stop_filter_strips_leading_whitespace_across_tokens() -> None:
    stop_filter = StopFilter([], strip_leading_whitespace=True)
    assert [stop_filter.push(t) for t in [" ", "\n", " Hi", " there"]] == ["", "", "Hi", " there"]
