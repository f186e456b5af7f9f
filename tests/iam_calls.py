"""Every AWS call a function makes, recorded under moto, and whether its role's synthesized policy allows it.

`CallRecorder` hooks botocore's `before-parameter-build` event on the default session (the one
`chalicelib.aws.client` builds every client from), which fires once per API call with the caller's own
parameters, for calls moto answers, calls a `Stubber` answers and presigned URLs alike. Each call becomes
the IAM requests AWS authorizes it as (`Request`): action, resource ARN and, for DynamoDB, the partition
keys it touches (the `dynamodb:LeadingKeys` condition key), one request per item of a TransactWriteItems.

`Policy` evaluates requests against one role's statements from the synthesized template. It is written
by hand: moto's IAM access control (`set_initial_no_auth_action_count`) checks actions only — its own
docstring lists Resource and Condition support as TODO, and it evaluates conditions for trust policies
only — so it could tell neither a wrong table nor a partition outside `dynamodb:LeadingKeys`. The
evaluator covers exactly the statement shapes infra/permissions.py produces (Allow statements; actions and
resources with `*`; ForAllValues:StringEquals/StringLike on dynamodb:LeadingKeys; StringEquals on
bedrock:InferenceProfileArn) and refuses any other shape rather than guess.

A client built before the recorder is attached keeps the handlers it was built with and calls AWS
unrecorded: the fixture drops every client the app keeps (tests/test_iam_calls.py `forget_clients`).

Template resources are compared symbolically: `Fn::GetAtt [X, Arn]` and `Ref X` render as `{X}`, and a
recorded call names its table, bucket, queue, topic or function by the same logical id (`Names`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.store.schema import GLOBAL_SECONDARY_INDEXES, PK
from infra import permissions, regions
from tests.infra_synth import STAGE, Synth

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account, and the pseudo parameter the template is rendered with
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION}
INDEX_PARTITION_KEYS = {
    index["IndexName"]: next(k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH")
    for index in GLOBAL_SECONDARY_INDEXES
}
LEADING_KEYS = "dynamodb:LeadingKeys"
# S3 calls on one object key → the action IAM authorizes them as.
S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
}


@dataclass(frozen=True)
class Request:
    """One IAM authorization: what AWS checks a call (or one item of a transaction) as."""

    action: str
    resource: str
    leading_keys: frozenset[str] | None = None  # DynamoDB only: the partition keys the request touches
    operation: str = ""  # the API call it came from (a transaction's items share it)

    def __str__(self) -> str:
        keys = f" keys={sorted(self.leading_keys)}" if self.leading_keys else ""
        return f"{self.action} on {self.resource}{keys} (from {self.operation})"


@dataclass
class Names:
    """The test stack's physical names → the template's logical ids, so a call names what a statement does."""

    tables: dict[str, str]  # table name → logical id
    buckets: dict[str, str]  # bucket name → logical id
    queues: dict[str, str]  # queue name → logical id
    functions: dict[str, str] = field(default_factory=dict)  # function name → logical id
    topics: dict[str, str] = field(default_factory=dict)  # topic ARN → logical id
    parameter_prefix: str = ""  # the test stage's prefix …
    template_parameter_prefix: str = ""  # … and the synthesized stage's, which the statements name

    def queue(self, url_or_arn: str) -> str:
        name = url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return "{" + self.queues.get(name, f"unknown queue {name}") + "}"

    def parameter(self, name: str) -> str:
        if self.parameter_prefix and name.startswith(self.parameter_prefix):
            name = self.template_parameter_prefix + name.removeprefix(self.parameter_prefix)
        return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"


def render(value: Any) -> Any:
    """A template value with Fn::Join, pseudo parameters and resource references resolved to `{LogicalId}`."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return PSEUDO_PARAMETERS.get(value["Ref"], "{" + value["Ref"] + "}")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return "{" + logical_id + "}" + ("" if attribute == "Arn" else f"#{attribute}")
    if isinstance(value, dict) and any(key.startswith("Fn::") for key in value):
        raise UnsupportedStatement(f"intrinsic function {sorted(value)}")
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    return value


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _pattern(glob: str, *, case_sensitive: bool = True) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (`/` included), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def _matches(globs: list[str], value: str, *, case_sensitive: bool = True) -> bool:
    return any(_pattern(g, case_sensitive=case_sensitive).fullmatch(value) for g in globs)


class UnsupportedStatement(Exception):
    """A statement shape the evaluator does not know: extend it rather than let the check pass by guess."""


