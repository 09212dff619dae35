"""MINT_MAX_ATTEMPTS: read with the other tuning knobs, one default, and never 0 or malformed."""

import pytest

from actors.infra.config import MintingSettings, load_settings
from actors.infra.errors import SettingsError
from actors.workflows.lifecycle import DEFAULT_MAX_ATTEMPTS


def test_default_is_the_workflows_default():
    default = load_settings({}).minting.max_attempts
    assert default == MintingSettings().max_attempts == DEFAULT_MAX_ATTEMPTS == 20


def test_the_variable_sets_the_cap():
    assert load_settings({"MINT_MAX_ATTEMPTS": "3"}).minting.max_attempts == 3


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5"])
def test_a_cap_below_one_or_malformed_names_the_variable(value):
    with pytest.raises(SettingsError) as err:
        load_settings({"MINT_MAX_ATTEMPTS": value})
    assert err.value.name == "MINT_MAX_ATTEMPTS"
