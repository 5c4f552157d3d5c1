"""moto_server, made able to deploy the stack's synthesized CloudFormation template.

The local pipeline deploys the very template `cdk deploy` deploys (lib/app.ts) onto moto. Stock
moto 5.2.1 gets part of it wrong or never finishes; each patch below makes one thing behave as AWS
does, and nothing else. They touch moto internals, so the wrapper refuses other moto versions.

1. DynamoDB: moto evaluates a condition expression and applies the write in two steps without a
   lock, so two concurrent conditional writes can both succeed. The ledger's exactly-once guarantee
   rests on DynamoDB never allowing that: item operations are serialised behind one lock (other
   services keep their threads, so SQS long polls still overlap).
2. Lambda event source mappings are recorded (list/get return what the template set) but moto does
   not poll the queues itself: it would invoke the function in Docker. The local pipeline's own
   event-source emulation reads the recorded mappings and polls.
3. AWS::S3::Bucket: moto's CloudFormation model applies only name, encryption and tags; versioning,
   the public access block, ownership controls and lifecycle rules are applied here through moto's
   own S3 API. (Access logging is left out: moto would start writing log objects.)
4. Custom resources: CDK's two providers (S3 bucket notifications, auto-delete objects) would be
   invoked as Lambdas in Docker and the stack would never complete. They run here, natively, with
   the properties CloudFormation would send them (scalars as strings). Any other Custom:: type fails
   the stack loudly: nothing is skipped silently.
5. AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy are stored on the queue/topic (moto does not
   enforce them; neither does it evaluate IAM). AWS::S3::BucketPolicy stays unapplied on purpose:
   moto enforces Deny statements but ignores their conditions, so the TLS-only statement would deny
   every plain-http request.
6. Change sets (what `cdk deploy` uses): moto builds a stack's outputs when the stack is created,
   empty for a CREATE change set, and never again; they are rebuilt after a change set executes.
7. GetFunction's Code.Location is a URL of moto's own S3 where the deployment package lies (AWS
   returns a presigned URL), so the local runtime runs exactly the code that was deployed.
8. Ranged GetObject reads only the range: moto reads the whole object for every ranged GET and then
   slices it, so each 64 MB part of a 1 GB object cost a 1 GB read and parallel parts were slower
   than one stream. Here a single-range GET reads just its bytes from the object's buffer; the
   answer (status, headers, bytes) is what moto computed before.

Run as `python3 moto_server.py -H 127.0.0.1 -p PORT` (moto_server's own arguments).
"""
import functools
import json
import sys
import threading
from typing import Any

import moto

SUPPORTED_MOTO = ("5.2.1",)
if moto.__version__ not in SUPPORTED_MOTO:
    sys.stderr.write(
        f"local/moto_server.py patches moto internals and supports moto {', '.join(SUPPORTED_MOTO)}; "
        f'found {moto.__version__}. Install it with: pip install "moto[server]=={SUPPORTED_MOTO[-1]}"\n'
    )
    sys.exit(3)

import boto3  # noqa: E402
from moto.awslambda.models import LambdaBackend, LambdaFunction  # noqa: E402
from moto.cloudformation import cloudformation_backends  # noqa: E402
from moto.cloudformation.custom_model import CustomModel  # noqa: E402
from moto.cloudformation.models import CloudFormationBackend  # noqa: E402
from moto.core.common_models import CloudFormationModel  # noqa: E402
from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.moto_api._internal import mock_random  # noqa: E402
from moto.s3.models import FakeBucket, FakeKey  # noqa: E402
from moto.s3.responses import S3Response  # noqa: E402
from moto.sqs.models import sqs_backends  # noqa: E402

_argv = sys.argv[1:]
_port = _argv[_argv.index("-p") + 1] if "-p" in _argv else "5000"
SELF = f"http://127.0.0.1:{_port}"


