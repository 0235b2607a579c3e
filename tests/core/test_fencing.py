"""Fencing rules: our client ids, another installation's, and the epoch rule."""

from __future__ import annotations

from hedgebot.core.fencing import client_prefix, foreign_hedger, installation_of, may_send


def test_client_ids_name_their_installation() -> None:
    assert client_prefix("a1b2c3") == "hba1b2c3n"
    assert installation_of("hba1b2c3n17") == "a1b2c3"
    for not_ours in ("", "hba1b2c3n", "hbA1B2C3n1", "manual-order", "hba1b2c3d4n1", "xhba1b2c3n1"):
        assert installation_of(not_ours) is None, not_ours


def test_only_another_installations_hedgebot_ids_are_foreign() -> None:
    assert foreign_hedger("hbffffffn3", own_installation="a1b2c3") == "ffffff"
    assert foreign_hedger("hba1b2c3n3", own_installation="a1b2c3") is None
    assert foreign_hedger("web-order-42", own_installation="a1b2c3") is None


def test_a_process_may_send_only_while_its_epoch_is_the_newest() -> None:
    assert may_send(own_epoch=4, journal_epoch=4)
    assert not may_send(own_epoch=4, journal_epoch=5)
