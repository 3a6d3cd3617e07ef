"""Checks template.yaml: cfn-lint clean, and the SAM transform's output holds the promised protections and routes.

The template is transformed offline with aws-sam-translator, so no AWS account is needed.
"""

import json
import pathlib
import subprocess
import sys

from conftest import TEMPLATE, of_type, the_one


def test_cfn_lint_reports_nothing():
    result = subprocess.run([str(pathlib.Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_function_is_arm64_al2023_bootstrap_with_128_mb_and_timeout_below_api_gateway_limit(resources):
    function = the_one(resources, "AWS::Lambda::Function")["Properties"]
    assert function["Runtime"] == "provided.al2023"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "bootstrap"
    assert function["MemorySize"] == 128
    assert 12 < function["Timeout"] < 29


def test_function_is_built_with_cargo_lambda_from_the_receiver_binary(source):
    metadata = source["Resources"]["ReceiverFunction"]["Metadata"]
    assert metadata["BuildMethod"] == "rust-cargolambda"
    assert metadata["BuildProperties"]["Binary"] == "mobway-receiver"


def test_function_gets_its_configuration_from_parameters_and_the_bucket(resources):
    variables = the_one(resources, "AWS::Lambda::Function")["Properties"]["Environment"]["Variables"]
    assert variables["BUCKET_NAME"] == {"Ref": "TelemetryBucket"}
    assert variables["SIGN_SECRET_ARN"] == {"Ref": "SigningSecret"}
    assert variables["KEY_PREFIX"] == {"Ref": "KeyPrefix"}
    assert variables["RAW_ARCHIVE"] == {"Ref": "RawArchive"}


def test_secret_parameter_is_never_echoed_and_lands_only_in_secrets_manager(source, resources):
    assert source["Parameters"]["SignSecret"]["NoEcho"] is True
    secret = the_one(resources, "AWS::SecretsManager::Secret")["Properties"]
    assert secret["SecretString"] == {"Ref": "SignSecret"}
    referrers = [name for name, r in resources.items() if '"Ref": "SignSecret"' in json.dumps(r)]
    assert referrers == ["SigningSecret"], f"only the secret may hold the plaintext, not {referrers}"


def test_function_environment_holds_no_plaintext_secret(resources):
    variables = the_one(resources, "AWS::Lambda::Function")["Properties"]["Environment"]["Variables"]
    assert not {"SIGN_SECRET", "SIGN_SECRET_PREVIOUS"} & set(variables)
    assert variables["SIGN_SECRET_ARN"] == {"Ref": "SigningSecret"}


def test_role_may_only_put_objects_under_the_prefix_and_write_its_own_logs(resources):
    role = the_one(resources, "AWS::IAM::Role")["Properties"]
    assert "ManagedPolicyArns" not in role or role["ManagedPolicyArns"] == []
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"WriteTelemetryObjects", "ReadSigningSecret", "WriteOwnLogs", "SendTraces"}
    secret = by_sid["ReadSigningSecret"]
    assert (secret["Action"], secret["Resource"]) == ("secretsmanager:GetSecretValue", {"Ref": "SigningSecret"})
    s3 = by_sid["WriteTelemetryObjects"]
    assert s3["Effect"] == "Allow" and s3["Action"] == "s3:PutObject"
    assert s3["Resource"] == {"Fn::Sub": "${TelemetryBucket.Arn}/${KeyPrefix}*"}
    logs = by_sid["WriteOwnLogs"]
    assert sorted(logs["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == {"Fn::GetAtt": ["ReceiverLogGroup", "Arn"]}
    traces = by_sid["SendTraces"]
    assert sorted(traces["Action"]) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
    assert s3_statements == [s3], "S3 is reachable through one statement only"
    for statement in statements:
        actions = _actions(statement)
        assert all("*" not in action for action in actions), statement
        assert not any(a.startswith(("s3:Get", "s3:Delete", "s3:List")) for a in actions), statement


def test_bucket_blocks_public_access_encrypts_and_enforces_owner(resources):
    bucket = resources["TelemetryBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    assert "BucketName" not in properties, "no hard-coded names"
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_policy_denies_every_request_without_tls(resources):
    policy = the_one(resources, "AWS::S3::BucketPolicy")["Properties"]
    assert policy["Bucket"] == {"Ref": "TelemetryBucket"}
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["TelemetryBucket", "Arn"]} in statement["Resource"]
    assert {"Fn::Sub": "${TelemetryBucket.Arn}/*"} in statement["Resource"]


def test_logs_go_to_a_log_group_with_retention(resources):
    group = the_one(resources, "AWS::Logs::LogGroup")["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    function = the_one(resources, "AWS::Lambda::Function")["Properties"]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "ReceiverLogGroup"}


def test_http_api_routes_post_webhook_and_get_health_with_payload_2(resources):
    api = the_one(resources, "AWS::ApiGatewayV2::Api")["Properties"]
    paths = api["Body"]["paths"]
    assert set(paths) == {"/webhook", "/"}
    assert set(paths["/webhook"]) == {"post"}
    assert set(paths["/"]) == {"get"}
    for route in (paths["/webhook"]["post"], paths["/"]["get"]):
        integration = route["x-amazon-apigateway-integration"]
        assert integration["payloadFormatVersion"] == "2.0"
        assert integration["type"] == "aws_proxy"
    stage = the_one(resources, "AWS::ApiGatewayV2::Stage")["Properties"]
    assert stage["StageName"] == "$default", "events/ are written for the $default stage"


def test_api_may_invoke_the_function_for_both_routes(resources):
    permissions = of_type(resources, "AWS::Lambda::Permission")
    assert len(permissions) == 2
    assert all(p["Properties"]["Principal"] == "apigateway.amazonaws.com" for p in permissions.values())


def test_outputs_give_the_webhook_url_and_the_bucket(source):
    outputs = source["Outputs"]
    assert outputs["WebhookUrl"]["Value"]["Fn::Sub"].endswith("/webhook")
    assert outputs["BucketName"]["Value"] == {"Ref": "TelemetryBucket"}


def test_template_hard_codes_no_resource_names(resources):
    name_properties = {"BucketName", "FunctionName", "RoleName", "LogGroupName", "TopicName"}
    for name, resource in resources.items():
        for prop in name_properties & set(resource.get("Properties", {})):
            value = resource["Properties"][prop]
            assert not isinstance(value, str), f"{name}.{prop} is hard-coded as {value!r}"


def _actions(statement):
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
