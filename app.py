#!/usr/bin/env python3
"""CDK entry: reads the knobs from context, builds the onthedot stack, checks it with cdk-nag.

Synth needs no AWS credentials and no network: the account and region come from the environment when
the CLI knows the account (it has credentials), otherwise the stack is environment-agnostic.
"""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import OnTheDotStack, read_settings
from onthedot.deploy.settings import SettingsError


def environment() -> cdk.Environment | None:
    """The CLI's account and region, or None (environment-agnostic) when it knows no account.

    Without credentials the CLI still sets CDK_DEFAULT_REGION, to its fallback us-east-1: taken as the
    stack's region, that literal would end up in ARNs and policies of a template meant for any region.
    """
    account = os.getenv("CDK_DEFAULT_ACCOUNT")
    if not account:
        return None
    return cdk.Environment(account=account, region=os.getenv("CDK_DEFAULT_REGION"))


def main() -> None:
    app = cdk.App()
    try:
        settings = read_settings(app)
    except SettingsError as error:
        # One line the CLI shows as is, rather than a traceback.
        sys.exit(f"onthedot: {error}")
    OnTheDotStack(
        app,
        "OnTheDot",
        settings=settings,
        description="onthedot: a serverless scheduler (jobs in DynamoDB, dispatched by Step Functions).",
        env=environment(),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
