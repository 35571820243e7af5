"""Draw the README's architecture picture, docs/architecture.svg, from the code it describes.

    python tools/architecture.py           # rewrites docs/architecture.svg
    python tools/architecture.py --check   # exits 1 when the committed file differs from what the code says

Every number and name in the picture is read from the project: the default deployment from cdk.json's context
through ``stacks.config.from_context``, the model from ``constructs.facts.presets``, GPU facts and the TGI image
from the SageMaker SDK's bundled data (``constructs.facts.sdk_data``), the JumpStart alternative from
``jumpstart.lock.json``, the routes from the chat proxy's FastAPI app, and the API Gateway/Lambda settings from
``constructs/api/chat_api.py``. That module imports aws_cdk (~5 s of jsii start-up), so its constants are read from
its syntax tree instead of importing it. The SVG is plain text built here (no layout engine), so the output is
identical byte for byte on every machine; ``tests/unit/test_architecture_doc.py`` regenerates it and fails when the
committed file is stale.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import json
import os
import runpy
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "architecture.svg"
CHAT_PROXY = ROOT / "lambda" / "chat_proxy"
LOCK_FILE = "jumpstart.lock.json"
# Importing the app reads its settings from the environment; these satisfy it without touching AWS.
APP_IMPORT_ENV = {"SAGEMAKER_ENDPOINT_NAME": "dummy", "AWS_REGION": "us-east-1"}

# ---------------------------------------------------------------------------------------------------------------
# Facts from the code
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Facts:
    preset: str
    hf_model_id: str
    deployment: str
    instance_type: str
    instance_count: int
    gpu_count: int
    gpu_memory_gib: float
    num_gpus: int
    image_repository: str
    tgi_version: str
    vllm_version: str
    vllm_repository: str
    health_check_timeout: int
    api_auth: str
    rate_limit: int
    burst_limit: int
    stage: str
    integration_timeout_s: int
    transfer_mode: str
    lwa_layer_version: int
    lwa_invoke_mode: str
    runtime: str
    architecture: str
    memory_mb: int
    jumpstart_model: str
    jumpstart_version: str
    jumpstart_instance_type: str
    jumpstart_network_isolation: bool
    routes: tuple[Route, ...]


@contextlib.contextmanager
def _app_import_context() -> Iterator[None]:
    """lambda/chat_proxy on sys.path and the app's required settings in os.environ, both restored afterwards."""
    saved_env = {key: os.environ.get(key) for key in APP_IMPORT_ENV}
    saved_path = list(sys.path)
    os.environ.update(APP_IMPORT_ENV)
    sys.path.insert(0, str(CHAT_PROXY))
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_app() -> Any:
    """The chat proxy's FastAPI app object (the one Lambda and `make dev` serve)."""
    with _app_import_context():
        module = importlib.import_module("main")
    where = Path(str(module.__file__)).resolve()
    if where != CHAT_PROXY / "main.py":
        raise RuntimeError(f"imported `main` from {where}, expected {CHAT_PROXY / 'main.py'}")
    return module.app


def served_routes(app: Any) -> tuple[Route, ...]:
    """The API routes of the app (method, path, first clause of the docstring), without docs/openapi routes."""
    from fastapi.routing import APIRoute

    hidden = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    routes = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema or route.path in hidden:
            continue
        summary = (route.summary or route.description or route.name).strip()
        summary = summary.split(";")[0].split(". ")[0].rstrip(".").replace("``", "")
        for method in sorted(set(route.methods or ()) - {"HEAD", "OPTIONS"}):
            routes.append(Route(method, route.path_format, summary))  # "{model}", not "{model:path}"
    if not routes:
        raise RuntimeError("the chat proxy app serves no routes")
    return tuple(routes)


def _tree(relative: str) -> ast.Module:
    return ast.parse((ROOT / relative).read_text(encoding="utf-8"), filename=relative)


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            if node.value is not None:
                return node.value
    raise LookupError(f"no module-level assignment to {name} found; update tools/architecture.py")


def _constant(tree: ast.Module, name: str) -> Any:
    return ast.literal_eval(_assigned(tree, name))


