"""Stand-ins for hassfest and the HACS action, which cannot run offline here.

They check what those tools would reject: the manifest schema and key order, hacs.json keys,
translations for every key the code uses (in English and German, with the same placeholders),
and icons for translation keys that exist.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import re
import string
from typing import Any

from awesomeversion import AwesomeVersion
import homeassistant
from homeassistant.const import __version__ as HA_VERSION
import pytest

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "dlms_meter"
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text())
TRANSLATIONS = {
    lang: json.loads((INTEGRATION / "translations" / f"{lang}.json").read_text())
    for lang in ("en", "de")
}
EXCEPTION_CLASSES = {
    "HomeAssistantError",
    "ServiceValidationError",
    "ConfigEntryNotReady",
    "ConfigEntryError",
    "ConfigEntryAuthFailed",
    "UpdateFailed",
}
HACS_KEYS = {
    "name",
    "content_in_root",
    "country",
    "filename",
    "hacs",
    "hide_default_branch",
    "homeassistant",
    "persistent_directory",
    "render_readme",
    "zip_release",
}


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(INTEGRATION.glob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _const_kw(call: ast.Call, name: str) -> str | None:
    for kw in call.keywords:
        value = kw.value
        if kw.arg == name and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def _used_keys() -> dict[str, set[str]]:
    """Translation keys the code uses, by kind, found in its syntax tree."""
    used: dict[str, set[str]] = {
        "exception": set(),
        "issue": set(),
        "entity_or_other": set(),
        "step": set(),
        "abort": set(),
        "error": set(),
        "progress": set(),
    }
    for _path, module in _sources():
        for node in ast.walk(module):
            if isinstance(node, ast.Call):
                name = _call_name(node)
                key = _const_kw(node, "translation_key")
                if key is not None:
                    if name in EXCEPTION_CLASSES:
                        used["exception"].add(key)
                    elif name == "async_create_issue":
                        used["issue"].add(key)
                    else:
                        used["entity_or_other"].add(key)
                if (step := _const_kw(node, "step_id")) is not None:
                    used["step"].add(step)
                if name == "async_abort" and (reason := _const_kw(node, "reason")) is not None:
                    used["abort"].add(reason)
                if (action := _const_kw(node, "progress_action")) is not None:
                    used["progress"].add(action)
            # errors["base"] = "x"
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and any(
                    isinstance(t, ast.Subscript)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "errors"
                    for t in node.targets
                )
            ):
                used["error"].add(node.value.value)
            # {"base": "x"}
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(k, ast.Constant)
                        and k.value == "base"
                        and isinstance(v, ast.Constant)
                        and isinstance(v.value, str)
                    ):
                        used["error"].add(v.value)
                    if (
                        isinstance(k, ast.Constant)
                        and k.value == "translation_key"
                        and isinstance(v, ast.Constant)
                        and isinstance(v.value, str)
                    ):
                        used["entity_or_other"].add(v.value)
    return used


USED = _used_keys()


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


# --- manifest.json (hassfest + HACS integration manifest schema) -------------------------------


def test_manifest_required_keys() -> None:
    """Everything hassfest and HACS require is there, with the values this integration needs."""
    for key in ("domain", "name", "codeowners", "documentation", "issue_tracker", "version"):
        assert MANIFEST.get(key), key
    assert MANIFEST["config_flow"] is True
    assert MANIFEST["dependencies"] == ["usb"]
    assert MANIFEST["integration_type"] == "device"
    assert MANIFEST["iot_class"] == "local_polling"
    assert isinstance(MANIFEST["codeowners"], list)
    assert all(owner.startswith("@") for owner in MANIFEST["codeowners"])
    for key in ("documentation", "issue_tracker"):
        assert re.fullmatch(r"https://\S+", MANIFEST[key]), key
    assert MANIFEST["loggers"]
    assert "quality_scale" not in MANIFEST  # custom integrations must not claim one


def test_manifest_key_order() -> None:
    """hassfest: domain, name, then the rest in alphabetical order."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_domain_is_folder() -> None:
    """The domain equals the folder name and const.DOMAIN."""
    from custom_components.dlms_meter.const import DOMAIN

    assert MANIFEST["domain"] == INTEGRATION.name == DOMAIN


def test_manifest_version_is_semver() -> None:
    """HA refuses to load a custom integration without a valid version."""
    version = AwesomeVersion(MANIFEST["version"])
    assert version.valid
    assert re.fullmatch(r"\d+\.\d+\.\d+", MANIFEST["version"])


def test_requirements_are_lower_bounds_met_by_home_assistant() -> None:
    """No exact pins; every bound is satisfied by the version this Home Assistant pins."""
    constraints = (Path(homeassistant.__file__).parent / "package_constraints.txt").read_text()
    pinned = dict(
        line.split("==", 1) for line in constraints.splitlines() if "==" in line and "#" not in line
    )
    assert MANIFEST["requirements"]
    for req in MANIFEST["requirements"]:
        assert "==" not in req, req
        name, bound = req.split(">=")
        assert name in pinned, f"{name} is not pinned by Home Assistant {HA_VERSION}"
        assert AwesomeVersion(pinned[name]) >= AwesomeVersion(bound), (name, pinned[name], bound)


