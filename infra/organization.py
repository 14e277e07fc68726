"""AmiHygieneOrganizationStack: one deployment for every account and region of an organization.

Deployed in the organization's management account (CallAs SELF) or in a StackSets
delegated administrator account (CallAs DELEGATED_ADMIN). What it holds:

- The parameters: the single-account stack's, with the same names and meanings (but for
  infra/parameters.py HUB_OMITTED, with the reason), and the organization's own.
- The job functions, one per registered job, as in the single-account stack but in hub mode
  (MEMBER_ROLE_NAME set): their roles may do nothing in the hub's account but report and
  hold their leases, and may assume only the member role, only in the organization's accounts.
- The targets function (lists the active accounts under the OUs) and the digest function.
- One state machine per job (infra/sweep_machine.py), started by the job's schedule.
- The organization's event bus (infra/hub_bus.py), with the jobs' rules routing to the job
  functions.
- Two service-managed StackSets with auto-deployment over the OUs, less the excluded
  accounts: the member template's roles (infra/member.py, in the hub's region) and the
  forwarding rules (every region of Regions).

Service-managed StackSets never deploy to the organization's management account
(CloudFormation API reference, DeploymentTargets), so the management account gets no member
role and is not swept; the stack's description and outputs say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Fn, Stack, Token
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from ami_hygiene.core.coverage import REALTIME_REGIONS
from ami_hygiene.core.members import READS as MEMBERS_READS
from ami_hygiene.core.publisher import REPORT_PREFIX
from ami_hygiene.organization.events import PREFIX_ROOT
from ami_hygiene.registry import JOBS

from .forwarding import OWN_ROLE_ARNS as FORWARDING_OWN_ROLE_ARNS
from .forwarding import SKIP_REGION, TARGET_BUS_ARN
from .hub_bus import OrganizationBus
from .job_function import JOB_MEMORY_MB, JobFunction, JobPermissions
from .lease_table import LEASE_ACTIONS, LeaseTable
from .member import (
    AUTOMATION_ROLE_NAME,
    HUB_BUS_ARN,
    MEMBER_ROLE_NAME,
    hub_role_parameter,
    member_forwarding_template,
    member_template_body,
    template_body,
)
from .nag import acknowledge
from .packaging import function_code
from .parameters import HUB, MEMBER_PARAMETERS, StackParameters
from .reporting import REPORT_EXPIRY, Reporting
from .stack import JOB_TIMEOUT
from .sweep_machine import SweepMachine
from .triggers import MAX_EVENT_AGE, RETRY_ATTEMPTS

ORGANIZATION_STACK_NAME = "AmiHygieneOrganization"
TARGETS_HANDLER = "ami_hygiene.handlers.organization_targets.handler"
DIGEST_HANDLER = "ami_hygiene.handlers.organization_digest.handler"
# Where the hub's runs keep their files in the report bucket: organization/<job>/<run>/...
ORGANIZATION_OBJECTS = f"{PREFIX_ROOT}/*"
# What the targets function calls: declared beside the calls (core/members.py READS).
TARGETS_READS = MEMBERS_READS
# The targets function reads the Organizations tree (seconds); the digest reads one small
# result object per target (2,000 targets in well under a minute) and publishes once.
TARGETS_TIMEOUT, TARGETS_MEMORY_MB = Duration.minutes(5), 512
DIGEST_TIMEOUT, DIGEST_MEMORY_MB = Duration.minutes(10), 1024
# StackSet operations: every region at once, every account at once; an account whose stack
# instance fails (an SCP, a quota) does not stop the others, up to a tenth of them
# (AWS::CloudFormation::StackSet OperationPreferences; SOFT_FAILURE_TOLERANCE keeps the
# concurrency from being lowered to the failure tolerance).
FAILURE_TOLERANCE_PERCENT = 10
MANAGEMENT_ACCOUNT_NOTE = (
    "Service-managed StackSets never deploy to the organization's management account: it gets no "
    "member role and its images are not swept."
)

NAG_MEMBER_ROLES = "arn:<AWS::Partition>:iam::*:role/<MemberRoleName>"
MEMBER_ROLE_REASON = (
    "The member accounts are only known at run time (the active accounts under the OUs, and the "
    "accounts that join them later); only the one role name given in MemberRoleName can be assumed, "
    "only in accounts of the organization (aws:ResourceOrgID), and that role trusts only the hub's job "
    "roles."
)


def automation_role_arn() -> str:
    """The rebuild runbooks' role in a member account, `{account}` replaced at run time."""
    return f"arn:{Aws.PARTITION}:iam::{{account}}:role/{AUTOMATION_ROLE_NAME}"


