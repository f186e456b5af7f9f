"""The lazy channel registry: every line resolves to its channel, a channel module loads on the first use of
its type only, and every channel module in the package has its one registry line (and no more than one)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.channels.base import Channel
from chalicelib.channels.registry import CHANNEL_CLASSES, CHANNELS, LazyChannels, channel_for

PROJECT = Path(__file__).resolve().parents[2]
CHANNELS_DIR = PROJECT / "chalicelib" / "channels"


def _declared_channel_types() -> dict[str, str]:
    """type → "module:Class" for each class in chalicelib/channels/ that sets a `type = "…"` attribute."""
    declared: dict[str, str] = {}
    for path in sorted(CHANNELS_DIR.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.ClassDef):
                continue
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and [getattr(target, "id", None) for target in statement.targets] == ["type"]
                    and isinstance(statement.value, ast.Constant)
                ):
                    declared[statement.value.value] = f"chalicelib.channels.{path.stem}:{node.name}"
    return declared


@pytest.mark.parametrize("source_type", sorted(CHANNEL_CLASSES))
def test_every_registry_line_resolves_to_the_channel_of_its_type(source_type: str):
    channel = CHANNELS[source_type]
    assert isinstance(channel, Channel)
    assert channel.type == source_type
    assert channel_for(source_type) is channel  # built once, then kept


def test_every_channel_module_has_exactly_its_one_registry_line():
    # A new channel is its module plus one line: a module without its line, or a line naming another
    # class or type, fails here.
    assert _declared_channel_types() == CHANNEL_CLASSES


def test_an_added_line_is_all_a_new_channel_needs():
    added = LazyChannels({**CHANNEL_CLASSES, "demo": "chalicelib.channels.webhook:StandardWebhooksChannel"})
    assert "demo" in added and len(added) == len(CHANNEL_CLASSES) + 1
    assert type(added["demo"]).__name__ == "StandardWebhooksChannel"
    assert channel_for("no-such-type") is None


def test_a_channel_module_is_imported_on_the_first_use_of_its_type_only():
    script = (
        "import json, sys\n"
        "from chalicelib.channels.registry import CHANNEL_CLASSES, CHANNELS, channel_for\n"
        "modules = {t: c.split(':')[0] for t, c in CHANNEL_CLASSES.items()}\n"
        "before = sorted(t for t, m in modules.items() if m in sys.modules)\n"
        "channel_for('slack')\n"
        "after = sorted(t for t, m in modules.items() if m in sys.modules)\n"
        "print(json.dumps({'before': before, 'after': after, 'loaded': sorted(CHANNELS.loaded())}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    found = json.loads(output.splitlines()[-1])
    assert found == {"before": [], "after": ["slack"], "loaded": ["slack"]}
