"""What the tests share, in one place (tests/conftest.py registers the fixtures).

constants        ACCOUNT, REGION, NOW (and POLICY_NOW, REAL_NOW), the other accounts, SNS_LIMIT
builders         image, estate, decision: the model the policies read and the plans they make
reasons          Reason, has_reason: reason sentences matched on their key parts
events           the event fixtures (tests/fixtures/events), CloudTrail and Scheduled Events
hostile          hostile field values, and what a refusal of them must look like
strategies       hypothesis strategies for estates, settings and clocks (rotation properties)
fuzz_events      hypothesis strategies for events of every job, realistic and broken
fixtures         aws, endpoint, ec2, seeder, synth
sandbox          images, snapshots, tags, errors and published messages in the embedded AWS
faults           make one AWS operation fail as a denial or an outage does
lambda_context   the context the Lambda runtime passes a handler
cli              the command line in-process
cfn              what CloudFormation does with parameters, conditions and intrinsics
synthesized      the stack synthesized once per test process
template         a job's function, role and policies in the synthesized template
deployed         the stack's functions as the template deploys them, wired to the sandbox
"""
