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

# Imported while collecting: once a test has set up Home Assistant's test config, the name
# custom_components can resolve to its testing_config package instead of this repository's.
from custom_components.dlms_meter import config_flow
from custom_components.dlms_meter.const import DOMAIN
from custom_components.dlms_meter.iec62056 import errors

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
                # raise AbortFlow("reason")
                if name == "AbortFlow" and node.args and isinstance(node.args[0], ast.Constant):
                    used["abort"].add(str(node.args[0].value))
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
            # self._errors = {CONF_PORT: "x"} (any key: a field's error)
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Attribute) and t.attr == "_errors" for t in node.targets)
            ):
                used["error"].update(
                    v.value
                    for v in node.value.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                )
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
    assert {"port_in_use", "no_codes", "interval_too_short"} <= USED["error"]
    assert {"meter_already_configured", "unique_id_mismatch"} <= USED["abort"]
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


def _device_classes_by_key() -> dict[str, set[object]]:
    """Translation key -> the device classes the catalog gives it over every corpus readout."""
    from custom_components.dlms_meter import catalog
    from custom_components.dlms_meter.iec62056 import Checksum, parse_capture

    from .iec62056.corpus import number, render_txt, txt_files

    found: dict[str, set[object]] = {}
    for path in txt_files():
        for readout in parse_capture(render_txt(number(path)), Checksum.NONE):
            for entry in catalog.entries(readout):
                description = entry.description
                found.setdefault(description.translation_key, set()).add(description.device_class)
    return found


def test_every_entity_key_without_a_device_class_has_an_icon() -> None:
    """A sensor without a device class shows Home Assistant's generic icon: every translation
    key the corpus shows without a device class (text, counts, ids), and every key no corpus
    readout shows (judged by nothing), has its own icon, as the others get their class's."""
    icons = json.loads((INTEGRATION / "icons.json").read_text())["entity"]["sensor"]
    classes = _device_classes_by_key()
    missing = [
        key
        for key in _lookup(TRANSLATIONS["en"], "entity.sensor") or {}
        if (key not in classes or None in classes[key]) and key not in icons
    ]
    assert missing == []
    assert {"heat_energy", "volume", "flow_temperature_max", "operating_hours"} <= set(icons)


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


# --- hassfest's translation schema (script/hassfest/translations.py, gen_strings_schema) -------
# Mirrored rule by rule, for the sections a custom integration's translations/en.json may have
# (hassfest validates that file for custom integrations; we check German too).

# Keys of selector options, entity translation keys, states, ...: lowercase letters, digits,
# "-" and "_", not at either end and never two of them in a row.
TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)
_SINGLE_QUOTED_PLACEHOLDER = re.compile(r"'{\w+}'")
_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")


def _translation_key(value: Any) -> str:
    import voluptuous as vol

    if not isinstance(value, str) or not TRANSLATION_KEY.match(value):
        raise vol.Invalid(f"invalid translation key {value!r}: [a-z0-9-_]+, no -/_ at the ends")
    return value


def _text(*, placeholders: bool = True) -> Any:
    """hassfest's validate_translation_value."""
    from homeassistant.helpers import config_validation as cv
    import voluptuous as vol

    def validate(value: Any) -> str:
        text: str = cv.string_with_no_html(value)
        if _SINGLE_QUOTED_PLACEHOLDER.search(text):
            raise vol.Invalid("placeholder inside single quotes")
        for _, field, _, _ in string.Formatter().parse(text):
            if field and (not placeholders or not field.isidentifier()):
                raise vol.Invalid(f"placeholder {field!r} not allowed here")
        if _COMBINED_REFERENCE.search(text):
            raise vol.Invalid("combined translations")
        if text != text.strip():
            raise vol.Invalid("leading or trailing spaces")
        if _URL.search(text):
            raise vol.Invalid("URL in a translation: use a description placeholder")
        return text

    return validate


def _strings_schema() -> Any:
    from homeassistant.helpers import config_validation as cv
    import voluptuous as vol

    text, plain = _text(), _text(placeholders=False)
    step = {
        vol.Optional("title"): text,
        vol.Optional("description"): text,
        vol.Optional("data"): {str: text},
        vol.Optional("data_description"): {str: text},
        vol.Optional("menu_options"): {str: text},
        vol.Optional("menu_option_descriptions"): {str: text},
        vol.Optional("submit"): text,
        vol.Optional("sections"): {
            str: {
                vol.Optional("data"): {str: text},
                vol.Optional("data_description"): {str: text},
                vol.Optional("description"): text,
                vol.Optional("name"): text,
            }
        },
    }

    def described_fields_exist(value: dict[str, Any]) -> dict[str, Any]:
        for info in value["step"].values():
            for key in info.get("data_description", {}):
                if key not in info.get("data", {}):
                    raise vol.Invalid(f"data_description key {key} is not in data")
        return value

    flow = vol.All(
        vol.Schema(
            {
                vol.Optional("flow_title"): text,
                vol.Required("step"): {str: step},
                vol.Optional("error"): {str: text},
                vol.Optional("abort"): {str: text},
                vol.Optional("progress"): {str: text},
                vol.Optional("create_entry"): {str: text},
                vol.Optional("initiate_flow"): {vol.Required("user"): text},
            }
        ),
        described_fields_exist,
    )
    slug_keys = cv.schema_with_slug_keys
    return vol.Schema(
        {
            vol.Optional("title"): text,
            vol.Optional("config"): flow,
            vol.Optional("options"): flow,
            vol.Optional("selector"): slug_keys(
                {
                    vol.Optional(part): slug_keys(text, slug_validator=_translation_key)
                    for part in ("choices", "options", "unit_of_measurement")
                },
                slug_validator=vol.Any("_", cv.slug),
            ),
            vol.Optional("issues"): {
                str: vol.All(
                    cv.has_at_least_one_key("description", "fix_flow"),
                    vol.Schema(
                        {
                            vol.Required("title"): text,
                            vol.Exclusive("description", "fixable"): text,
                            vol.Exclusive("fix_flow", "fixable"): vol.All(
                                vol.Schema(
                                    {
                                        vol.Required("step"): {str: step},
                                        vol.Optional("error"): {str: text},
                                        vol.Optional("abort"): {str: text},
                                        vol.Optional("progress"): {str: text},
                                        vol.Optional("create_entry"): {str: text},
                                    }
                                ),
                                described_fields_exist,
                            ),
                        }
                    ),
                )
            },
            vol.Optional("entity"): slug_keys(
                slug_keys(
                    {
                        vol.Optional("name"): text,
                        vol.Optional("state"): slug_keys(plain, slug_validator=_translation_key),
                        vol.Optional("state_attributes"): slug_keys(
                            {
                                vol.Optional("name"): plain,
                                vol.Optional("state"): slug_keys(
                                    plain, slug_validator=_translation_key
                                ),
                            },
                            slug_validator=_translation_key,
                        ),
                        vol.Optional("unit_of_measurement"): plain,
                    },
                    slug_validator=_translation_key,
                ),
                slug_validator=cv.slug,
            ),
            vol.Optional("device"): slug_keys(
                {vol.Optional("name"): text}, slug_validator=_translation_key
            ),
            vol.Optional("exceptions"): slug_keys(
                {vol.Optional("message"): text}, slug_validator=cv.slug
            ),
        }
    )


