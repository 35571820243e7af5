"""Terminal chat with the deployed API: ``make chat`` or ``python -m llmchat`` (``llm-chat`` once pip-installed).

The API's URL comes from the CloudFormation stack's ``ApiUrl`` output (``--stack``, default ``LlmChat``) or from
``--url``. Requests are signed with SigV4 from the standard AWS credential chain (``--auth iam``, the stack's
default), or carry an API key (``--auth api_key``: from ``LLMCHAT_API_KEY``, else asked for without echo; never an
argument, since any local user can read a process's argv), or nothing (``--auth none`` for ``make dev``).
The ``openai`` client does the HTTP and the SSE parsing; this module is the conversation loop around it.
"""

from __future__ import annotations

import argparse
import email.utils
import getpass
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx
import openai

from llmchat.waking import WakingTransport

EXIT_ERROR = 2
# The longest a single answer may take through API Gateway's streaming integration.
READ_TIMEOUT = 900.0
# Typed values for /params: the OpenAI parameters the chat API honours.
PARAMS: dict[str, Callable[[str], Any]] = {
    "temperature": float,
    "top_p": float,
    "max_tokens": int,
    "seed": int,
    "stop": str,
}
REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
HELP = """commands:
  /reset                      forget the conversation (keeps the system prompt and parameters)
  /system TEXT                set the system prompt; /system alone clears it
  /params k=v ...             set generation parameters (temperature, top_p, max_tokens, seed, stop);
                              k= removes one, /params alone shows them
  /help                       this text
  /quit                       leave (or Ctrl-D)
Ctrl-C while an answer streams (or while waiting for the model) cancels that answer."""


class ChatError(Exception):
    """A problem the user must fix (configuration, credentials, URL); printed without a traceback."""


