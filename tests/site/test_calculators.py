"""The website's calculators (book/_static/nna-calculators.js) against the Python functions they
reproduce: each case is typed into the form on the published page, in headless Chromium, and
every number the page shows is compared with the package's — conv_geometry (chapter 02),
layer_cost (appendix A1, six layer types) and parallel_cost (appendix A4). Invalid input must
be refused on the page exactly where Python raises."""

from __future__ import annotations

import pathlib
import sys
import warnings

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_site import _open  # noqa: E402

from nnanatomy import explore  # noqa: E402
from nnanatomy.explore.widgets import LAYERS  # noqa: E402

CONV_CASES = [
    dict(height=224, width=224, in_channels=3, out_channels=64, kernel=7, stride=2, padding=3, dilation=1, bias=False),
    dict(height=224, width=224, in_channels=3, out_channels=64, kernel=7, stride=2, padding=3, dilation=1, bias=True),
    dict(height=32, width=32, in_channels=3, out_channels=16, kernel=3, stride=1, padding=1, dilation=1, bias=True),
    dict(height=28, width=20, in_channels=1, out_channels=8, kernel=5, stride=3, padding=0, dilation=2, bias=True),
    dict(height=7, width=9, in_channels=512, out_channels=512, kernel=3, stride=1, padding=1, dilation=4, bias=False),
    dict(height=1, width=1, in_channels=2048, out_channels=1000, kernel=1, stride=1, padding=0, dilation=1, bias=True),
    dict(height=4096, width=4096, in_channels=64, out_channels=64, kernel=11, stride=1, padding=5, dilation=1, bias=True),
    dict(height=5, width=5, in_channels=1, out_channels=1, kernel=7, stride=1, padding=0, dilation=1, bias=True),  # does not fit
    dict(height=5, width=5, in_channels=1, out_channels=1, kernel=3, stride=1, padding=0, dilation=3, bias=True),  # footprint 7
    dict(height=32, width=32, in_channels=0, out_channels=16, kernel=3, stride=1, padding=1, dilation=1, bias=True),
    dict(height=32, width=32, in_channels=3, out_channels=16, kernel=3, stride=0, padding=1, dilation=1, bias=True),
    dict(height=32, width=32, in_channels=3, out_channels=16, kernel=3, stride=1, padding=-1, dilation=1, bias=True),
]

LAYER_CASES = [
    ("Linear", dict(batch=32, in_features=784, out_features=256)),
    ("Linear", dict(batch=1, in_features=1, out_features=1)),
    ("Conv2d", dict(batch=1, in_channels=3, out_channels=64, size=224, kernel=7, stride=2, padding=3)),
    ("Conv2d", dict(batch=8, in_channels=16, out_channels=32, size=15, kernel=4, stride=3, padding=0)),
    ("Conv2d", dict(batch=1, in_channels=3, out_channels=8, size=4, kernel=7, stride=1, padding=1)),  # does not fit
    ("BatchNorm2d", dict(batch=4, channels=64, size=56)),
    ("LayerNorm", dict(batch=1, tokens=512, d_model=256)),
    ("LayerNorm", dict(batch=3, tokens=3, d_model=3)),  # 108 bytes
    ("MultiheadAttention", dict(batch=1, tokens=512, d_model=256, heads=8)),
    ("MultiheadAttention", dict(batch=2, tokens=1024, d_model=256, heads=8)),
    ("MultiheadAttention", dict(batch=1, tokens=8, d_model=10, heads=3)),  # not divisible
    ("LSTM", dict(batch=1, tokens=100, in_features=64, hidden=128)),
    ("LSTM", dict(batch=9, tokens=2, in_features=3, hidden=1)),  # 1,152 bytes = 1.125 KiB: a rounding tie
    ("LSTM", dict(batch=0, tokens=2, in_features=3, hidden=1)),
]

PARALLEL_CASES = [
    dict(parameters=124_439_808, devices=8, strategy="ddp", optimizer="adam", bytes_per_value=4, tokens_per_device=8192,
         peak_flops="1e14", link_bandwidth="2.5e10"),
    dict(parameters=163_087_441, devices=8, strategy="fsdp", optimizer="adam", bytes_per_value=4, tokens_per_device=8192,
         peak_flops="1e14", link_bandwidth="2.5e10"),
    dict(parameters=1_418_699_857, devices=64, strategy="fsdp", optimizer="momentum", bytes_per_value=2, tokens_per_device=4096,
         peak_flops="3.12e14", link_bandwidth="3e11"),
    dict(parameters=70_000_000_000, devices=1024, strategy="fsdp", optimizer="adam", bytes_per_value=2, tokens_per_device=16384,
         peak_flops="4e14", link_bandwidth="5e10"),
    dict(parameters=349_576, devices=1, strategy="ddp", optimizer="sgd", bytes_per_value=4, tokens_per_device=2048,
         peak_flops="1e11", link_bandwidth="1.25e9"),
    dict(parameters=7, devices=3, strategy="ddp", optimizer="adamw", bytes_per_value=4, tokens_per_device=1,
         peak_flops="1", link_bandwidth="3"),
    dict(parameters=124_439_808, devices=0, strategy="ddp", optimizer="adam", bytes_per_value=4, tokens_per_device=8192,
         peak_flops="1e14", link_bandwidth="2.5e10"),
    dict(parameters="1.5e8", devices=8, strategy="ddp", optimizer="adam", bytes_per_value=4, tokens_per_device=8192,
         peak_flops="1e14", link_bandwidth="2.5e10"),
    dict(parameters=124_439_808, devices=8, strategy="ddp", optimizer="adam", bytes_per_value=4, tokens_per_device=8192,
         peak_flops="0", link_bandwidth="2.5e10"),
]