@pytest.mark.parametrize("lang", ["en", "de"])
def test_translations_pass_hassfest_schema(lang: str) -> None:
    """What hassfest's translations plugin checks: key rules (selector option keys
    lowercase), no HTML, URLs, quoted or odd placeholders, no extra sections."""
    _strings_schema()(TRANSLATIONS[lang])


@pytest.mark.parametrize(
    ("strings", "problem"),
    [
        ({"selector": {"mode": {"options": {"A": "A"}}}}, "upper-case selector option key"),
        ({"selector": {"mode": {"options": {"a__b": "x"}}}}, "two underscores in a row"),
        ({"selector": {"mode": {"options": {"_a": "x"}}}}, "underscore at the start"),
        ({"entity": {"sensor": {"Energy": {"name": "x"}}}}, "upper-case entity key"),
        ({"exceptions": {"Bad-Key": {"message": "x"}}}, "exception key not a slug"),
        ({"config": {"step": {"user": {"data_description": {"port": "x"}}}}}, "field not in data"),
        ({"config": {"step": {}, "error": {"x": "see https://example.com/x"}}}, "URL"),
        ({"config": {"step": {}, "error": {"x": " padded"}}}, "leading space"),
        ({"config": {"step": {}, "error": {"x": "'{port}'"}}}, "quoted placeholder"),
        ({"config": {"step": {}, "error": {"x": "<b>bold</b>"}}}, "HTML"),
        ({"config": {"title": "x", "step": {}}}, "config.title (removed)"),
    ],
)
def test_hassfest_schema_mirror_rejects(strings: dict[str, Any], problem: str) -> None:
    """The mirror refuses what hassfest refuses (so it cannot pass by accepting everything)."""
    import voluptuous as vol

    with pytest.raises(vol.Invalid):
        _strings_schema()(strings)


def test_selector_options_are_translated_with_valid_keys() -> None:
    """Every option of every translated selector the flows use has a text under a valid key."""
    for marker, selector in config_flow._advanced_schema().schema.items():
        config = getattr(selector, "config", {})
        if not (key := config.get("translation_key")):
            continue
        texts = TRANSLATIONS["en"]["selector"][key]["options"]
        values = [o if isinstance(o, str) else o["value"] for o in config["options"]]
        assert set(values) == set(texts), marker.schema
        assert all(TRANSLATION_KEY.match(value) for value in values), values


@pytest.mark.parametrize("lang", ["en", "de"])
def test_new_library_error_kinds_have_form_errors(lang: str) -> None:
    """Contract 2's kinds (the library adds their classes): the flows can show them already."""
    errors_tr = TRANSLATIONS[lang]["config"]["error"]
    for kind in ("readout_too_long", "read_time_limit", "sml"):
        assert errors_tr[kind], kind
    assert "EDL21" in errors_tr["sml"]


# --- repository: version, CI, pre-commit -------------------------------------------------------


def test_version_in_one_place() -> None:
    """manifest.json's version is the version; pyproject.toml (not built) must say the same."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == MANIFEST["version"]


def test_ci_runs_hassfest_hacs_and_the_test_command() -> None:
    """.github/workflows: hassfest, the HACS action (integration) and scripts/test on push."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "validate.yml").read_text())
    assert {"push", "pull_request"} <= set(workflow[True])  # YAML 1.1 reads "on" as True
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert "home-assistant/actions/hassfest" in uses
    assert uses["hacs/action"]["with"]["category"] == "integration"
    assert any(step.get("run", "").strip() == "scripts/test" for step in steps)
    assert "scripts/test" in (ROOT / "README.md").read_text()


def test_pre_commit_runs_ruff_format_and_strict_mypy() -> None:
    """.pre-commit-config.yaml: ruff, ruff format and mypy --strict from the project's .venv."""
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks["ruff"]["entry"].startswith(".venv/bin/ruff check")
    assert hooks["ruff-format"]["entry"].startswith(".venv/bin/ruff format")
    assert hooks["mypy"]["entry"] == ".venv/bin/mypy --strict custom_components meter_sim"