@dataclass
class Conversation:
    system: str | None = None
    turns: list[dict[str, str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + self.turns

    def set_params(self, args: Sequence[str]) -> None:
        """Apply ``key=value`` pairs (all or none: a bad one changes nothing)."""
        updated = dict(self.params)
        for arg in args:
            key, sep, raw = arg.partition("=")
            if not sep or key not in PARAMS:
                raise ChatError(f"bad parameter {arg!r}: use key=value with key one of {', '.join(PARAMS)}")
            if raw == "":
                updated.pop(key, None)
                continue
            try:
                updated[key] = PARAMS[key](raw)
            except ValueError:
                kind = PARAMS[key].__name__
                raise ChatError(f"bad value for {key}: {raw!r} is not a{'n' if kind == 'int' else ''} {kind}") from None
        self.params = updated


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> int | None:
    """Retry-After as whole seconds (RFC 9110: delay-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, round((when - (now or datetime.now(UTC))).total_seconds()))


# The chat API's code for a call outside the deployment's active hours (chatapi/active_hours.py).
OUTSIDE_ACTIVE_HOURS = "outside_active_hours"


def error_code(err: openai.APIStatusError) -> str | None:
    """The ``code`` of the API's OpenAI-shaped error body, if it has one."""
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error", body)
    code = inner.get("code") if isinstance(inner, dict) else None
    return code if isinstance(code, str) else None


def error_message(err: openai.APIStatusError) -> str:
    """The API's OpenAI-shaped error message (or the raw body), with what to do about it."""
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error", body) if isinstance(body.get("error", body), dict) else body
    message = inner.get("message") or body.get("message") or err.response.text.strip() or err.response.reason_phrase
    status = err.status_code
    hint = {
        400: "fix the request (see /params)",
        403: "iam mode: your AWS identity needs execute-api:Invoke on this API and the region must be the API's; "
        "api_key mode: check the key (the stack's ApiKeyCommand output prints it)",
        413: "the conversation is too large: /reset",
        429: "slow down: the stage's rate limit or the API key's daily quota was hit, or the model is busy",
    }.get(status)
    retry = retry_after_seconds(err.response.headers.get("retry-after"))
    text = f"error {status}: {message}"
    if retry is not None and status in (429, 503) and error_code(err) != OUTSIDE_ACTIVE_HOURS:
        text += f" (retry after {retry} s)"
    return text + (f"\n  {hint}" if hint else "")


def region_of(url: str) -> str | None:
    match = REGION_IN_HOST.search(httpx.URL(url).host)
    return match.group(1) if match else None


def stack_url(stack: str, region: str | None) -> str:
    """The stack's ``ApiUrl`` output, read with boto3 (the same credentials and region resolution as the CLI)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        # botocore itself reads AWS_DEFAULT_REGION; AWS_REGION is what the AWS CLI v2 and most SDKs honour too.
        cfn = boto3.client("cloudformation", region_name=region or os.environ.get("AWS_REGION") or None)
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except NoRegionError:
        raise ChatError("no AWS region: pass --region or set AWS_REGION (or give the API's --url)") from None
    except NoCredentialsError:
        raise ChatError(
            "no AWS credentials found to read the stack's outputs (environment, ~/.aws, SSO, instance role): "
            "set AWS_PROFILE or run `aws sso login`, or give the API's --url"
        ) from None
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise ChatError(f"cannot read stack {stack!r}: {message} (pass --region, --stack or --url)") from None
    except BotoCoreError as exc:
        raise ChatError(f"cannot read stack {stack!r}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "ApiUrl" not in outputs:
        raise ChatError(f"stack {stack!r} has no ApiUrl output (is it deployed completely?)")
    return str(outputs["ApiUrl"])


@dataclass(frozen=True)
class Target:
    url: str
    auth: str
    region: str | None
    api_key: str | None


def http_client(target: Target) -> httpx.Client:
    timeout = httpx.Timeout(READ_TIMEOUT, connect=10.0)
    # WakingTransport: shows "waking the model (n s)" while a scaled-to-zero model starts (issue 20).
    if target.auth != "iam":
        return httpx.Client(timeout=timeout, transport=WakingTransport())
    import botocore.session

    from llmchat.sigv4 import SigV4

    session = botocore.session.get_session()
    if session.get_credentials() is None:
        raise ChatError(
            "no AWS credentials found (environment, ~/.aws, SSO, instance role) to sign requests (iam mode): "
            "set AWS_PROFILE or run `aws sso login`; or use --api-key for an api_key stack"
        )
    region = target.region or session.get_config_variable("region")
    if not region:
        raise ChatError("no AWS region to sign for: pass --region (the API's region)")
    return httpx.Client(auth=SigV4(region=region, session=session), timeout=timeout, transport=WakingTransport())


class Chat:
    """The conversation loop: reads lines, runs commands, streams answers."""

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        max_wait: float = 900,
        out: TextIO = sys.stdout,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.model = model
        self.max_wait = max_wait
        self.out = out
        self.sleep = sleep
        self.conversation = Conversation()

    def say(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def command(self, line: str) -> bool:
        """Run a /command; False when the user wants to leave."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        c = self.conversation
        if name in ("/quit", "/exit"):
            return False
        if name == "/reset":
            c.turns.clear()
            self.say("(conversation cleared)")
        elif name == "/system":
            c.system = rest or None
            self.say(f"(system prompt set: {rest})" if rest else "(system prompt cleared)")
        elif name == "/params":
            try:
                c.set_params(rest.split())
            except ChatError as err:
                self.say(str(err))
                return True
            shown = " ".join(f"{k}={v!r}" if k == "stop" else f"{k}={v}" for k, v in c.params.items())
            self.say(f"(params: {shown or 'server defaults'})")
        elif name == "/help":
            self.say(HELP)
        else:
            self.say(f"unknown command {name}; /help lists them")
        return True

    def ask(self, text: str) -> str | None:
        """Send one user turn and stream the answer; the turn joins the conversation only if it completed."""
        self.conversation.turns.append({"role": "user", "content": text})
        answer = self._answer()
        if answer is None:
            self.conversation.turns.pop()
        else:
            self.conversation.turns.append({"role": "assistant", "content": answer})
        return answer

    def _answer(self) -> str | None:
        waited = 0.0
        while True:
            try:
                return self._stream()
            except KeyboardInterrupt:
                self.say("\n(answer cancelled)")
                return None
            except openai.APIStatusError as err:
                retry = retry_after_seconds(err.response.headers.get("retry-after"))
                if error_code(err) == OUTSIDE_ACTIVE_HOURS:
                    # Scheduled off: nothing starts the model before the time the message names; do not wait.
                    self.say(error_message(err))
                    return None
                if err.status_code == 503 and retry is not None and waited < self.max_wait:
                    message = error_message(err).splitlines()[0]
                    self.say(f"{message}\nthe model is not ready (starting, or scaling from zero); waiting")
                    if not self._countdown(max(1, retry)):
                        self.say("\n(answer cancelled)")
                        return None
                    waited += max(1, retry)
                    continue
                self.say(error_message(err))
                return None
            except openai.APIConnectionError as err:
                self.say(f"error: cannot reach the API: {err.__cause__ or err}")
                return None
            except openai.APIError as err:
                # An error event inside a stream that had already started (the proxy ends it cleanly after it).
                self.say(f"\nerror: {err.message}")
                return None

    def _countdown(self, seconds: int) -> bool:
        try:
            for left in range(seconds, 0, -1):
                self.say(f"\rretrying in {left:>3} s (Ctrl-C cancels)", end="")
                self.sleep(1)
        except KeyboardInterrupt:
            return False
        self.say("\r" + "retrying now".ljust(40))  # overwrite the whole countdown line
        return True

    def _stream(self) -> str:
        # Any: /params are checked here by name and type, which the SDK's overloads cannot see through **kwargs.
        create: Any = self.client.chat.completions.create
        stream = create(
            model=self.model, messages=self.conversation.messages(), stream=True, **self.conversation.params
        )
        parts: list[str] = []
        self.say("llm> ", end="")
        try:
            for chunk in stream:
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    parts.append(delta)
                    self.say(delta, end="")
        finally:
            stream.close()  # on Ctrl-C too: drops the connection, so the server stops generating
        self.say()
        return "".join(parts)

    def run(self, read: Callable[[str], str] = input) -> None:
        while True:
            try:
                line = read("you> ").strip()
            except EOFError:
                self.say()
                return
            except KeyboardInterrupt:
                self.say("\n(Ctrl-D or /quit leaves)")
                continue
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return
                continue
            self.ask(line)


class _KeyFlag(argparse.Action):
    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any, _: Any = None
    ) -> None:
        if value is not True:
            # Not parser.error(): argparse would print the value, i.e. the key.
            raise ChatError(
                "--api-key takes no value: a key on the command line is visible to every local user (ps) and kept "
                "in shell history. Set LLMCHAT_API_KEY, or give --api-key alone to be asked for it."
            )
        namespace.api_key = True


def read_api_key(environ: Mapping[str, str], ask: Callable[[str], str] | None) -> str | None:
    """The API key from ``LLMCHAT_API_KEY``, else from ``ask`` (default: a hidden prompt when stdin is a
    terminal); None when neither gives one."""
    key = environ.get("LLMCHAT_API_KEY", "").strip()
    if key:
        return key
    if ask is None:
        if not sys.stdin.isatty():
            return None
        ask = getpass.getpass
    try:
        return ask("API key (input hidden): ").strip() or None
    except (EOFError, KeyboardInterrupt):
        return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="llm-chat", description="Chat with the deployed LLM chat API in the terminal."
    )
    parser.add_argument("--url", default=os.environ.get("LLMCHAT_URL"), help="API base URL (default: the stack's)")
    parser.add_argument("--stack", default="LlmChat", help="CloudFormation stack to read ApiUrl from")
    parser.add_argument("--region", default=None, help="AWS region (default: from the URL, else AWS_REGION)")
    parser.add_argument("--auth", choices=("iam", "api_key", "none"), help="default: api_key with a key, else iam")
    # Takes no value: a key in argv is readable by every local user (ps, /proc/<pid>/cmdline) and lands in shell
    # history. A value given anyway is refused without being echoed (_KeyInArgv).
    parser.add_argument(
        "--api-key",
        nargs="?",
        const=True,
        default=False,
        action=_KeyFlag,
        help="api_key mode: the key from LLMCHAT_API_KEY, else a hidden prompt (never on the command line)",
    )
    parser.add_argument("--model", default=None, help="model name to send (default: the API's /v1/models)")
    parser.add_argument("--system", default=None, help="initial system prompt")
    parser.add_argument("--max-wait", type=float, default=900, help="seconds to wait for a starting model")
    from llmchat import native

    native.add_arguments(parser)  # --direct: SageMaker's own OpenAI route (llmchat/native.py)
    return parser.parse_args(argv)


