"""The CLI's own logic, offline: durations, --detail, ids, exit codes and how it finds its table."""

from __future__ import annotations

import argparse
import json
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from onthedot import cli
from onthedot.client import InvalidJob, Job, JobNotFound, Series
from onthedot.deploy import target
from onthedot.deploy.target import LOCAL, Target, TargetError, resolve

NOW = datetime(2026, 2, 9, 11, 33, tzinfo=UTC)


def uuid_v7() -> str:
    """A UUID with version nibble 7, as job ids have."""
    return str(uuid.UUID(int=(uuid.uuid4().int & ~(0xF << 76)) | (7 << 76)))


# -- durations --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("+90s", timedelta(seconds=90)),
        ("0h5m", timedelta(minutes=5)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert cli.parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a duration"),
        ("10", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("30m1h", "is not a duration"),  # largest unit first
        ("5m5m", "is not a duration"),
        ("10 minutes", "is not a duration"),
        ("5M", "is not a duration"),
        ("h", "is not a duration"),
        ("0s", "must be more than 0"),
        ("0d0h", "must be more than 0"),
        ("-5m", "must be more than 0"),
    ],
)
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        cli.parse_duration(text)


# -- --detail ---------------------------------------------------------------------------------------------------


def test_detail_is_a_json_object() -> None:
    assert cli.parse_detail('{"to": "a@b.c", "n": [1, 2]}') == {"to": "a@b.c", "n": [1, 2]}


def test_detail_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "detail.json"
    path.write_text(json.dumps({"text": "Café « on the dot »"}), encoding="utf-8")
    assert cli.parse_detail(f"@{path}") == {"text": "Café « on the dot »"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", r"must be a JSON object \({...}\), got an array"),
        ('"text"', "got a string"),
        ("3", "got a number"),
        ("true", "got a boolean"),
        ("null", "got null"),
        ("{'a': 1}", r"--detail is not valid JSON: .* \(line 1, column 2\)"),
        ("@/no/such/detail.json", "cannot read /no/such/detail.json: No such file or directory"),
    ],
)
def test_bad_details_name_the_field(text: str, message: str) -> None:
    with pytest.raises(InvalidJob, match=message) as raised:
        cli.parse_detail(text)
    assert raised.value.field == "detail"


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "detail.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(InvalidJob, match=f"{path} is not valid JSON"):
        cli.parse_detail(f"@{path}")


# -- ids --------------------------------------------------------------------------------------------------------


def test_job_and_series_ids_by_uuid_version() -> None:
    job_id, series_id = uuid_v7(), str(uuid.uuid4())
    assert cli.id_kind(job_id) == ("job", job_id)
    assert cli.id_kind(series_id) == ("series", series_id)
    assert cli.id_kind(job_id.upper()) == ("job", job_id)


@pytest.mark.parametrize("text", ["nope", "", str(uuid.uuid1()), "00000000-0000-0000-0000-000000000000"])
def test_other_ids_are_bad_input(text: str) -> None:
    with pytest.raises(InvalidJob) as raised:
        cli.id_kind(text)
    assert raised.value.field == "id"


# -- exit codes -------------------------------------------------------------------------------------------------

LOCAL_TARGET = Target(LOCAL.table, LOCAL.bus, "local cloud on http://127.0.0.1:4566")