def _client(service: str, region: str):
    """A client of this very server (CloudFormation handlers run on a request thread of it)."""
    return boto3.client(
        service,
        endpoint_url=SELF,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


# 1. Atomic DynamoDB item operations -----------------------------------------------------------
_dynamo_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _dynamo_lock:
            return method(self, *args, **kwargs)

    return wrapper


for _name in ("get_item", "put_item", "update_item", "delete_item", "transact_write_items", "query"):
    setattr(DynamoDBBackend, _name, _serialised(getattr(DynamoDBBackend, _name)))


# 2. Event source mappings: recorded, not polled ------------------------------------------------
_create_mapping = LambdaBackend.create_event_source_mapping


def _record_mapping(self, spec):
    mapping = _create_mapping(self, spec)
    # moto registers the mapping on the queue, whose sends then invoke the function; undo that.
    for queue in sqs_backends[self.account_id][self.region_name].queues.values():
        queue.lambda_event_source_mappings.clear()
    return mapping


LambdaBackend.create_event_source_mapping = _record_mapping


# 3. Bucket properties moto's CloudFormation model ignores -------------------------------------
def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's LifecycleConfiguration rule → the S3 API's."""
    out: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"].get("NoncurrentDays")
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return out


_create_bucket = FakeBucket.create_from_cloudformation_json.__func__


def _bucket_with_properties(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    bucket = _create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    props = cloudformation_json.get("Properties", {})
    s3 = _client("s3", region_name)
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration=props["VersioningConfiguration"])
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=bucket.name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=bucket.name, OwnershipControls=props["OwnershipControls"])
    if "LifecycleConfiguration" in props:
        rules = [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket.name, LifecycleConfiguration={"Rules": rules})
    return bucket


FakeBucket.create_from_cloudformation_json = classmethod(_bucket_with_properties)


# 4. CDK's custom resources, run natively -------------------------------------------------------
def _as_cloudformation_sends(value: Any) -> Any:
    """CloudFormation hands a custom resource every scalar property as a string."""
    if isinstance(value, dict):
        return {k: _as_cloudformation_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_cloudformation_sends(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _bucket_notifications(request_type: str, props: dict[str, Any], region: str) -> dict[str, Any]:
    if props.get("Managed", "true").lower() != "true":
        raise NotImplementedError("Custom::S3BucketNotifications for an unmanaged (imported) bucket")
    config = {} if request_type == "Delete" else props.get("NotificationConfiguration", {})
    _client("s3", region).put_bucket_notification_configuration(
        Bucket=props["BucketName"], NotificationConfiguration=config
    )
    return {}


def _auto_delete_objects(request_type: str, props: dict[str, Any], region: str) -> dict[str, Any]:
    if request_type != "Delete":
        return {}
    s3 = _client("s3", region)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=props["BucketName"]):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            s3.delete_objects(Bucket=props["BucketName"], Delete={"Objects": doomed})
    return {}


PROVIDERS = {
    "Custom::S3BucketNotifications": _bucket_notifications,
    "Custom::S3AutoDeleteObjects": _auto_delete_objects,
}


def _run_custom_resource(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    resource_type = kwargs["ResourceType"]
    provider = PROVIDERS.get(resource_type)
    if provider is None:
        raise NotImplementedError(
            f"local/moto_server.py has no provider for {resource_type} ({kwargs['LogicalId']}): "
            "add one there, or the local stack cannot be what AWS would deploy"
        )
    resource = CustomModel(region_name, str(mock_random.uuid4()), kwargs["LogicalId"], resource_name)
    stack = cloudformation_backends[account_id][region_name].get_stack(kwargs["StackId"])
    stack.add_custom_resource(resource)
    properties = _as_cloudformation_sends(cloudformation_json["Properties"])
    resource.set_data(provider("Create", properties, region_name))
    return resource


CustomModel.create_from_cloudformation_json = classmethod(_run_custom_resource)


# 5. Queue and topic policies, stored -----------------------------------------------------------
class _QueuePolicy(CloudFormationModel):
    # moto's model registry keys models by their module's `moto.<service>` prefix.
    __module__ = "moto.sqs.vendor_ingest"

    def __init__(self, name: str):
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        sqs = _client("sqs", region_name)
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return cls(resource_name)


class _TopicPolicy(_QueuePolicy, CloudFormationModel):
    # A direct subclass too: moto's registry lists CloudFormationModel.__subclasses__() only.
    __module__ = "moto.sns.vendor_ingest"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        sns = _client("sns", region_name)
        for arn in props["Topics"]:
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return cls(resource_name)


# 6. Outputs after a change set -----------------------------------------------------------------
_execute_change_set = CloudFormationBackend.execute_change_set


def _execute_change_set_with_outputs(self, change_set_name, stack_name=None):
    result = _execute_change_set(self, change_set_name, stack_name)
    for stack in self.stacks.values():
        if stack.template and not stack.status.endswith("IN_PROGRESS"):
            stack._parse_template()
            stack.output_map = stack._create_output_map()
    return result


CloudFormationBackend.execute_change_set = _execute_change_set_with_outputs


# 7. A downloadable code location ---------------------------------------------------------------
_get_code = LambdaFunction.get_code


def _get_code_from_own_s3(self):
    response = _get_code(self)
    if "S3Bucket" in self.code and "S3Key" in self.code:
        response["Code"] = {
            "RepositoryType": "S3",
            "Location": f"{SELF}/{self.code['S3Bucket']}/{self.code['S3Key']}",
        }
    return response


LambdaFunction.get_code = _get_code_from_own_s3


# 8. Ranged GETs read only their range -----------------------------------------------------------
_ranged = threading.local()


class _Window:
    """A key's bytes, read on demand: len() is the size, a slice reads only its own bytes."""

    def __init__(self, key: FakeKey):
        self.key = key

    def __len__(self) -> int:
        return self.key.size

    def __bool__(self) -> bool:
        return self.key.size > 0

    def __getitem__(self, item: slice) -> bytes:
        start, stop, _ = item.indices(self.key.size)
        with self.key.lock:
            self.key._value_buffer.seek(start)
            return self.key._value_buffer.read(max(0, stop - start))

    def __bytes__(self) -> bytes:
        return self[:]


_value = FakeKey.value


def _value_or_window(self):
    return _Window(self) if getattr(_ranged, "on", False) else _value.fget(self)


FakeKey.value = property(_value_or_window, _value.fset)
_key_response = S3Response.key_response


def _key_response_reading_ranges(self, request, full_url, headers):
    spec = request.headers.get("range", "")
    # One range (`bytes=a-b`, `bytes=a-`, `bytes=-n`): moto slices the body once, through a window.
    _ranged.on = request.method == "GET" and spec.startswith("bytes=") and "," not in spec
    try:
        status, response_headers, body = _key_response(self, request, full_url, headers)
    finally:
        _ranged.on = False
    if isinstance(body, _Window):
        body = bytes(body)
    return status, response_headers, body


S3Response.key_response = _key_response_reading_ranges

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
