"""One job's organization sweep on Step Functions: list the targets, sweep each, digest them all.

```
ListTargets (Lambda: targets function)  ->  organization/<job>/<run>/targets.json
SweepTargets (Distributed Map over targets.json, MaxConcurrency from the stack)
  └ SweepTarget (Lambda: the job's function, one Target Sweep event)
      retry: Lambda's transient errors, throttling, the function's transient AWS errors
      catch States.ALL -> ExplainFailure (Choice: the function's errorMessage, or Error: Cause,
        or Error) -> Describe* (Pass: a "failed" TargetResult) -> RecordFailure (s3:putObject
        <prefix>results/<account>-<region>.json)
Digest (Lambda: digest function, given ListTargets' answer)
```

What each field rests on (Amazon States Language specification, states-language.net, and the
Step Functions Developer Guide, "the guide"):

- Task `Resource` as a function ARN with `Parameters` as the payload (CDK LambdaInvoke with
  payload_response_only): the guide, "Invoke an AWS Lambda function with Step Functions"; the
  task's result is the function's answer only.
- `TimeoutSeconds` (ASL "Task State"): without it a Task may run 99999999 s. Each Lambda task
  gets Lambda's own maximum (900 s), so only a stuck invocation reaches it, as States.Timeout.
- `Retry` with `IntervalSeconds`, `BackoffRate`, `MaxAttempts`, `MaxDelaySeconds` and
  `JitterStrategy` FULL (ASL "Retrying after error"; the guide, "Handling errors in Step
  Functions workflows"). Lambda's transient service errors are named `Lambda.<Exception>`
  (the guide, "Handle Lambda service exceptions": ClientExecutionTimeoutException,
  ServiceException, AWSLambdaException, SdkClientException; throttling is
  Lambda.TooManyRequestsException; an unhandled error in the function, a timeout or running
  out of memory, is Lambda.Unknown and is not retried). An exception the function raises
  reaches Step Functions named by the runtime's `errorType` (the exception's class name,
  Lambda Developer Guide "AWS Lambda function errors in Python"): the functions raise
  transient AWS errors as they are (ami_hygiene.core.errors.is_transient), so their names are
  retried too.
- `Catch` with `ErrorEquals: ["States.ALL"]` and `ResultPath: "$.failure"` (ASL "Fallback
  states": the error output is an object with `Error` and `Cause`, placed at ResultPath).
- Map `ItemProcessor.ProcessorConfig` `{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}`
  (the guide, "Using Map state in Distributed mode"): each target is a child workflow
  execution; Express children end after 5 minutes, and one target's Lambda may run 5 minutes
  and then be retried, so the children are Standard.
- `ItemReader` `arn:aws:states:::s3:getObject` with `ReaderConfig.InputType` JSON and
  `Parameters` `Bucket.$`/`Key.$` from ListTargets' answer (the guide, "ItemReader (Map)": a
  JSON array in an S3 object).
- `ItemSelector` (the guide, "ItemSelector (Map)"): builds each child's input from the Map
  state's input (`$`) and the item (`$$.Map.Item.Value`).
- `MaxConcurrency` (the guide: at most this many child executions at once; the Distributed Map
  allows up to 10,000), `ToleratedFailurePercentage` 100 (the guide, "Tolerated failure
  threshold for Distributed Map state": the Map Run fails only past the threshold, so 100
  never fails it), `Label` (the Map Run's name).
- `ResultPath: null` on the Map (ASL "ResultPath": the state's input becomes its output, so
  the Digest gets ListTargets' answer) and `OutputPath: null` on each child's last state (ASL
  "OutputPath": the output is `{}`), so the children's results never grow the state: they are
  in S3.
- `arn:aws:states:::aws-sdk:s3:putObject` with `Body.$: States.JsonToString($.record)` and
  `Key.$: States.Format(...)` (the guide, "AWS SDK service integrations" and "Intrinsic
  functions"; S3 API reference PutObject: Bucket, Key, Body, ContentType).

The role: the guide, "IAM policies for using Distributed Map states": states:StartExecution on
the state machine itself, states:DescribeExecution and states:StopExecution on its executions
(CDK adds these for a DistributedMap, with states:RedriveExecution on its Map Runs); read access
to the ItemReader's object, narrowed to the targets files; lambda:InvokeFunction on the three
functions; s3:PutObject for the failure records; the report key for both (the bucket is
SSE-KMS: GetObject needs kms:Decrypt, PutObject kms:GenerateDataKey, S3 User Guide
"Using server-side encryption with AWS KMS keys"); log delivery and X-Ray.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnElement, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IConstruct

from ami_hygiene.core.errors import TRANSIENT_CODES, TRANSIENT_TYPES
from ami_hygiene.organization.events import DETAIL_TYPE, PREFIX_ROOT, RESULTS, SOURCE, TARGETS_FILE

from .nag import acknowledge

LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# Lambda's maximum function timeout: a Lambda task that runs longer is stuck (States.Timeout).
LAMBDA_TASK_TIMEOUT = Duration.minutes(15)

# The guide, "Handle Lambda service exceptions", and Lambda.TooManyRequestsException (throttled).
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# What a function's transient AWS trouble is called when it raises it: botocore's ClientError,
# a modeled exception class named after its error code, or a connection error class.
FUNCTION_TRANSIENT_ERRORS = tuple(
    sorted({"ClientError", *TRANSIENT_CODES, *(t.__name__ for t in TRANSIENT_TYPES)})
)

# A function's transient AWS errors: (first wait, attempts after the first). A target's sweep
# runs up to 5 minutes and its clients already retry adaptively, so it is tried twice more; the
# hub's own functions are short.
SWEEP_RETRY = (Duration.seconds(10), 2)
HUB_FUNCTION_RETRY = (Duration.seconds(5), 3)

# Where the hub's files are (ami_hygiene.organization.events): targets.json and the results.
TARGETS_OBJECTS = f"{PREFIX_ROOT}/*/{TARGETS_FILE}"
RESULT_OBJECTS = f"{PREFIX_ROOT}/*/{RESULTS}/*"
# The failure record's key: <prefix>results/<account>-<region>.json (organization.events.result_key).
RESULT_KEY_FORMAT = "{}" + RESULTS + "/{}-{}.json"


class SweepMachine(Construct):
    """The state machine that sweeps one job over the organization (see the module's docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job: str,
        targets: lambda_.IFunction,
        sweep: lambda_.IFunction,
        digest: lambda_.IFunction,
        bucket: s3.IBucket,
        max_concurrency: int | float,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job = job

        list_targets = _lambda_task(
            self,
            "ListTargets",
            targets,
            comment="Writes organization/<job>/<run>/targets.json: the accounts by Regions to sweep",
            transient=HUB_FUNCTION_RETRY,
            payload=sfn.TaskInput.from_object(
                {"job": job, "run": sfn.JsonPath.string_at("$$.Execution.Name")}
            ),
        )

        sweep_target = _lambda_task(
            self,
            "SweepTarget",
            sweep,
            comment="The job's function sweeps one account in one region and writes its result",
            transient=SWEEP_RETRY,
            output_path=sfn.JsonPath.DISCARD,
        )
        record_failure = tasks.CallAwsService(
            self,
            "RecordFailure",
            comment="Writes the failed target's result where the digest reads every target's",
            service="s3",
            action="putObject",
            iam_action="s3:PutObject",
            iam_resources=[bucket.arn_for_objects(RESULT_OBJECTS)],
            parameters={
                "Bucket": sfn.JsonPath.string_at("$.bucket"),
                "Key": sfn.JsonPath.format(
                    RESULT_KEY_FORMAT,
                    sfn.JsonPath.string_at("$.prefix"),
                    sfn.JsonPath.string_at("$.account"),
                    sfn.JsonPath.string_at("$.region"),
                ),
                "ContentType": "application/json",
                "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.record")),
            },
            output_path=sfn.JsonPath.DISCARD,
        )
        # PutObject of the same key is idempotent: any error is worth a few tries.
        record_failure.add_retry(
            errors=[sfn.Errors.ALL],
            interval=Duration.seconds(1),
            backoff_rate=2,
            max_attempts=3,
            jitter_strategy=sfn.JitterType.FULL,
        )
        sweep_target.add_catch(
            self._explain_failure(record_failure), errors=[sfn.Errors.ALL], result_path="$.failure"
        )

        self.map = sfn.DistributedMap(
            self,
            "SweepTargets",
            comment="One child execution per account and region; a failed target never fails the others",
            item_reader=sfn.S3JsonItemReader(
                bucket_name_path=sfn.JsonPath.string_at("$.bucket"),
                key=sfn.JsonPath.string_at("$.key"),
            ),
            item_selector={
                "source": SOURCE,
                "detail-type": DETAIL_TYPE,
                "job": job,
                "account": sfn.JsonPath.string_at("$$.Map.Item.Value.account"),
                "region": sfn.JsonPath.string_at("$$.Map.Item.Value.region"),
                "run": sfn.JsonPath.string_at("$.run"),
                "bucket": sfn.JsonPath.string_at("$.bucket"),
                "prefix": sfn.JsonPath.string_at("$.prefix"),
            },
            max_concurrency=max_concurrency,
            tolerated_failure_percentage=100,
            map_execution_type=sfn.StateMachineType.STANDARD,
            label=job,
            result_path=sfn.JsonPath.DISCARD,
        )
        self.map.item_processor(sweep_target)

        digest_task = _lambda_task(
            self,
            "Digest",
            digest,
            comment="Reads every target's result, publishes the organization's digest, writes digest.json",
            transient=HUB_FUNCTION_RETRY,
        )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # Step Functions' guide ("Logging to CloudWatch Logs") recommends the /aws/vendedlogs/
            # prefix, which keeps CloudWatch Logs' resource policy small.
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-{job}-sweep",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment=f"ami-hygiene {job}: sweeps every target account and region of the organization",
            definition_body=sfn.DefinitionBody.from_chainable(list_targets.next(self.map).next(digest_task)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            # Every event, without the states' input and output: those are in the report bucket.
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        self.role = self.state_machine.role
        # The state machine waits for its role's policy. CDK also makes it wait for the role, which
        # its RoleArn GetAtt already implies (cfn-lint W3005).
        policy = self.role.node.try_find_child("DefaultPolicy")
        if isinstance(policy, iam.Policy):
            machine = cast(sfn.CfnStateMachine, self.state_machine.node.default_child)
            machine.add_override("DependsOn", [_logical_id(policy)])
        self._grant_files(bucket)
        self._acknowledge(bucket, (targets, sweep, digest))

    def _explain_failure(self, record: sfn.IChainable) -> sfn.Choice:
        """The caught error as one line for the digest, then `record`.

        The error output has `Error` and, usually, `Cause` (ASL "Error names"; the guide,
        "Handling errors"). When the function raised, Cause is the function's error object as
        JSON (`errorMessage`, `errorType`, `stackTrace`: Lambda Developer Guide, "AWS Lambda
        function errors in Python"); its errorMessage is what a person needs, not the stack trace.
        """
        cause, detail = "$.failure.Cause", "$.cause.detail.errorMessage"
        function_error = self._describe("DescribeFunctionError", sfn.JsonPath.string_at(detail)).next(record)
        failure = self._describe("DescribeFailure", sfn.JsonPath.string_at(cause)).next(record)
        error_only = self._describe("DescribeError", None).next(record)
        read_cause = sfn.Pass(
            self,
            "ReadFunctionError",
            comment="The function's error object, from the JSON text in Cause",
            parameters={"detail": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at(cause))},
            result_path="$.cause",
        ).next(
            sfn.Choice(self, "HasErrorMessage")
            .when(
                sfn.Condition.and_(sfn.Condition.is_present(detail), sfn.Condition.is_string(detail)),
                function_error,
            )
            .otherwise(failure)
        )
        return (
            sfn.Choice(self, "ExplainFailure", comment="Which kind of error the target's sweep ended with")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(cause), sfn.Condition.string_matches(cause, "{*}")
                ),
                read_cause,
            )
            .when(sfn.Condition.is_present(cause), failure)
            .otherwise(error_only)
        )

    def _describe(self, name: str, message: str | None) -> sfn.Pass:
        """A Pass state putting the failed result at $.record, as core/fleet.py TargetResult.to_dict()."""
        error = sfn.JsonPath.string_at("$.failure.Error")
        return sfn.Pass(
            self,
            name,
            parameters={
                "account": sfn.JsonPath.string_at("$.account"),
                "region": sfn.JsonPath.string_at("$.region"),
                "status": "failed",
                "summary": {},
                "severity": "error",
                "gib_reclaimed": 0,
                "errors": [],
                "error": error if message is None else sfn.JsonPath.format("{}: {}", error, message),
                "report": "",
                "headline": "",
            },
            result_path="$.record",
        )

    def _grant_files(self, bucket: s3.IBucket) -> None:
        """Read the targets files (the ItemReader); RecordFailure brings its own s3:PutObject grant."""
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadTargets",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(TARGETS_OBJECTS)],
            )
        )
        key = bucket.encryption_key
        if key is not None:
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    sid="UseReportKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn],
                )
            )

    def _acknowledge(self, bucket: s3.IBucket, functions: tuple[lambda_.IFunction, ...]) -> None:
        findings = [
            "AwsSolutions-IAM5[Resource::*]",
            f"AwsSolutions-IAM5[Resource::<{_arn_of(bucket)}>/{TARGETS_OBJECTS}]",
            f"AwsSolutions-IAM5[Resource::<{_arn_of(bucket)}>/{RESULT_OBJECTS}]",
            *(f"AwsSolutions-IAM5[Resource::<{_arn_of(f)}>:*]" for f in functions),
        ]
        acknowledge(
            self.role,
            findings,
            "X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSamplingRules, "
            "xray:GetSamplingTargets) and CloudWatch Logs' log delivery actions have no resource-level "
            "permissions; CDK adds them for tracing and logging. Each run's files have its own prefix "
            f"(organization/<job>/<run>/): the role reads only the targets files ({TARGETS_OBJECTS}) and "
            f"writes only result files ({RESULT_OBJECTS}). lambda:InvokeFunction on <function>:* lets the "
            "tasks invoke the function's versions and aliases; CDK grants it with the function.",
        )
        # CDK's DistributedMapPolicy: the guide's policy for a Distributed Map (DescribeExecution and
        # StopExecution on this state machine's executions) and RedriveExecution on its Map Runs.
        name = f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{_logical_id(self.state_machine)}"}}]}}]}}'
        executions = f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}"
        acknowledge(
            self.state_machine,
            (
                f"AwsSolutions-IAM5[Resource::{executions}:*]",
                f"AwsSolutions-IAM5[Resource::{executions}/{self.job}:*]",
            ),
            "Step Functions Developer Guide, 'IAM policies for using Distributed Map states': the "
            "Distributed Map starts, describes and stops child executions of this state machine, whose "
            "names Step Functions makes at run time; redrive restarts the children of this Map Run label.",
        )