class Failing:
    """A scheduler whose every call raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            raise self.error

        return call


def connected(monkeypatch: pytest.MonkeyPatch, scheduler: Any) -> None:
    monkeypatch.setattr(cli, "connect", lambda _args: (scheduler, LOCAL_TARGET))


@pytest.mark.parametrize(
    ("error", "code", "stderr"),
    [
        (InvalidJob("at", "has no time zone"), 2, "onthedot: at: has no time zone\n"),
        (JobNotFound("no pending job 0190"), 1, "onthedot: no pending job 0190\n"),
        (
            ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no table"}}, "Query"),
            1,
            "onthedot: AWS Query failed: ResourceNotFoundException: no table"
            " (table onthedot-jobs, local cloud on http://127.0.0.1:4566)\n",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:4566"),
            1,
            'onthedot: Could not connect to the endpoint URL: "http://127.0.0.1:4566"\n',
        ),
        (NoCredentialsError(), 1, "onthedot: Unable to locate credentials\n"),
    ],
)
def test_errors_map_to_exit_codes_and_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception, code: int, stderr: str
) -> None:
    connected(monkeypatch, Failing(error))
    assert cli.main(["get", uuid_v7()]) == code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", stderr)


def test_an_unknown_series_id_mentions_hand_written_jobs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    series_id = str(uuid.uuid4())
    connected(monkeypatch, Failing(JobNotFound(f"no series {series_id}")))
    assert cli.main(["get", series_id]) == 1
    assert capsys.readouterr().err == (
        f"onthedot: no series {series_id} (a UUIDv4 is read as a series id; a job written by hand with such an id "
        "cannot be looked up by id: find it with `onthedot list`)\n"
    )


def test_no_target_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("AWS_ENDPOINT_URL", "ONTHEDOT_LOCAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(target, "listening", lambda _host, _port: False)
    assert cli.main(["list"]) == 1
    assert capsys.readouterr().err == (
        "onthedot: no local cloud on 127.0.0.1:4566 (start one with `make run`), and no --stack/--table given\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["schedule", "--type", "x"],  # no time
        ["schedule", "--in", "1m", "--at", "2030-01-01T00:00:00Z", "--type", "x"],
        ["schedule", "--in", "1m"],  # no --type
        ["schedule", "--cron", "* * * * *", "--count", "0", "--type", "x"],
        ["reschedule", uuid_v7()],
        ["list", "--limit", "0"],
        ["get", uuid_v7(), "--port", "0"],
        ["status", "--bucket-minutes", "7"],
        ["nonsense"],
    ],
)
def test_argument_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (["schedule", "--in", "1m", "--tz", "UTC", "--type", "x"], "onthedot: --tz: applies only to a recurring job"),
        (["list", "--table", "t", "--stack", "s"], "onthedot: --table, --stack: give one of them, not both"),
    ],
)
def test_inconsistent_options_exit_2_before_connecting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], stderr: str
) -> None:
    monkeypatch.setattr(cli, "connect", pytest.fail)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith(stderr)


def test_reschedule_of_a_series_is_bad_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connected(monkeypatch, Failing(AssertionError("nothing may be called")))
    assert cli.main(["reschedule", str(uuid.uuid4()), "--in", "5m"]) == 2
    assert capsys.readouterr().err.startswith("onthedot: id: ")


class Recorder:
    """A scheduler that records the call it gets and returns a job."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return Job(id=uuid_v7(), due=NOW, detail_type="reminder", detail={})

        return call


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["schedule", "--in", "1h30m", "--type", "reminder", "--detail", '{"to": "a@b.c"}', "--key", "k1"],
            ("schedule", ("reminder", {"to": "a@b.c"}), {"at": None, "delay": timedelta(minutes=90), "key": "k1"}),
        ),
        (
            ["schedule", "--at", "2030-01-01T09:00:00+01:00", "--type", "reminder"],
            ("schedule", ("reminder", {}), {"at": "2030-01-01T09:00:00+01:00", "delay": None, "key": None}),
        ),
        (
            ["schedule", "--rate", "15 minutes", "--tz", "Europe/Berlin", "--count", "3", "--type", "t"],
            (
                "schedule_recurring",
                ("t", {}),
                {
                    "cron": None,
                    "rate": "15 minutes",
                    "tz": "Europe/Berlin",
                    "ends_at": None,
                    "limit": 3,
                    "key": None,
                },
            ),
        ),
        (
            ["reschedule", "01950000-0000-7000-8000-000000000000", "--in", "2d"],
            ("reschedule", ("01950000-0000-7000-8000-000000000000",), {"at": None, "delay": timedelta(days=2)}),
        ),
        (["cancel", "01950000-0000-7000-8000-000000000000"], ("cancel", ("01950000-0000-7000-8000-000000000000",), {})),
    ],
)
def test_commands_call_the_library_with_what_was_typed(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: tuple[Any, ...]
) -> None:
    scheduler = Recorder()
    connected(monkeypatch, scheduler)
    monkeypatch.setattr(cli.render, "series_text", lambda _series, _now: "")  # the recorder returns a Job for any call

    cli.main(argv)

    assert scheduler.calls == [expected]


# -- target resolution ------------------------------------------------------------------------------------------


def never(_host: str, _port: int) -> bool:
    raise AssertionError("must not probe")


