"""Checks the monitoring in template.yaml: JSON logs, tracing, every alarm's metric, threshold, period and action,
and that alarms and dashboard only name metrics the function emits (the list in src/telemetry.rs)."""

import json
import re

import pytest

from conftest import ROOT, of_type, the_one

TELEMETRY_SOURCE = ROOT / "src" / "telemetry.rs"


@pytest.fixture(scope="module")
def emitted_metrics():
    """The metric names the function emits: the match arms of `Metric::name` in src/telemetry.rs."""
    source = TELEMETRY_SOURCE.read_text()
    body = source[source.index("pub fn name(self)") :]
    body = body[: body.index("\n    }\n")]
    names = dict(re.findall(r'Self::(\w+) => "(\w+)"', body))
    all_block = source[source.index("pub const ALL") :]
    all_block = all_block[: all_block.index("];")]
    in_all = re.findall(r"Self::(\w+)", all_block)
    assert set(in_all) == set(names), "Metric::ALL and Metric::name must list the same metrics"
    assert len(names) >= 8
    return set(names.values())


def alarms(resources):
    return of_type(resources, "AWS::CloudWatch::Alarm")


def custom_alarm(resources, metric):
    found = [
        a["Properties"]
        for a in alarms(resources).values()
        if a["Properties"]["MetricName"] == metric and a["Properties"]["Namespace"] == {"Ref": "MetricsNamespace"}
    ]
    assert len(found) == 1, f"one alarm on {metric} expected"
    return found[0]


def aws_alarm(resources, namespace, metric):
    found = [
        a["Properties"]
        for a in alarms(resources).values()
        if a["Properties"]["MetricName"] == metric and a["Properties"]["Namespace"] == namespace
    ]
    assert len(found) == 1, f"one alarm on {namespace} {metric} expected"
    return found[0]


def function_timeout_ms(resources):
    return the_one(resources, "AWS::Lambda::Function")["Properties"]["Timeout"] * 1000


def assert_notifies(alarm):
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_function_logs_json_at_the_parameterised_level_and_traces_actively(resources):
    function = the_one(resources, "AWS::Lambda::Function")["Properties"]
    logging = function["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == {"Ref": "ApplicationLogLevel"}
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Environment"]["Variables"]["METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}


def test_alarm_topic_has_an_optional_email_subscription(resources, source):
    the_one(resources, "AWS::SNS::Topic")
    subscription = source["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert source["Parameters"]["AlarmEmail"]["Default"] == ""


def test_any_storage_failure_alarms_within_a_minute(resources):
    alarm = custom_alarm(resources, "StorageFailures")
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 60, 1)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"
    assert_notifies(alarm)


def test_any_unpartitioned_record_alarms(resources):
    alarm = custom_alarm(resources, "RecordsUnpartitioned")
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert_notifies(alarm)


def test_rejected_signatures_alarm_above_the_parameterised_rate(resources):
    alarm = custom_alarm(resources, "SignaturesRejected")
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)
    assert alarm["Threshold"] == {"Ref": "RejectedSignaturesThreshold"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert_notifies(alarm)


def test_silence_from_the_provider_alarms_with_missing_data_breaching(resources):
    alarm = custom_alarm(resources, "DeliveriesStored")
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == {"Ref": "NoDeliveryPeriodSeconds"}
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert alarm["TreatMissingData"] == "breaching"
    assert_notifies(alarm)


def test_custom_metric_alarms_use_the_function_dimension_the_code_emits(resources):
    for alarm in alarms(resources).values():
        properties = alarm["Properties"]
        if properties["Namespace"] == {"Ref": "MetricsNamespace"}:
            assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ReceiverFunction"}}]


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_function_errors_and_throttles_alarm(resources, metric):
    alarm = aws_alarm(resources, "AWS/Lambda", metric)
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ReceiverFunction"}}]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 60, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert_notifies(alarm)


def test_api_5xx_alarms_on_the_default_stage(resources):
    alarm = aws_alarm(resources, "AWS/ApiGateway", "5xx")
    assert {"Name": "ApiId", "Value": {"Ref": "WebhookApi"}} in alarm["Dimensions"]
    assert {"Name": "Stage", "Value": "$default"} in alarm["Dimensions"]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 60, 1)
    assert_notifies(alarm)


def test_p99_duration_alarms_at_80_percent_of_the_function_timeout(resources):
    alarm = aws_alarm(resources, "AWS/Lambda", "Duration")
    assert alarm["ExtendedStatistic"] == "p99"
    assert alarm["Threshold"] == 0.8 * function_timeout_ms(resources)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert_notifies(alarm)


def test_every_custom_metric_an_alarm_names_is_emitted_by_the_code(resources, emitted_metrics):
    for name, alarm in alarms(resources).items():
        properties = alarm["Properties"]
        if properties["Namespace"] == {"Ref": "MetricsNamespace"}:
            assert properties["MetricName"] in emitted_metrics, name


def dashboard_metrics(resources):
    body = the_one(resources, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    return [row for widget in widgets for row in widget["properties"]["metrics"]]


def test_dashboard_names_only_metrics_the_code_emits_and_shows_them_all(resources, emitted_metrics):
    custom = {row[1] for row in dashboard_metrics(resources) if row[0] == "${MetricsNamespace}"}
    assert custom <= emitted_metrics, custom - emitted_metrics
    assert custom == emitted_metrics, f"not on the dashboard: {emitted_metrics - custom}"
    for row in dashboard_metrics(resources):
        if row[0] == "${MetricsNamespace}":
            assert row[2:4] == ["FunctionName", "${ReceiverFunction}"], row


def test_dashboard_shows_duration_percentiles_errors_and_throttles(resources):
    rows = dashboard_metrics(resources)
    percentiles = {row[-1]["stat"] for row in rows if row[1] == "HandlerDuration"}
    assert {"p50", "p90", "p99"} <= percentiles
    lambda_metrics = {row[1] for row in rows if row[0] == "AWS/Lambda"}
    assert {"Errors", "Throttles"} <= lambda_metrics