def connect(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None, ask: Callable[[str], str] | None = None
) -> tuple[openai.OpenAI, str]:
    environ = os.environ if environ is None else environ
    if getattr(args, "direct", False):
        from llmchat import native

        return native.connect(args, environ)
    has_env_key = bool(environ.get("LLMCHAT_API_KEY", "").strip())
    auth = args.auth or ("api_key" if args.api_key or has_env_key else "iam")
    key = read_api_key(environ, ask) if auth == "api_key" else None
    if auth == "api_key" and not key:
        raise ChatError(
            "api_key mode needs a key: set LLMCHAT_API_KEY or type it at the prompt (the stack's ApiKeyCommand "
            "prints it)"
        )
    url = args.url or stack_url(args.stack, args.region)
    region = args.region or region_of(url)
    target = Target(url=url, auth=auth, region=region, api_key=key)
    client = openai.OpenAI(
        base_url=url.rstrip("/") + "/v1",
        api_key="unused",  # the client insists on one; the API reads x-api-key or SigV4, never this
        default_headers={"x-api-key": target.api_key} if target.api_key else None,
        # openai accepts an httpx.Client (it converts it); its annotation names only its own httpx2 fork.
        http_client=http_client(target),  # type: ignore[arg-type]
        max_retries=0,  # 503/429 are handled here, with a visible countdown
    )
    if args.model:
        return client, args.model
    try:
        models = client.models.list().data
    except openai.APIStatusError as err:
        raise ChatError(f"{url}: {error_message(err)}") from None
    except openai.APIConnectionError as err:
        raise ChatError(f"cannot reach {url}: {err.__cause__ or err}") from None
    return client, models[0].id if models else "default"


def main(argv: Sequence[str] | None = None) -> None:
    try:
        args = parse_args(argv)
    except ChatError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    try:
        client, model = connect(args)
    except ChatError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    chat = Chat(client, model, max_wait=args.max_wait)
    chat.conversation.system = args.system
    chat.say(f"{model} at {client.base_url} — /help for commands, Ctrl-C cancels an answer, Ctrl-D quits")
    chat.run()


if __name__ == "__main__":
    main()
