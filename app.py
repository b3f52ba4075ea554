#!/usr/bin/env python3
"""CDK entry: reads the knobs from context, builds the onthedot stack, checks it with cdk-nag.

Synth needs no AWS credentials and no network: the account and region come from the environment when
the CLI knows them, otherwise the stack is environment-agnostic.
"""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import OnTheDotStack, read_settings
from onthedot.settings import SettingsError


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
        env=cdk.Environment(account=os.getenv("CDK_DEFAULT_ACCOUNT"), region=os.getenv("CDK_DEFAULT_REGION")),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
