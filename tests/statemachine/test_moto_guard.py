"""Fails loudly when a moto upgrade moves the internals the local cloud patches or works around."""

from __future__ import annotations

import inspect
from importlib.metadata import version

from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.utils import boto_client

from onthedot.local import jsonata_engine, lambda_runtime, metering


def test_moto_is_the_version_the_patches_were_written_for() -> None:
    assert version("moto") == "5.2.5", "re-check every patch in onthedot/local against the new moto, then update"


def test_the_patched_methods_still_exist() -> None:
    for name, cls in jsonata_engine.MOTO_TARGETS.items():
        assert cls.__name__ == name
        assert "_eval_body" in vars(cls), f"{name}._eval_body moved"
        assert "expression" in inspect.signature(cls.__init__).parameters
    assert "_invoke_lambda" in vars(lambda_runtime.MOTO_TARGET)
    assert "call_action" in vars(metering.MOTO_TARGET)


def test_moto_still_has_no_jsonata_evaluator_of_its_own() -> None:
    # If this fails, moto wires JSONata itself (getmoto/moto#10105): check whether jsonata_engine is still needed.
    assert moto_jsonata._eval_jsonata is None


def test_moto_still_calls_services_back_on_moto_port() -> None:
    assert "moto_server_port()" in inspect.getsource(boto_client.boto_client_for)


def test_installed_patches_are_the_local_clouds(cloud: object) -> None:
    # the cloud fixture has installed them
    for cls in jsonata_engine.MOTO_TARGETS.values():
        assert vars(cls)["_eval_body"].__module__ == jsonata_engine.__name__
    assert vars(lambda_runtime.MOTO_TARGET)["_invoke_lambda"].__module__ == lambda_runtime.__name__
