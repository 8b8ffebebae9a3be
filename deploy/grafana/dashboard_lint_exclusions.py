"""The `.lint` file beside the dashboards (format of dashboard-linter v0.2.0): `exclusions` hide a
rule's results, `warnings` downgrade them, each for the whole rule or for the listed entries
(dashboard, panel, targetIdx).

Stricter than upstream: an exclusion without a reason is an error, and so is one that no longer
matches anything, so that `.lint` cannot silently outlive the problem it excused.
"""

from __future__ import annotations

from pathlib import Path

import yaml

SECTIONS = {"exclusions": "excluded", "warnings": "warning"}  # section: severity it gives


def load_config(directory: Path) -> tuple[dict, list[str]]:
    """The directory's `.lint` (empty without one), and its problems."""
    path = directory / ".lint"
    if not path.exists():
        return {section: {} for section in SECTIONS}, []
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        return {section: {} for section in SECTIONS}, [f"{path}: cannot read: {error}"]
    problems = []
    for section in SECTIONS:
        config[section] = config.get(section) or {}
        for rule, spec in config[section].items():
            spec = config[section][rule] = spec or {}
            if not has_reason(spec):
                problems.append(f"{path}: {section} of '{rule}' has no reason")
    return config, problems


def has_reason(spec: dict) -> bool:
    """A reason for the whole rule, or one on every entry."""
    entries = spec.get("entries") or []
    return bool(spec.get("reason")) or (bool(entries) and all(e.get("reason") for e in entries))


def matches(entry: dict, result) -> bool:
    """Whether an entry covers a result; what the entry leaves out matches anything."""
    if entry.get("dashboard") and entry["dashboard"] != result.dashboard:
        return False
    if entry.get("panel") and result.panel is not None and entry["panel"] != result.panel:
        return False
    index = entry.get("targetIdx")
    return result.target is None or index in (None, "") or int(index) == result.target


def apply_config(config: dict, results: list, used: set) -> None:
    """Sets the severity `.lint` gives each result; records in ``used`` each (section, rule, entry
    index, or None for a whole rule) that matched, for `stale_entries`."""
    for result in results:
        for section, severity in SECTIONS.items():
            if result.rule not in config[section]:
                continue
            entries = config[section][result.rule].get("entries") or []
            hits = [i for i, entry in enumerate(entries) if matches(entry, result)]
            if entries and not hits:
                continue
            used.update((section, result.rule, i) for i in (hits or [None]))
            result.severity = severity
            if severity == "excluded":
                break


def stale_entries(config: dict, used: set, directory: Path) -> list[str]:
    """Exclusions and warnings nothing matched; meaningful only once every dashboard of the
    directory was linted."""
    problems = []
    for section in SECTIONS:
        for rule, spec in config[section].items():
            entries = spec.get("entries") or []
            for key in range(len(entries)) if entries else [None]:
                if (section, rule, key) in used:
                    continue
                what = f"entry {entries[key]}" if key is not None else "(whole rule)"
                problems.append(
                    f"{directory}/.lint: {section} of '{rule}' {what} matches no problem: remove it"
                )
    return problems