def _field_default(tree: ast.Module, class_name: str, field: str) -> Any:
    """The literal default of `field` in the (data)class `class_name`."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                    if item.target.id == field:
                        return ast.literal_eval(item.value)
    raise LookupError(f"no default for {class_name}.{field} found; update tools/architecture.py")


def _time_limit(name: str) -> object:
    """A number of constructs/api/time_limits.py (plain Python, no aws_cdk: run, not parsed)."""
    return runpy.run_path(str(ROOT / "constructs" / "api" / "time_limits.py"))[name]


def _duration_seconds(expr: ast.expr) -> int:
    """`cdk.Duration.minutes(15)` (or seconds/hours; the argument a literal or `time_limits.NAME`) as seconds."""
    scale = {"seconds": 1, "minutes": 60, "hours": 3600}
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in scale:
        arg = expr.args[0] if len(expr.args) == 1 else None
        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "time_limits":
            value = _time_limit(arg.attr)
        else:
            value = ast.literal_eval(arg) if arg is not None else None
        if isinstance(value, int | float):
            return int(value * scale[expr.func.attr])
    raise LookupError(f"cannot read a duration from {ast.unparse(expr)!r}; update tools/architecture.py")


def _keyword(tree: ast.Module, name: str) -> ast.expr:
    """The value of the first `name=...` keyword argument in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == name:
            return node.value
    raise LookupError(f"no keyword argument {name}= found; update tools/architecture.py")


def _member(expr: ast.expr) -> str:
    """The enum member an expression like `lambda_.Runtime.PYTHON_3_13` names."""
    if not isinstance(expr, ast.Attribute):
        raise LookupError(f"expected an enum member, found {ast.unparse(expr)!r}; update tools/architecture.py")
    return expr.attr


def _dict_value(tree: ast.Module, key: str) -> Any:
    """The literal value of `key` in the first dict display that has it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == key:
                    return ast.literal_eval(v)
    raise LookupError(f"no dict entry {key!r} found; update tools/architecture.py")


def _runtime_label(member: str) -> str:
    # PYTHON_3_13 -> Python 3.13
    language, _, version = member.partition("_")
    return f"{language.title()} {version.replace('_', '.')}"


def collect() -> Facts:
    """Read every fact the picture shows from the project."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from constructs.facts.catalog import VLLM_IMAGE_FRAMEWORKS, valid_shards
    from constructs.facts.jumpstart_lock import load_locked_model
    from constructs.facts.sdk_data import gpu_info, resolve_image
    from stacks.config import from_context

    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    config = from_context(context)
    model = config.model
    instance_type = config.instance_type or model.default_instance_type
    gpus = gpu_info(instance_type)

    chat_api = _tree("constructs/api/chat_api.py")
    tgi = _tree("constructs/engines/tgi_endpoint.py")
    jumpstart = _tree("constructs/engines/jumpstart_endpoint.py")
    hosting = _tree("constructs/hosting/shape.py")
    image = resolve_image(_constant(tgi, "IMAGE_FRAMEWORK"), config.tgi_version)
    vllm_image = resolve_image(VLLM_IMAGE_FRAMEWORKS[config.vllm_image], config.vllm_version)
    locked = load_locked_model(
        config.jumpstart_model or model.jumpstart_model or _constant(jumpstart, "DEFAULT_JUMPSTART_MODEL"),
        lock_path=ROOT / LOCK_FILE,
    )
    architecture = _member(_keyword(chat_api, "architecture"))
    return Facts(
        preset=model.name,
        hf_model_id=model.hf_model_id,
        deployment=config.deployment,
        instance_type=instance_type,
        instance_count=config.instance_count,
        gpu_count=gpus.count,
        gpu_memory_gib=gpus.memory_gib,
        num_gpus=config.num_gpus or valid_shards(gpus.count, model.architecture),
        image_repository=image.repository,
        tgi_version=image.version,
        vllm_version=vllm_image.version,
        vllm_repository=vllm_image.repository,
        health_check_timeout=(
            config.health_check_timeout
            if config.health_check_timeout is not None
            else _field_default(hosting, "Hosting", "health_check_timeout")
        ),
        api_auth=config.api_auth,
        rate_limit=config.api_rate_limit,
        burst_limit=config.api_burst_limit,
        stage=_constant(chat_api, "STAGE_NAME"),
        integration_timeout_s=_duration_seconds(_assigned(chat_api, "INTEGRATION_TIMEOUT")),
        transfer_mode=_member(_keyword(chat_api, "response_transfer_mode")),
        lwa_layer_version=_constant(chat_api, "LWA_LAYER_VERSION"),
        lwa_invoke_mode=_dict_value(chat_api, "AWS_LWA_INVOKE_MODE"),
        runtime=_runtime_label(_member(_keyword(chat_api, "runtime"))),
        architecture=architecture.lower().replace("_", ""),
        memory_mb=ast.literal_eval(_keyword(chat_api, "memory_size")),
        jumpstart_model=locked.model_id,
        jumpstart_version=locked.version,
        jumpstart_instance_type=locked.default_instance_type,
        jumpstart_network_isolation=locked.enable_network_isolation,
        routes=served_routes(load_app()),
    )