# --- hacs.json ----------------------------------------------------------------------------------


def test_hacs_json() -> None:
    """Only keys HACS accepts; the minimum HA version is the oldest we support and test."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"]
    assert hacs["homeassistant"] == "2026.5.0"
    assert hacs["render_readme"] is True
    assert AwesomeVersion(HA_VERSION) >= AwesomeVersion(hacs["homeassistant"])


def test_license_and_readme_exist() -> None:
    """HACS requires an information file and an OSI license."""
    assert (ROOT / "README.md").read_text().strip()
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_brand_icon() -> None:
    """HACS accepts a local brand icon since 2026.3: a 256x256 PNG."""
    icon = (INTEGRATION / "brand" / "icon.png").read_bytes()
    assert icon[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(icon[16:20]), int.from_bytes(icon[20:24])
    assert (width, height) == (256, 256)


# --- translations ---------------------------------------------------------------------------------


def test_translations_same_keys_and_placeholders() -> None:
    """German has every English string and vice versa, with the same placeholders."""
    en, de = _flatten(TRANSLATIONS["en"]), _flatten(TRANSLATIONS["de"])
    assert set(en) == set(de)
    for key, text in en.items():
        assert _placeholders(text) == _placeholders(de[key]), key
        assert text.strip() and de[key].strip(), key
        assert "[%key:" not in text + de[key], "custom integrations cannot use references"


@pytest.mark.parametrize("lang", ["en", "de"])
def test_used_keys_are_translated(lang: str) -> None:
    """Every key the code uses has a text."""
    tr = TRANSLATIONS[lang]
    for key in USED["exception"]:
        assert _lookup(tr, f"exceptions.{key}.message"), key
    for key in USED["issue"]:
        assert _lookup(tr, f"issues.{key}.title"), key
        assert _lookup(tr, f"issues.{key}.description"), key
    for key in USED["entity_or_other"]:
        assert any(
            _lookup(tr, path)
            for path in (
                f"entity.sensor.{key}.name",
                f"exceptions.{key}.message",
                f"issues.{key}.title",
                f"selector.{key}",
            )
        ), key
    # repair flows (repairs.py) translate under issues.<issue>.fix_flow
    fixes = [f"issues.{issue}.fix_flow" for issue in tr.get("issues", {})]
    for step in USED["step"]:
        assert (
            _lookup(tr, f"config.step.{step}")
            or _lookup(tr, f"options.step.{step}")
            or any(_lookup(tr, f"{fix}.step.{step}") for fix in fixes)
        ), step
    for reason in USED["abort"]:
        assert (
            _lookup(tr, f"config.abort.{reason}")
            or _lookup(tr, f"options.abort.{reason}")
            or any(_lookup(tr, f"{fix}.abort.{reason}") for fix in fixes)
        ), reason
    for error in USED["error"]:
        assert (
            _lookup(tr, f"config.error.{error}")
            or _lookup(tr, f"options.error.{error}")
            or any(_lookup(tr, f"{fix}.error.{error}") for fix in fixes)
        ), error
    for action in USED["progress"]:
        assert _lookup(tr, f"config.progress.{action}"), action


@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_protocol_error_has_a_message(lang: str) -> None:
    """Each error a user can meet (one per protocol error kind) has a translated message."""
    from custom_components.dlms_meter.iec62056 import errors

    kinds = {
        cls.kind
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.Iec62056Error)
    }
    assert {"port_not_found", "port_busy", "no_answer", "checksum", "timeout"} <= kinds
    tr = TRANSLATIONS[lang]
    for kind in kinds - {"error"}:
        assert _lookup(tr, f"config.error.{kind}"), kind
        assert _lookup(tr, f"exceptions.{kind}.message"), kind


def test_form_fields_have_descriptions() -> None:
    """Every field of every form step has a label and a data_description (config-flow rule)."""
    for section in ("config", "options"):
        for step_id, step in (_lookup(TRANSLATIONS["en"], f"{section}.step") or {}).items():
            data = step.get("data", {})
            descriptions = step.get("data_description", {})
            assert set(data) == set(descriptions), f"{section}.{step_id}"
            for name, sub in step.get("sections", {}).items():
                assert set(sub.get("data", {})) == set(sub.get("data_description", {})), name


def test_icons_refer_to_existing_keys() -> None:
    """icons.json only names translation keys that exist."""
    icons = json.loads((INTEGRATION / "icons.json").read_text())
    entity_keys = _lookup(TRANSLATIONS["en"], "entity.sensor") or {}
    for key, icon in icons.get("entity", {}).get("sensor", {}).items():
        assert key in entity_keys, key
        assert icon["default"].startswith("mdi:")


def test_quality_scale_statuses() -> None:
    """quality_scale.yaml: every rule has an honest status; exemptions carry a comment."""
    import yaml

    scale = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())
    rules = scale["rules"]
    must = ("config-flow", "config-flow-test-coverage", "unique-config-entry", "test-coverage")
    assert set(must) <= set(rules)
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in {"done", "todo", "exempt"}, rule
        if status == "exempt":
            assert isinstance(value, dict) and value.get("comment"), rule