class Probe:
    """Records where it was asked to look, and answers ``answer``."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> bool:
        self.calls.append((host, port))
        return self.answer


def stack_outputs(outputs: dict[str, str], stack: str = "OnTheDot") -> Any:
    cloudformation = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(cloudformation)
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack,
                    "CreationTime": NOW,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
                }
            ]
        },
        {"StackName": stack},
    )
    stubber.activate()
    return cloudformation


def test_an_explicit_table_comes_first() -> None:
    environ = {"AWS_ENDPOINT_URL": "http://elsewhere:1", "ONTHEDOT_LOCAL_PORT": "4600"}
    found = resolve(table="jobs", bus="bus", stack="OnTheDot", port=4600, environ=environ, probe=never)
    assert found == Target("jobs", "bus", "table jobs")  # endpoint, region, credentials: as boto3 resolves them


def test_a_stack_gives_its_outputs() -> None:
    cloudformation = stack_outputs({"JobsTableName": "OnTheDot-Jobs1", "EventBusName": "OnTheDot-Bus1"})
    found = resolve(
        stack="OnTheDot", port=4600, environ={"AWS_ENDPOINT_URL": "x"}, probe=never, cloudformation=cloudformation
    )
    # no BucketMinutes output: the width is the one the table records, read when first needed
    assert found == Target("OnTheDot-Jobs1", "OnTheDot-Bus1", "stack OnTheDot", bucket_minutes=None)


def test_a_stack_may_state_its_bucket_minutes_and_a_flag_overrides_it() -> None:
    outputs = {"JobsTableName": "t", "BucketMinutes": "10"}
    assert resolve(stack="OnTheDot", cloudformation=stack_outputs(outputs), probe=never).bucket_minutes == 10
    found = resolve(stack="OnTheDot", bucket_minutes=15, cloudformation=stack_outputs(outputs), probe=never)
    assert found.bucket_minutes == 15


def test_a_stack_without_the_table_output_is_an_error() -> None:
    with pytest.raises(TargetError, match="stack 'Other' has no output 'JobsTableName'"):
        resolve(stack="Other", cloudformation=stack_outputs({"Something": "x"}, stack="Other"), probe=never)


def test_a_missing_stack_is_an_error() -> None:
    cloudformation = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(cloudformation)
    stubber.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id Nope does not exist", expected_params={"StackName": "Nope"}
    )
    stubber.activate()
    with pytest.raises(TargetError, match="cannot read stack 'Nope': Stack with id Nope does not exist"):
        resolve(stack="Nope", cloudformation=cloudformation, probe=never)


def test_an_explicit_port_means_the_local_cloud_even_with_an_endpoint_set() -> None:
    probe = Probe()
    found = resolve(port=4600, environ={"AWS_ENDPOINT_URL": "http://elsewhere:1"}, probe=probe)
    assert probe.calls == [("127.0.0.1", 4600)]
    assert found.endpoint == "http://127.0.0.1:4600"


def test_aws_endpoint_url_comes_before_the_local_probe() -> None:
    found = resolve(environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:4599", "ONTHEDOT_LOCAL_PORT": "4600"}, probe=never)
    # boto3 itself reads AWS_ENDPOINT_URL (and the credentials) from the environment
    assert found == Target(LOCAL.table, LOCAL.bus, "table onthedot-jobs on http://127.0.0.1:4599")


@pytest.mark.parametrize(("environ", "port"), [({}, 4566), ({"ONTHEDOT_LOCAL_PORT": "4600"}, 4600)])
def test_otherwise_the_local_cloud_that_answers(environ: dict[str, str], port: int) -> None:
    probe = Probe()
    found = resolve(environ=environ, probe=probe)
    assert probe.calls == [("127.0.0.1", port)]
    assert found == Target(
        "onthedot-jobs",
        "onthedot",
        f"local cloud on http://127.0.0.1:{port}",
        endpoint=f"http://127.0.0.1:{port}",
        region="us-east-1",
        credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"},
    )


def test_nothing_answering_is_an_error_saying_what_to_do() -> None:
    with pytest.raises(TargetError) as raised:
        resolve(environ={"ONTHEDOT_LOCAL_PORT": "4600"}, probe=Probe(answer=False))
    assert str(raised.value) == (
        "no local cloud on 127.0.0.1:4600 (start one with `make run`), and no --stack/--table given"
    )


def test_a_bad_local_port_variable_is_an_error() -> None:
    with pytest.raises(TargetError, match="ONTHEDOT_LOCAL_PORT='x' is not a port number"):
        resolve(environ={"ONTHEDOT_LOCAL_PORT": "x"}, probe=never)


def test_the_local_target_makes_clients_for_the_local_cloud() -> None:
    local = resolve(environ={}, probe=Probe())
    dynamodb = local.client("dynamodb")
    assert dynamodb.meta.endpoint_url == "http://127.0.0.1:4566"
    assert dynamodb.meta.region_name == "us-east-1"
    assert dynamodb._request_signer._credentials.access_key == "test"


def test_the_probe_sees_a_listening_port_on_loopback_only_while_it_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert target.listening("127.0.0.1", port)
    assert not target.listening("127.0.0.1", port)


def test_local_names_mirror_the_local_cloud() -> None:
    from onthedot.local.cloud import CREDENTIALS, REGION, Names

    assert (LOCAL.table, LOCAL.bus) == (Names().table, Names().bus)
    assert LOCAL.region == REGION == CREDENTIALS["AWS_DEFAULT_REGION"]
    assert (LOCAL.access_key_id, LOCAL.secret_access_key) == (
        CREDENTIALS["AWS_ACCESS_KEY_ID"],
        CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


# -- human output -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "now"), (29.4, "in 29 s"), (-12, "12 s ago"), (600, "in 10 min"), (-7200, "2 h ago"), (3 * 86400, "in 3 d")],
)
def test_relative_times(seconds: float, text: str) -> None:
    assert cli._relative(NOW + timedelta(seconds=seconds), NOW) == text


def test_a_job_reads_as_key_value_lines() -> None:
    job = Job(
        id="01a226a4-e620-7cc6-8f38-98f37fd4e55a",
        due=NOW + timedelta(seconds=29),
        detail_type="reminder",
        detail={"to": "a@b.c"},
        created_at=NOW,
    )
    assert cli._job_text(job, NOW) == (
        "job      01a226a4-e620-7cc6-8f38-98f37fd4e55a\n"
        "due      2026-02-09T11:33:29.000Z  (in 29 s)\n"
        "type     reminder\n"
        'detail   {"to": "a@b.c"}\n'
        "created  2026-02-09T11:33:00.000Z  (now)"
    )


def test_a_series_reads_as_key_value_lines() -> None:
    series = Series(
        id="5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10",
        detail_type="report",
        detail={},
        cron="0 9 * * 1-5",
        rate=None,
        tz="Europe/Berlin",
        starts_at=NOW,
        ends_at=None,
        limit=3,
        fired=1,
        next=None,
    )
    text = cli._series_text(series, NOW)
    assert "rule    cron 0 9 * * 1-5  in Europe/Berlin\n" in text
    assert "limit   3 occurrences\nfired   1\nnext    none: the series has ended" in text


# -- the bucket width: the table's, whatever the CLI is pointed at -------------------------------------------------


@pytest.fixture
def fifteen_minute_table(aws: None) -> Any:
    """A jobs table whose dispatcher records 15-minute buckets on its cursor item."""
    from onthedot.core.jobs import TABLE_KEYS

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(TableName="Jobs", BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)
    dynamodb.put_item(
        TableName="Jobs",
        Item={"pk": {"S": "cursor"}, "sk": {"S": "dispatcher"}, "bucket_minutes": {"N": "15"}},
    )
    return dynamodb


def test_the_cli_keys_jobs_with_the_width_the_table_records(
    fifteen_minute_table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN a job due at 12:07 is scheduled with no width given
    assert cli.main(["schedule", "--table", "Jobs", "--type", "t", "--at", "2099-01-01T12:07:00Z", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)

    # THEN it sits in the 15-minute bucket of 12:00, where the dispatcher looks, and the CLI finds it by id
    items = fifteen_minute_table.scan(TableName="Jobs")["Items"]
    assert sorted(item["pk"]["S"] for item in items) == ["cursor", "j#2099-01-01T12:00"]
    assert cli.main(["get", job["id"], "--table", "Jobs"]) == 0
    assert job["id"] in capsys.readouterr().out
    assert cli.main(["status", "--table", "Jobs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bucket_minutes"] == 15


def test_a_width_flag_that_differs_from_the_table_exits_2_naming_both(
    fifteen_minute_table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["schedule", "--table", "Jobs", "--bucket-minutes", "5", "--type", "t", "--in", "5m"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("onthedot: bucket_minutes: 5-minute buckets were asked for, but table Jobs records 15-minute")
    assert [item["pk"]["S"] for item in fifteen_minute_table.scan(TableName="Jobs")["Items"]] == ["cursor"]