# ---------------------------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 1000, 870
SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Liberation Sans', sans-serif"
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', 'DejaVu Sans Mono', monospace"
INK, MUTED, LINE = "#1f2933", "#52606d", "#616e7c"
# (stroke, fill, title) per kind of box; AWS's category colours, lightened for the fill.
PALETTE = {
    "client": ("#7b8794", "#f5f7fa", "#323f4b"),
    "apigw": ("#8c4fff", "#f4efff", "#5a24c7"),
    "lambda": ("#ed7100", "#fff4e8", "#a34e00"),
    "sagemaker": ("#01a88d", "#e9f8f5", "#00725f"),
    "iam": ("#dd344c", "#fdeef0", "#a61b2f"),
    "logs": ("#e7157b", "#fdeef5", "#a30d56"),
    "note": ("#9aa5b1", "#ffffff", "#323f4b"),
}
LEFT, LEFT_W = 40, 380  # the request path, top to bottom
RIGHT, RIGHT_W = 500, 460  # what each step is configured with
SPINE = LEFT + LEFT_W // 2
LINE_H, TITLE_H, PAD = 17, 22, 12
# Average glyph advance as a fraction of the font size; generous for wide fallback fonts (DejaVu).
ADVANCE = {"sans": 0.55, "mono": 0.61}


@dataclass(frozen=True)
class Line:
    """One line of a box: text in a font, and optionally muted text in a second column."""

    text: str
    font: str = "sans"
    aside: str = ""


def _fit(text: str, width: float, size: float, font: str = "sans") -> str:
    """`text`, shortened with an ellipsis when it would not fit `width` pixels."""
    room = int(width / (size * ADVANCE[font]))
    return text if len(text) <= room else text[: max(room - 1, 1)].rstrip() + "…"


