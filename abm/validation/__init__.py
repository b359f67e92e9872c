"""Validation: claims from economics and history that the model must reproduce (`claims`), the
page that shows them (`page`) and the `abm validate-model` command (`command`)."""

from abm.validation.base import Check, ClaimResult, Plot

__all__ = ["Check", "ClaimResult", "Plot"]