def _lambda_task(
    scope: Construct,
    name: str,
    function: lambda_.IFunction,
    *,
    comment: str,
    transient: tuple[Duration, int],
    payload: sfn.TaskInput | None = None,
    output_path: str | None = None,
) -> tasks.LambdaInvoke:
    """A Lambda task answering the function's payload only.

    Retried on Lambda's transient errors and a stuck invocation, then on the function's own
    transient AWS errors: `transient` is the first wait and the attempts after the first.
    """
    task = tasks.LambdaInvoke(
        scope,
        name,
        comment=comment,
        lambda_function=function,
        payload=payload,
        payload_response_only=True,
        retry_on_service_exceptions=False,  # our own Retry below, with jitter and throttling
        task_timeout=sfn.Timeout.duration(LAMBDA_TASK_TIMEOUT),
        output_path=output_path,
    )
    task.add_retry(
        errors=[*LAMBDA_SERVICE_ERRORS, sfn.Errors.TIMEOUT],
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=6,
        max_delay=Duration.minutes(1),
        jitter_strategy=sfn.JitterType.FULL,
    )
    interval, attempts = transient
    task.add_retry(
        errors=list(FUNCTION_TRANSIENT_ERRORS),
        interval=interval,
        backoff_rate=2,
        max_attempts=attempts,
        max_delay=Duration.minutes(2),
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def _logical_id(construct: IConstruct) -> str:
    return Stack.of(construct).get_logical_id(cast(CfnElement, construct.node.default_child))


def _arn_of(construct: IConstruct) -> str:
    """How cdk-nag prints a construct's Arn in a finding: `<LogicalId.Arn>`."""
    return f"{_logical_id(construct)}.Arn"
