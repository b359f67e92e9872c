"""The configuration reference is generated from the schema and must be current."""

from pathlib import Path

from abm.config import ExperimentConfig
from abm.config_docs import render


def test_committed_config_reference_matches_the_schema():
    page = Path(__file__).parent.parent / "docs" / "config.md"
    assert page.read_text() == render(), "regenerate: python -m abm.config_docs > docs/config.md"


def test_every_field_has_a_description_and_a_unit():
    missing = []

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(f"{prefix}{name}")
            extra = field.json_schema_extra
            if field.description and not (isinstance(extra, dict) and "unit" in extra):
                missing.append(f"{prefix}{name} (unit)")
            from abm.schema import model_in

            inner = model_in(field.annotation)
            if inner is not None and name != "scenarios":
                walk(inner, f"{prefix}{name}.")

    walk(ExperimentConfig, "")
    assert not missing, missing
