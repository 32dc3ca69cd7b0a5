"""Stratoflow's data: the one DynamoDB table, the code and results buckets, and their access logs.

The table layout (pk/sk, gsi1..gsi5, `expires_at` TTL, a NEW_AND_OLD_IMAGES stream) is the
store's contract; the settings here are the security and durability ones: on-demand billing,
point-in-time recovery, encryption at rest, deletion protection. Buckets block public access,
refuse plain HTTP and log access to a dedicated log bucket.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stratoflow_infra.nag import acknowledge

GSI_COUNT = 5
TTL_ATTRIBUTE = "expires_at"


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Data(Construct):
    """The table and the buckets.

    Attributes:
        table: the one DynamoDB table.
        code_bucket: flow code bundles uploaded by `stratoflow deploy` (versioned).
        results_bucket: persisted task and flow results (expire with the runs).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
        run_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = self._table(removal_policy, deletion_protection)
        self.access_logs = self._access_log_bucket(removal_policy)
        self.code_bucket = self._bucket("CodeBucket", removal_policy, versioned=True)
        self.results_bucket = self._bucket("ResultsBucket", removal_policy, versioned=False)
        self.results_bucket.add_lifecycle_rule(
            id="expire-results", expiration=Duration.days(run_retention_days)
        )
        self.code_bucket.add_lifecycle_rule(
            id="expire-old-code-versions", noncurrent_version_expiration=Duration.days(90)
        )

    def _table(self, removal_policy: RemovalPolicy, deletion_protection: bool) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string_key("pk"),
            sort_key=_string_key("sk"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=deletion_protection,
            time_to_live_attribute=TTL_ATTRIBUTE,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=removal_policy,
        )
        for n in range(1, GSI_COUNT + 1):
            table.add_global_secondary_index(
                index_name=f"gsi{n}",
                partition_key=_string_key(f"gsi{n}pk"),
                sort_key=_string_key(f"gsi{n}sk"),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _access_log_bucket(self, removal_policy: RemovalPolicy) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=Duration.days(365))],
            removal_policy=removal_policy,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This is the server-access-log target of the other buckets; logging its own "
            "access would recurse.",
        )
        return bucket

    def _bucket(
        self, construct_id: str, removal_policy: RemovalPolicy, *, versioned: bool
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=versioned,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{construct_id}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
        )


__all__ = ["GSI_COUNT", "TTL_ATTRIBUTE", "Data"]