def _python_argument(name, value):
    """What a reader's text means to Python: an int where it is one, a float where it is one."""
    if isinstance(value, str) and name not in ("strategy", "optimizer"):
        try:
            return int(value)
        except ValueError:
            return float(value)
    return value


@pytest.fixture(scope="module")
def pages(browser, base_url):
    opened = {}
    for name, path in (("conv", "lessons/02_cnn.html"), ("layer", "lessons/a1_anatomy.html"),
                       ("parallel", "lessons/a4_scale_out.html")):
        page, response, problems, _ = _open(browser, base_url, path)
        assert response is not None and response.status == 200
        calculator = page.locator(f'div.nna-calculator[data-calculator="{name}"]')
        calculator.wait_for()
        page.wait_for_function(f'() => document.querySelector(\'div.nna-calculator[data-calculator="{name}"]\').dataset.ready')
        opened[name] = (page, calculator, problems)
    yield opened
    for page, _, _ in opened.values():
        page.close()


def _fill(calculator, values: dict) -> None:
    for name, value in values.items():
        control = calculator.locator(f'[name="{name}"]')
        kind = control.evaluate("e => e.type")
        if kind == "checkbox":
            control.set_checked(bool(value))
        elif kind.startswith("select"):
            control.select_option(str(value))
        else:
            control.fill(str(value))


def _out(calculator, key: str) -> tuple[str, str]:
    cell = calculator.locator(f'[data-out="{key}"]')
    return cell.get_attribute("data-value"), cell.inner_text()


def _refused(calculator) -> bool:
    state = calculator.get_attribute("data-state")
    if state == "invalid":
        assert calculator.locator(".nna-error").inner_text().startswith("invalid: ")
        assert _out(calculator, "params" if calculator.get_attribute("data-calculator") != "parallel" else "state_bytes")[0] == ""
    return state == "invalid"


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_conv_calculator_equals_conv_geometry(pages, case):
    page, calculator, problems = pages["conv"]
    _fill(calculator, case)
    try:
        geometry = explore.conv_geometry(**case)
    except (TypeError, ValueError):
        assert _refused(calculator), f"Python refuses {case}, the page does not"
        return
    assert not _refused(calculator), calculator.locator(".nna-error").inner_text()
    for key in ("out_height", "out_width", "params", "macs"):
        value, text = _out(calculator, key)
        assert int(value) == getattr(geometry, key) and text == explore.format_count(getattr(geometry, key)), key
    assert int(_out(calculator, "flops")[0]) == 2 * geometry.macs
    assert _out(calculator, "describe")[1] == geometry.describe()  # the formulas written out, character for character
    assert not problems


@pytest.mark.parametrize("kind, sizes", LAYER_CASES, ids=lambda c: c if isinstance(c, str) else "-".join(map(str, c.values())))
def test_layer_calculator_equals_layer_cost(pages, kind, sizes):
    page, calculator, problems = pages["layer"]
    _fill(calculator, {"kind": kind})
    visible = {n for n in calculator.locator("input").evaluate_all("es => es.filter(e => !e.closest('label').hidden).map(e => e.name)")}
    assert visible == set(LAYERS[kind][0])  # the form asks for exactly the sizes layer_cost needs
    _fill(calculator, sizes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = explore.layer_cost(kind, **sizes)
    except (TypeError, ValueError, RuntimeError):
        assert _refused(calculator), f"Python refuses {kind} {sizes}, the page does not"
        return
    assert not _refused(calculator), calculator.locator(".nna-error").inner_text()
    expected = {"params": table.total_params, "macs": table.total_macs, "flops": table.total_flops,
                "activation_bytes": table.activation_bytes}
    for key, number in expected.items():
        value, text = _out(calculator, key)
        assert int(value) == number, key
        assert text == (explore.format_bytes(number) if key == "activation_bytes" else explore.format_count(number)), key
    assert _out(calculator, "output_shape")[1] == table.rows[0].output_shape
    assert not problems


@pytest.mark.parametrize("case", PARALLEL_CASES, ids=lambda c: f"{c['parameters']}-{c['devices']}-{c['strategy']}-{c['peak_flops']}")
def test_parallel_calculator_equals_parallel_cost(pages, case):
    page, calculator, problems = pages["parallel"]
    _fill(calculator, case)
    try:
        cost = explore.parallel_cost(**{k: _python_argument(k, v) for k, v in case.items()})
    except (TypeError, ValueError):
        assert _refused(calculator), f"Python refuses {case}, the page does not"
        return
    assert not _refused(calculator), calculator.locator(".nna-error").inner_text()
    for key in ("state_bytes", "sent_bytes", "compute_seconds", "communication_seconds", "communication_share"):
        value, text = _out(calculator, key)
        assert float(value) == getattr(cost, key), key  # the same operations in the same order: the same double
    assert _out(calculator, "state_bytes")[1] == explore.format_bytes(cost.state_bytes)
    assert _out(calculator, "compute_seconds")[1] == f"{cost.compute_seconds * 1e3:.2f} ms"
    assert _out(calculator, "describe")[1] == cost.describe()
    assert not problems


def test_the_calculators_replace_their_fallback_text(pages):
    for page, calculator, problems in pages.values():
        assert "run the next cell" not in calculator.inner_text()
        assert not problems