class Canvas:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float = 12,
        weight: str | None = None,
        fill: str = INK,
        anchor: str = "start",
        font: str = "sans",
        cls: str | None = None,
    ) -> None:
        attrs = [f'x="{x:g}"', f'y="{y:g}"', f'font-size="{size:g}"', f'fill="{fill}"']
        if weight:
            attrs.append(f'font-weight="{weight}"')
        if anchor != "start":
            attrs.append(f'text-anchor="{anchor}"')
        if font == "mono":
            attrs.append('class="mono"')
        if cls:
            attrs.append(f'class="{cls}"')
        self.add(f"<text {' '.join(attrs)}>{escape(content)}</text>")

    def box(
        self,
        x: float,
        y: float,
        w: float,
        title: str,
        lines: Sequence[str | Line],
        *,
        kind: str,
        dashed: bool = False,
        subtitle: str | None = None,
        aside_at: float = 0,
        box_id: str,
    ) -> float:
        """A titled box of text lines (asides start `aside_at` px into the text). Returns the box's height."""
        stroke, fill, title_fill = PALETTE[kind]
        h = PAD + TITLE_H + LINE_H * len(lines) + 8
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        self.add(f"<g id={quoteattr(box_id)}>")
        self.add(
            f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="8" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="1.5"{dash}/>'
        )
        if not dashed:
            self.add(f'<rect x="{x:g}" y="{y + 6:g}" width="4" height="{h - 12:g}" rx="2" fill="{stroke}"/>')
        inner = w - 2 * PAD
        self.text(x + PAD, y + PAD + 13, _fit(title, inner, 14), size=14, weight="600", fill=title_fill)
        if subtitle:
            # On the title's line, after it (bold 14 px glyphs are ~0.62 em wide).
            offset = PAD + len(title) * 14 * 0.62 + 12
            self.text(x + offset, y + PAD + 13, _fit(subtitle, w - offset - PAD, 12), size=12, fill=MUTED)
        for i, item in enumerate(lines):
            line = item if isinstance(item, Line) else Line(item)
            size = 11.5 if line.font == "mono" else 12
            baseline = y + PAD + TITLE_H + 11 + i * LINE_H
            room = aside_at - 8 if line.aside else inner
            self.text(x + PAD, baseline, _fit(line.text, room, size, line.font), size=size, font=line.font)
            if line.aside:
                aside = _fit(line.aside, inner - aside_at, 12)
                self.text(x + PAD + aside_at, baseline, aside, size=12, fill=MUTED)
        self.add("</g>")
        return h

    def arrow(self, points: Sequence[tuple[float, float]], *, dashed: bool = False, head: bool = True) -> None:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:g} {y:g}" for i, (x, y) in enumerate(points))
        style = ' stroke-dasharray="5 4"' if dashed else ""
        marker = ' marker-end="url(#arrow)"' if head else ""
        self.add(f'<path d="{path}" fill="none" stroke="{LINE}" stroke-width="1.6"{style}{marker}/>')

    def label(self, x: float, y: float, content: str, *, anchor: str = "start", size: float = 11.5) -> None:
        self.text(x, y, content, size=size, fill=MUTED, anchor=anchor, cls="label")

    def render(self, title: str, desc: str) -> str:
        head = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title desc" '
            f"font-family={quoteattr(SANS)}>",
            f'<title id="title">{escape(title)}</title>',
            f'<desc id="desc">{escape(desc)}</desc>',
            "<!-- Generated from the code by tools/architecture.py: do not edit, rerun it. -->",
            "<defs>",
            '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
            f'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="{LINE}"/></marker>',
            "<style>"
            f".mono {{ font-family: {MONO}; }} "
            ".label { paint-order: stroke; stroke: #ffffff; stroke-width: 4px; stroke-linejoin: round; }"
            "</style>",
            "</defs>",
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        ]
        return "\n".join([*head, *self.parts, "</svg>", ""])


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _gib(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def render(facts: Facts | None = None) -> str:
    """The SVG text for `facts` (default: read from the code now)."""
    f = facts or collect()
    c = Canvas()
    auth = "SigV4 (IAM auth)" if f.api_auth == "iam" else "API key + usage plan"
    other_auth = "API key" if f.api_auth == "iam" else "SigV4"
    timeout = _minutes(f.integration_timeout_s)
    gpus = f"{f.gpu_count} GPU{'s' if f.gpu_count != 1 else ''}, {_gib(f.gpu_memory_gib)} GiB GPU memory"
    gap_x = (LEFT + LEFT_W + RIGHT) // 2  # the middle of the gutter between the columns

    c.text(LEFT, 32, "LLM chat endpoint on SageMaker — architecture", size=20, weight="700")
    subtitle = (
        f"Default deployment from cdk.json: {f.preset} with {f.deployment}. "
        "Generated from the code by tools/architecture.py."
    )
    c.text(LEFT, 52, _fit(subtitle, WIDTH - 2 * LEFT, 12), size=12, fill=MUTED)

    # Legend, top right.
    c.arrow([(RIGHT + 8, 76), (RIGHT + 52, 76)])
    c.label(RIGHT + 62, 80, "request path (responses stream back the same way)")
    c.arrow([(RIGHT + 8, 96), (RIGHT + 52, 96)], dashed=True)
    c.label(RIGHT + 62, 100, "logs, permissions, configuration")

    # The request path, top to bottom in the left column; what configures each step on the right.
    y = 66
    h = c.box(LEFT, y, LEFT_W, "Client", [], subtitle="openai SDK · curl", kind="client", box_id="client")
    y_gw = y + h + 36
    c.arrow([(SPINE, y + h), (SPINE, y_gw)])
    c.label(SPINE + 12, y + h + 22, f"HTTPS · {auth} or {other_auth}")

    h_gw = c.box(
        LEFT,
        y_gw,
        LEFT_W,
        "API Gateway REST API",
        [
            f"stage {f.stage} · regional · auth except GET / (page)",
            f"{f.transfer_mode} transfer mode · {timeout} integration timeout",
            f"throttling {f.rate_limit} req/s, burst {f.burst_limit}",
            "JSON access logs · X-Ray · OpenAI-shaped errors",
        ],
        kind="apigw",
        box_id="api-gateway",
    )
    route_column = max(len(r.label) for r in f.routes) * 11.5 * ADVANCE["mono"] + 16
    routes_h = c.box(
        RIGHT,
        y_gw,
        RIGHT_W,
        "Routes · FastAPI app = API Gateway resources",
        [Line(r.label, "mono", r.summary) for r in f.routes],
        kind="apigw",
        dashed=True,
        aside_at=route_column,
        box_id="routes",
    )
    c.arrow([(LEFT + LEFT_W, y_gw + 30), (RIGHT, y_gw + 30)], dashed=True, head=False)

    y_fn = y_gw + max(h_gw, routes_h) + 36
    c.arrow([(SPINE, y_gw + h_gw), (SPINE, y_fn)])
    c.label(SPINE + 12, y_gw + h_gw + 22, "Lambda proxy integration, streamed")

    h_fn = c.box(
        LEFT,
        y_fn,
        LEFT_W,
        "Lambda chat_proxy",
        [
            f"{f.runtime} · {f.architecture} · {f.memory_mb} MB · X-Ray",
            f"FastAPI behind AWS Lambda Web Adapter (layer v{f.lwa_layer_version})",
            Line(f"AWS_LWA_INVOKE_MODE={f.lwa_invoke_mode}", "mono"),
        ],
        kind="lambda",
        box_id="lambda",
    )
    logs_h = c.box(
        RIGHT,
        y_fn,
        RIGHT_W,
        "CloudWatch Logs · KMS-encrypted log groups",
        [
            "customer-managed KMS key, rotation on",
            "API Gateway access logs (JSON) · Lambda logs (JSON)",
            "request bodies and prompts are not logged by default",
        ],
        kind="logs",
        box_id="logs",
    )
    # Access logs from the API (around the gutter), function logs from the Lambda.
    c.arrow(
        [(LEFT + LEFT_W, y_gw + h_gw - 20), (gap_x, y_gw + h_gw - 20), (gap_x, y_fn + 28), (RIGHT, y_fn + 28)],
        dashed=True,
    )
    c.arrow([(LEFT + LEFT_W, y_fn + h_fn - 20), (RIGHT, y_fn + h_fn - 20)], dashed=True)

    # SageMaker: the endpoint, its config and model, the role the model runs as, and the JumpStart alternative.
    y_group = y_fn + max(h_fn, logs_h) + 42
    y_ep = y_group + 34
    c.arrow([(SPINE, y_fn + h_fn), (SPINE, y_ep)])
    c.label(SPINE + 12, y_fn + h_fn + 17, "boto3 sagemaker-runtime, allowed on this endpoint only")
    c.label(SPINE + 12, y_fn + h_fn + 33, "InvokeEndpoint · InvokeEndpointWithResponseStream")

    group_bottom = HEIGHT - 14
    c.add(
        f'<rect x="20" y="{y_group:g}" width="{WIDTH - 40}" height="{group_bottom - y_group:g}" rx="12" '
        f'fill="none" stroke="{PALETTE["sagemaker"][0]}" stroke-width="1.2" stroke-dasharray="2 3"/>'
    )
    c.text(
        WIDTH - 36,
        y_group + 21,
        "Amazon SageMaker · real-time inference",
        size=13,
        weight="600",
        fill=PALETTE["sagemaker"][2],
        anchor="end",
    )

    h_ep = c.box(
        LEFT,
        y_ep,
        LEFT_W,
        "SageMaker Endpoint",
        [f"real-time · {f.instance_count} × {f.instance_type}", "its name is in the Lambda's environment"],
        kind="sagemaker",
        box_id="endpoint",
    )
    c.box(
        RIGHT,
        y_ep,
        RIGHT_W,
        "EndpointConfig",
        [
            f"{f.instance_count} × {f.instance_type} · {gpus}",
            f"container start-up health check {f.health_check_timeout} s",
        ],
        kind="sagemaker",
        box_id="endpoint-config",
    )
    c.arrow([(LEFT + LEFT_W, y_ep + 30), (RIGHT, y_ep + 30)])

    y_model = y_ep + h_ep + 24
    h_model = c.box(
        RIGHT,
        y_model,
        RIGHT_W,
        "Model · Hugging Face TGI",
        [
            f"TGI {f.tgi_version} DLC image · {f.image_repository}",
            Line(f"HF_MODEL_ID={f.hf_model_id}", "mono"),
            Line(f"SM_NUM_GPUS={f.num_gpus}", "mono"),
        ],
        kind="sagemaker",
        box_id="model",
    )
    c.arrow([(RIGHT + RIGHT_W // 2, y_ep + h_ep), (RIGHT + RIGHT_W // 2, y_model)])
    c.box(
        LEFT,
        y_model,
        LEFT_W,
        "IAM execution role",
        [
            "assumed by sagemaker.amazonaws.com",
            f"ECR pull: {f.image_repository} only",
            Line("logs: /aws/sagemaker/Endpoints/*", "mono"),
        ],
        kind="iam",
        box_id="execution-role",
    )
    c.arrow([(RIGHT, y_model + 30), (LEFT + LEFT_W, y_model + 30)], dashed=True)
    c.label(gap_x, y_model + 22, "runs as", anchor="middle", size=11)

    y_js = y_model + h_model + 14
    isolation = ", network isolation" if f.jumpstart_network_isolation else ""
    c.box(
        LEFT,
        y_js,
        WIDTH - 2 * LEFT,
        "or the Model on another engine: -c engine=vllm (other models' default) or -c deployment=jumpstart",
        [
            f"vLLM {f.vllm_version} DLC · {f.vllm_repository} · SM_VLLM_* env · the model's own chat template",
            f"JumpStart: {f.jumpstart_model} v{f.jumpstart_version} ({LOCK_FILE}) · "
            f"{f.jumpstart_instance_type} · S3 weights{isolation}",
        ],
        kind="note",
        dashed=True,
        box_id="jumpstart",
    )
    if y_js + 60 > group_bottom:
        raise RuntimeError(f"the layout overflows the canvas ({y_js + 60} > {group_bottom}); adjust HEIGHT")

    title = "Architecture: an open LLM on a SageMaker endpoint behind a streaming HTTPS chat API"
    routes = ", ".join(r.label for r in f.routes)
    desc = (
        f"A client (openai SDK or curl) calls an API Gateway REST API over HTTPS with {auth} or {other_auth} "
        f"(stage {f.stage}, {f.transfer_mode} transfer mode, {timeout} integration timeout, throttling "
        f"{f.rate_limit} requests per second with burst {f.burst_limit}, JSON access logs, X-Ray). Routes: {routes}. "
        f"API Gateway streams from the Lambda function chat_proxy ({f.runtime}, {f.architecture}, FastAPI behind the "
        f"AWS Lambda Web Adapter in {f.lwa_invoke_mode} mode), which calls the SageMaker runtime with boto3 "
        "(InvokeEndpoint and InvokeEndpointWithResponseStream). The SageMaker Endpoint uses an EndpointConfig "
        f"({f.instance_count} × {f.instance_type}, {gpus}, start-up health check {f.health_check_timeout} s) and a "
        f"Model on the TGI {f.tgi_version} DLC image with HF_MODEL_ID={f.hf_model_id} and SM_NUM_GPUS={f.num_gpus}; "
        f"the Model runs as an IAM execution role that may pull only the {f.image_repository} repository and write "
        f"the endpoint's logs. Alternatively the same three resources come from SageMaker JumpStart "
        f"({f.jumpstart_model} v{f.jumpstart_version}, pinned in {LOCK_FILE}); models other than Falcon run on the "
        f"vLLM {f.vllm_version} DLC ({f.vllm_repository}) by default. The API's access logs and the "
        "Lambda's logs go to KMS-encrypted CloudWatch log groups."
    )
    return c.render(title, desc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs; write nothing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:  # run as a script: sys.path[0] is tools/
        sys.path.insert(0, str(ROOT))
    svg = render()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != svg:
            print(f"{args.output} is out of date: run `python tools/architecture.py`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if current != svg:
        args.output.write_text(svg, encoding="utf-8", newline="\n")
    print(f"wrote {args.output}" if current != svg else f"{args.output} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