def member_role_permissions(parameters: StackParameters) -> JobPermissions:
    """A hub job role's only permission beyond reporting: assume the member role in the organization.

    aws:ResourceOrgID is the organization of the account that owns the resource, here the
    role to assume (IAM User Guide, "AWS global condition context keys": available when the
    resource's account is in an organization), so no role of that name outside the
    organization can be assumed.
    """
    return JobPermissions(
        reads=[
            iam.PolicyStatement(
                sid="AssumeTheMemberRoleInTheOrganization",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{Aws.PARTITION}:iam::*:role/{parameters.value(MEMBER_ROLE_NAME)}"],
                conditions={"StringEquals": {"aws:ResourceOrgID": parameters.value("OrganizationId")}},
            )
        ],
        read_wildcards={f"AwsSolutions-IAM5[Resource::{NAG_MEMBER_ROLES}]": MEMBER_ROLE_REASON},
    )


def targets_permissions() -> JobPermissions:
    return JobPermissions(
        reads=[
            iam.PolicyStatement(
                sid="ListTheOrganizationsAccounts", actions=list(TARGETS_READS), resources=["*"]
            )
        ],
        read_wildcards={
            "AwsSolutions-IAM5[Resource::*]": (
                "Organizations ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent are "
                "read-only lists of the organization's accounts and OUs; the OUs below the targets are "
                "found at run time, so their ARNs cannot be named."
            )
        },
    )


def lease_statement(leases: LeaseTable, job: str) -> iam.PolicyStatement:
    """Take and give back the leases of this job's targets (`<job>:<account>:<region>`), no other."""
    return iam.PolicyStatement(
        sid="HoldOnlyThisJobsTargetLeases",
        actions=list(LEASE_ACTIONS),
        resources=[leases.table.table_arn],
        conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{job}:*"]}},
    )


class AmiHygieneOrganizationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.template_options.description = (
            "ami-hygiene organization hub: sweeps every account and region under the target OUs on Step "
            "Functions, guards them in real time through the organization's event bus, and sends one "
            "digest per run. Member accounts get their roles and forwarding rules from service-managed "
            f"StackSets. {MANAGEMENT_ACCOUNT_NOTE}"
        )
        self.parameters = params = StackParameters(self, "Parameters", HUB)
        self.reporting = Reporting(self, "Reporting", parameters=params)
        # The runs' files (targets, per-target results and reports, digests) expire like the reports.
        self.reporting.bucket.add_lifecycle_rule(
            id="ExpireOrganizationRuns",
            prefix=f"{PREFIX_ROOT}/",
            expiration=REPORT_EXPIRY,
            abort_incomplete_multipart_upload_after=Duration.days(1),
        )
        self.leases = LeaseTable(self, "SweepLeases")
        code = function_code()
        regions = Fn.join(",", params.regions())

        self.functions: dict[str, JobFunction] = {}
        for spec in JOBS:
            environment = dict(params.function_environment(spec.name))
            if spec.name == "rebuild":
                environment["AUTOMATION_ROLE_ARN"] = automation_role_arn()
            if spec.realtime:
                # Every region of Regions forwards its events to the bus: all of them are covered.
                environment[REALTIME_REGIONS] = regions
            self.functions[spec.name] = JobFunction(
                self,
                spec.construct_id,
                job=spec.name,
                handler=spec.handler,
                code=code,
                environment=environment,
                reporting=self.reporting,
                permissions=member_role_permissions(params),
                timeout=JOB_TIMEOUT,
                memory_size=JOB_MEMORY_MB,
                description=f"ami-hygiene {spec.name} (organization hub): {spec.summary}"[:256],
                lease=self.leases,
                lease_statement=lease_statement(self.leases, spec.name),
                report_prefixes=(f"{REPORT_PREFIX}/{spec.name}/*", f"{PREFIX_ROOT}/{spec.name}/*"),
            )

        self.targets = JobFunction(
            self,
            "Targets",
            job="targets",
            handler=TARGETS_HANDLER,
            code=code,
            environment={
                "ORGANIZATIONAL_UNIT_IDS": params.value("OrganizationalUnitIds"),
                "EXCLUDED_ACCOUNTS": params.value("ExcludedAccounts"),
                "REGIONS": params.value("Regions"),
            },
            reporting=self.reporting,
            permissions=targets_permissions(),
            timeout=TARGETS_TIMEOUT,
            memory_size=TARGETS_MEMORY_MB,
            description="ami-hygiene organization hub: a sweep's targets, the active accounts x Regions",
            report_prefixes=(ORGANIZATION_OBJECTS,),
        )
        self.digest = JobFunction(
            self,
            "Digest",
            job="digest",
            handler=DIGEST_HANDLER,
            code=code,
            environment={"NOTIFY_ALL_CLEAN": params.value("NotifyAllClean")},
            reporting=self.reporting,
            permissions=JobPermissions(reads=()),
            timeout=DIGEST_TIMEOUT,
            memory_size=DIGEST_MEMORY_MB,
            description="ami-hygiene organization hub: one digest of a sweep's targets, on the report topic",
            # digest.json beside the run's files; a digest too long for one message under reports/.
            report_prefixes=(ORGANIZATION_OBJECTS, f"{REPORT_PREFIX}/*"),
            report_reads=(ORGANIZATION_OBJECTS,),
        )

        # Real time: the members' events on the organization's bus, to the job functions.
        self.bus = OrganizationBus(self, "OrganizationBus", organization_id=params.value("OrganizationId"))
        for spec in JOBS:
            self.bus.route(spec.events, self.functions[spec.name])

        # Sweeps: one state machine per job, started by the job's schedule.
        self.machines: dict[str, SweepMachine] = {}
        for spec in JOBS:
            function = self.functions[spec.name]
            machine = SweepMachine(
                self,
                f"{spec.construct_id}Sweep",
                job=spec.name,
                targets=self.targets.function,
                sweep=function.function,
                digest=self.digest.function,
                bucket=self.reporting.bucket,
                max_concurrency=params.number("MaxConcurrentTargets"),
            )
            events.Rule(
                machine,
                "Schedule",
                description=f"ami-hygiene: sweeps the organization with the {spec.name} job",
                schedule=events.Schedule.expression(params.value(spec.schedule_parameter)),
                targets=[
                    targets.SfnStateMachine(
                        machine.state_machine,
                        dead_letter_queue=function.failed,
                        retry_attempts=RETRY_ATTEMPTS,
                        max_event_age=MAX_EVENT_AGE,
                    )
                ],
            )
            # A crashed targets or digest function, or an unreadable targets file, fails the execution
            # and tells nobody else: the topic hears of it (ExecutionsFailed, AWS/States).
            self.reporting.alarm_on(
                machine,
                "Failed",
                description=f"ami-hygiene organization {spec.name}: a sweep's execution failed "
                "(see the state machine's execution history)",
                metric=machine.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            )
            self.machines[spec.name] = machine

        # The member accounts: roles (the hub's region), forwarding rules (every region of Regions).
        self.member_stack_set = self._stack_set(
            "MemberStackSet",
            name_suffix="Member",
            description="ami-hygiene member roles: the role the hub's jobs assume, the rebuild runbooks' "
            "role, the event forwarder role, the Recycle Bin rules",
            body=member_template_body(),
            parameters={
                **{name: params.value(name) for name in MEMBER_PARAMETERS if name != "Regions"},
                "Regions": regions,
                **{hub_role_parameter(name): job.role.role_arn for name, job in self.functions.items()},
                HUB_BUS_ARN: self.bus.bus.event_bus_arn,
            },
            regions=[Aws.REGION],
            capabilities=["CAPABILITY_NAMED_IAM"],
        )
        self.forwarding_stack_set = self._stack_set(
            "ForwardingStackSet",
            name_suffix="Forwarding",
            description="ami-hygiene forwarding rules: the jobs' events of every region in Regions to the "
            "hub's event bus",
            body=template_body(member_forwarding_template(), "forwarding"),
            parameters={
                TARGET_BUS_ARN: self.bus.bus.event_bus_arn,
                MEMBER_ROLE_NAME: params.value(MEMBER_ROLE_NAME),
                FORWARDING_OWN_ROLE_ARNS: "",
                SKIP_REGION: "",
            },
            regions=params.regions(),
            capabilities=[],
        )
        # The forwarding rules use the member stack's forwarder role: create the roles first.
        self.forwarding_stack_set.add_resource_dependency(self.member_stack_set)

        self.reporting.dashboard([spec.view for spec in JOBS])
        self._outputs()

    def _stack_set(
        self,
        construct_id: str,
        *,
        name_suffix: str,
        description: str,
        body: str,
        parameters: Mapping[str, str],
        regions: Sequence[str],
        capabilities: Sequence[str],
    ) -> cloudformation.CfnStackSet:
        """A service-managed StackSet over the OUs, less ExcludedAccounts, deploying to new accounts too.

        DeploymentTargets (CloudFormation API reference): OrganizationalUnitIds with
        AccountFilterType DIFFERENCE "performs stack operations on all accounts in the selected
        OUs except for specific accounts listed in the Accounts property"; NONE on all of them
        (without a filter type, UNION is the default). AutoDeployment: new accounts in the OUs
        get the stack, and an account that leaves them loses it (RetainStacksOnAccountRemoval
        false).
        """
        params = self.parameters
        excluded = params.has_excluded_accounts.logical_id
        stack_set = cloudformation.CfnStackSet(
            self,
            construct_id,
            stack_set_name=f"{Aws.STACK_NAME}-{name_suffix}",
            description=f"{description}. {MANAGEMENT_ACCOUNT_NOTE}",
            permission_model="SERVICE_MANAGED",
            call_as=params.value("CallAs"),
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=False
            ),
            managed_execution={"Active": True},
            capabilities=list(capabilities) or None,
            operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
                region_concurrency_type="PARALLEL",
                concurrency_mode="SOFT_FAILURE_TOLERANCE",
                max_concurrent_percentage=100,
                failure_tolerance_percentage=FAILURE_TOLERANCE_PERCENT,
            ),
            template_body=body,
            parameters=[
                cloudformation.CfnStackSet.ParameterProperty(parameter_key=key, parameter_value=value)
                for key, value in parameters.items()
            ],
            stack_instances_group=[
                cloudformation.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                        organizational_unit_ids=Fn.split(",", params.value("OrganizationalUnitIds")),
                        account_filter_type=Fn.condition_if(excluded, "DIFFERENCE", "NONE").to_string(),
                        accounts=Token.as_list(
                            Fn.condition_if(
                                excluded, Fn.split(",", params.value("ExcludedAccounts")), Aws.NO_VALUE
                            )
                        ),
                    ),
                    regions=list(regions),
                )
            ],
        )
        acknowledge(
            stack_set,
            ("CloudFormation-Validate::F3031",),
            "CDK's template validation evaluates Fn::Split of ExcludedAccounts and Regions with their "
            "default, empty, and finds an empty account id or region; an Fn::If uses the split only when "
            "the parameter is not empty (HasExcludedAccounts, RegionsEmpty), and the parameters' patterns "
            "admit only 12-digit ids and region names.",
        )
        return stack_set

    def _outputs(self) -> None:
        CfnOutput(
            self,
            "EventBusArn",
            value=self.bus.bus.event_bus_arn,
            description="The organization's event bus: the members' forwarding rules send events here",
        )
        for spec in JOBS:
            CfnOutput(
                self,
                f"{spec.construct_id}StateMachineArn",
                value=self.machines[spec.name].state_machine.state_machine_arn,
                description=f"The {spec.name} job's organization sweep: start an execution to sweep now",
            )
            CfnOutput(
                self,
                f"{spec.construct_id}Function",
                value=self.functions[spec.name].function.function_name,
                description=f"The {spec.name} job's hub function (one account x region per invocation)",
            )
        CfnOutput(
            self, "TopicArn", value=self.reporting.topic.topic_arn, description="Subscribe to the digests"
        )
        CfnOutput(
            self,
            "ReportBucket",
            value=self.reporting.bucket.bucket_name,
            description="Per-target reports and each run's digest, under organization/<job>/<run>/",
        )
        CfnOutput(
            self,
            "MemberRoleName",
            value=self.parameters.value(MEMBER_ROLE_NAME),
            description=f"The role the hub's jobs assume in every member account. {MANAGEMENT_ACCOUNT_NOTE}",
        )
        CfnOutput(
            self,
            "MemberStackSets",
            value=Fn.join(",", [self.member_stack_set.ref, self.forwarding_stack_set.ref]),
            description="The StackSets that give the member accounts their roles and forwarding rules",
        )