class Policy:
    """One role's Allow statements (rendered), and the requests they allow."""

    def __init__(self, statements: list[dict[str, Any]]) -> None:
        self.statements = [render(s) for s in statements]
        for s in self.statements:
            if s["Effect"] != "Allow" or {"NotAction", "NotResource", "Principal"} & set(s):
                raise UnsupportedStatement(s)

    def without(self, sid: str, *, leading_key: str | None = None) -> Policy:
        """This policy with statement `sid` removed, or with only `leading_key` removed from its condition."""
        import copy

        statements = copy.deepcopy(self.statements)
        if leading_key is None:
            kept = [s for s in statements if s.get("Sid") != sid]
            assert len(kept) == len(statements) - 1, f"no statement {sid}"
        else:
            kept = statements
            (target,) = [s for s in statements if s.get("Sid") == sid]
            (values,) = [v for v in target["Condition"].values()]
            assert leading_key in values[LEADING_KEYS], (sid, leading_key)
            values[LEADING_KEYS] = [k for k in values[LEADING_KEYS] if k != leading_key]
        return Policy(kept)

    def allows(self, request: Request) -> bool:
        return any(self._allowed_by(s, request) for s in self.statements)

    def _allowed_by(self, s: dict[str, Any], request: Request) -> bool:
        if not _matches(_listed(s["Action"]), request.action, case_sensitive=False):
            return False
        if not _matches(_listed(s["Resource"]), request.resource):
            return False
        return all(
            self._condition_holds(operator, key, _listed(values), request)
            for operator, entries in s.get("Condition", {}).items()
            for key, values in entries.items()
        )

    @staticmethod
    def _condition_holds(operator: str, key: str, values: list[str], request: Request) -> bool:
        if key == LEADING_KEYS and operator in ("ForAllValues:StringEquals", "ForAllValues:StringLike"):
            like = operator.endswith("StringLike")
            # ForAllValues holds when every value of the request's key is among the condition's (IAM: also
            # when the request carries no such key, as a Scan does; the statements here grant no Scan).
            return all(
                _matches(values, k) if like else k in values for k in (request.leading_keys or frozenset())
            )
        if key == "bedrock:InferenceProfileArn" and operator == "StringEquals":
            return False  # the recorder sees no profile context: only the profile statement may match
        raise UnsupportedStatement(f"{operator} on {key}")

    def denied(self, requests: list[Request]) -> list[Request]:
        return [r for r in requests if not self.allows(r)]


# --- the template and the test stack ------------------------------------------------------------------------

# The export function's name as the test stack's functions are told it (EXPORT_FUNCTION_NAME).
EXPORT_FUNCTION_NAME = "feedback-collector-test-NightlyExport"


def role_statements(synth: Synth, function: str) -> list[dict[str, Any]]:
    role = synth.resources[synth.logical_id("AWS::IAM::Role", f"{function}Role")]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    # Policies of their own attached to the role (the export function's self-invocation).
    role_id = synth.logical_id("AWS::IAM::Role", f"{function}Role")
    for resource in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in resource["Properties"].get("Roles", []):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def names_of(synth: Synth) -> Names:
    """The moto stack's names for the template's resources (the test stage is `test`, the template's prod)."""
    config = settings()
    (table,) = synth.of_type("AWS::DynamoDB::Table")
    queues = {
        resource["Properties"]["QueueName"].replace(f"-{STAGE}", f"-{config.stage}"): logical
        for logical, resource in synth.of_type("AWS::SQS::Queue").items()
    }
    return Names(
        tables={config.table_name: table},
        buckets={config.bucket_name: synth.logical_id("AWS::S3::Bucket", "ExportBucket")},
        queues=queues,
        functions={EXPORT_FUNCTION_NAME: permissions.NIGHTLY_EXPORT},
        topics={config.alerts_topic_arn: synth.logical_id("AWS::SNS::Topic", "AlertsTopic")},
        parameter_prefix=config.parameter_prefix,
        template_parameter_prefix=f"/feedback/{STAGE}",
    )


class Invocations:
    """Asynchronous Lambda invocations, answered 202 as Lambda does and kept to be run through the handler."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.events.append(json.loads(params["body"]))
        return AWSResponse("", 202, {}, None), {"StatusCode": 202}

    def take(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events


# --- recording -------------------------------------------------------------------------------------------


def _string(value: Any) -> str:
    """A DynamoDB attribute value's string (typed `{"S": …}` as the low-level client takes it, or plain)."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return str(value)


TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _partitions(*items: dict[str, Any]) -> frozenset[str]:
    return frozenset(_string(item[PK]) for item in items)


def _batch_keys(request: Any) -> list[dict[str, Any]]:
    """The keys (or items) of one table's part of a BatchGetItem or BatchWriteItem."""
    if isinstance(request, dict):
        return request["Keys"]
    return [w["PutRequest"]["Item"] if "PutRequest" in w else w["DeleteRequest"]["Key"] for w in request]


def _query_partition(params: dict[str, Any]) -> str | None:
    """The partition key value of a Query's key condition (`<key> = :v`, the key maybe through `#name`)."""
    attribute = INDEX_PARTITION_KEYS[params["IndexName"]] if "IndexName" in params else PK
    names = {v: k for k, v in params.get("ExpressionAttributeNames", {}).items()}
    expression = params.get("KeyConditionExpression", "")
    for spelled in (attribute, names.get(attribute, attribute)):
        match = re.search(rf"(?<![\w#]){re.escape(spelled)}\s*=\s*(:\w+)", expression)
        if match:
            return _string(params["ExpressionAttributeValues"][match[1]])
    return None


class CallRecorder:
    """Records the IAM requests of every AWS call made while `function` is set (see the module docstring)."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.function: str | None = None
        self.requests: dict[str, list[Request]] = {}
        self._lock = threading.Lock()

    def attach(self, events: Any) -> None:
        events.register_first("before-parameter-build.*.*", self._on_call, unique_id=f"iam-calls-{id(self)}")

    def detach(self, events: Any) -> None:
        events.unregister("before-parameter-build.*.*", unique_id=f"iam-calls-{id(self)}")

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        """Attribute every call inside the block to `function` (outside any: set-up, nothing recorded)."""
        previous, self.function = self.function, function
        try:
            yield
        finally:
            self.function = previous

    def _on_call(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if self.function is None:
            return
        service = model.service_model.endpoint_prefix
        signing = model.service_model.signing_name
        requests = self.requests_of(signing or service, model.name, params)
        with self._lock:
            self.requests.setdefault(self.function, []).extend(requests)

    def operations(self, function: str) -> set[str]:
        return {r.operation for r in self.requests.get(function, [])}

    # The mapping of each API call to its IAM requests, per service.
    def requests_of(self, service: str, operation: str, params: dict[str, Any]) -> list[Request]:
        handler = getattr(self, f"_{service.replace('-', '_')}", None)
        if handler is None:
            return [Request(f"{service}:{operation}", f"unmapped {service} call", operation=operation)]
        return [
            Request(action, resource, keys, operation)
            for action, resource, keys in handler(operation, params)
        ]

    def _table(self, name: str, index: str | None = None) -> str:
        logical = self.names.tables.get(name, f"unknown table {name}")
        return "{" + logical + "}" + (f"/index/{index}" if index else "")

    def _dynamodb(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, frozenset[str] | None]]:
        if operation in ("GetItem", "DeleteItem", "UpdateItem", "PutItem"):
            key = p["Item"] if operation == "PutItem" else p["Key"]
            return [(f"dynamodb:{operation}", self._table(p["TableName"]), _partitions(key))]
        if operation in ("Query", "Scan"):
            resource = self._table(p["TableName"], p.get("IndexName"))
            if operation == "Scan":
                return [("dynamodb:Scan", resource, frozenset())]
            # A key condition this reader cannot parse matches no LeadingKeys condition (never a pass).
            partition = _query_partition(p) or "<key condition not understood>"
            return [("dynamodb:Query", resource, frozenset({partition}))]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            # One authorization per table, with every partition key of its part of the batch.
            return [
                (f"dynamodb:{operation}", self._table(table), _partitions(*_batch_keys(request)))
                for table, request in p["RequestItems"].items()
            ]
        if operation in ("TransactWriteItems", "TransactGetItems"):
            # No action of its own: each item is authorized as the single-item call it is.
            found = []
            for item in p["TransactItems"]:
                ((kind, body),) = item.items()
                key = body["Item"] if kind == "Put" else body["Key"]
                action = f"dynamodb:{TRANSACTION_ACTIONS[kind]}"
                found.append((action, self._table(body["TableName"]), _partitions(key)))
            return found
        return [(f"dynamodb:{operation}", self._table(p.get("TableName", "")), None)]

    def _object(self, bucket: str, key: str = "") -> str:
        logical = self.names.buckets.get(bucket, f"unknown bucket {bucket}")
        return "{" + logical + "}" + (f"/{key}" if key else "")

    def _s3(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        bucket = p.get("Bucket", "")
        if operation in S3_OBJECT_ACTIONS:
            return [(S3_OBJECT_ACTIONS[operation], self._object(bucket, p["Key"]), None)]
        if operation in ("UploadPartCopy", "CopyObject"):
            source = p["CopySource"]
            if isinstance(source, str):
                source_bucket, _, source_key = source.lstrip("/").partition("/")
            else:
                source_bucket, source_key = source["Bucket"], source["Key"]
            return [
                ("s3:PutObject", self._object(bucket, p["Key"]), None),
                ("s3:GetObject", self._object(source_bucket, source_key), None),
            ]
        if operation == "DeleteObjects":
            # A version named is deleted for good, which IAM authorizes apart (s3:DeleteObjectVersion).
            return [
                (
                    "s3:DeleteObjectVersion" if "VersionId" in o else "s3:DeleteObject",
                    self._object(bucket, o["Key"]),
                    None,
                )
                for o in p["Delete"]["Objects"]
            ]
        if operation in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", self._object(bucket), None)]
        if operation == "ListObjectVersions":
            return [("s3:ListBucketVersions", self._object(bucket), None)]
        return [(f"s3:{operation}", self._object(bucket), None)]

    def _sqs(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        action = "SendMessage" if operation == "SendMessageBatch" else operation
        action = "DeleteMessage" if operation == "DeleteMessageBatch" else action
        action = "ChangeMessageVisibility" if operation == "ChangeMessageVisibilityBatch" else action
        return [(f"sqs:{action}", self.names.queue(p.get("QueueUrl", p.get("QueueName", ""))), None)]

    def _ssm(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        if operation == "GetParametersByPath":
            return [("ssm:GetParametersByPath", self.names.parameter(p["Path"].rstrip("/")), None)]
        if operation == "GetParameters":
            return [("ssm:GetParameters", self.names.parameter(n), None) for n in p["Names"]]
        return [(f"ssm:{operation}", self.names.parameter(p.get("Name", "")), None)]

    def _lambda(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        action = "InvokeFunction" if operation in ("Invoke", "InvokeAsync") else operation
        name = p.get("FunctionName", "").rsplit(":function:", 1)[-1]
        logical = self.names.functions.get(name, f"unknown function {name}")
        return [(f"lambda:{action}", "{" + logical + "}", None)]

    def _sns(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        arn = p.get("TopicArn", "")
        return [(f"sns:{operation}", "{" + self.names.topics.get(arn, f"unknown topic {arn}") + "}", None)]

    def _comprehend(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        return [(f"comprehend:{operation}", "*", None)]

    def _events(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        buses = {entry.get("EventBusName", "default") for entry in p.get("Entries", [])} or {"default"}
        return [
            (f"events:{operation}", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{b}", None) for b in buses
        ]

    def _bedrock(self, operation: str, p: dict[str, Any]) -> list[tuple[str, str, None]]:
        """Converse is authorized as InvokeModel on the model, or on the inference profile it names."""
        model = p.get("modelId", "")
        if regions.profile_geography(model) is not None:
            return [
                ("bedrock:InvokeModel", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{model}", None)
            ]
        return [("bedrock:InvokeModel", f"arn:aws:bedrock:{REGION}::foundation-model/{model}", None)]


# --- checking -----------------------------------------------------------------------------------------


def refused(recorder: CallRecorder, policies: dict[str, Policy]) -> dict[str, list[str]]:
    """Function → each recorded request its role does not allow (empty when every call is granted)."""
    found = {}
    for function, requests in recorder.requests.items():
        denied = sorted({str(r) for r in policies[function].denied(requests)})
        if denied:
            found[function] = denied
    return found


def drain_queue(url: str, handler: Any, function: str, recorder: CallRecorder, name: str) -> int:
    """Each batch of `url` through `handler` as Lambda's SQS event source hands it over (its own polling,
    receiving and deleting are the event source's, with the role, outside the recording)."""
    from chalicelib.local.lambda_runtime import lambda_context, to_lambda_record

    sqs, handled = aws.client("sqs"), 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        event = {"Records": [to_lambda_record(m, f"arn:aws:sqs:::{name}", "us-east-1") for m in messages]}
        with recorder.running(function):
            handler(event, lambda_context(name))
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)
    return handled
