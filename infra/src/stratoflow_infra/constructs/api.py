"""The HTTP API front door: two API Gateway HTTP APIs in front of the one API Lambda.

An HTTP API route has exactly one authorizer, and Stratoflow has two kinds of caller, so it
has two APIs with identical paths (the handler never sees which one a request came through,
only `requestContext.authorizer.lambda` or `.iam`):

* the *key API*: every route (`$default`) behind the API-key Lambda authorizer (cached by the
  `Authorization` header), for callers outside AWS;
* the *IAM API*: every route behind AWS_IAM (SigV4), for principals inside AWS.

`GET /health` and the dashboard's static files (`GET /ui`, `GET /ui/{proxy+}`) have no
authorizer on either. Both stages throttle and write JSON access logs.
With a custom domain the key API is mapped at `/` and the IAM API at `/iam`.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stratoflow_infra.constructs.props import CustomDomain
from stratoflow_infra.nag import acknowledge

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "caller": "$context.identity.caller",
    },
    separators=(",", ":"),
)
"""One JSON line per request; never the Authorization header or the body."""


class Api(Construct):
    """The two HTTP APIs and their stages.

    Attributes:
        key_api: the API-key API (Lambda authorizer).
        iam_api: the SigV4 API (AWS_IAM).
        stages: the `$default` stage of each, key API first.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        authorizer_function: lambda_.IFunction,
        authorizer_cache_seconds: int,
        throttle: apigw.ThrottleSettings,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        custom_domain: CustomDomain | None,
    ) -> None:
        super().__init__(scope, construct_id)
        key_authorizer = authorizers.HttpLambdaAuthorizer(
            "ApiKeyAuthorizer",
            authorizer_function,
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=["$request.header.Authorization"],
            results_cache_ttl=Duration.seconds(authorizer_cache_seconds),
        )
        self.key_api = self._api("KeyApi", handler, key_authorizer)
        self.iam_api = self._api("IamApi", handler, authorizers.HttpIamAuthorizer())
        domain = self._domain(custom_domain)
        self._log_retention = log_retention
        self._removal_policy = removal_policy
        self.stages = [
            self._stage(self.key_api, throttle, domain, None),
            self._stage(self.iam_api, throttle, domain, "iam"),
        ]

    def _api(
        self,
        construct_id: str,
        handler: lambda_.IFunction,
        authorizer: apigw.IHttpRouteAuthorizer,
    ) -> apigw.HttpApi:
        # One integration per API: API Gateway cannot share one between two APIs.
        integration = integrations.HttpLambdaIntegration(f"{construct_id}Integration", handler)
        api = apigw.HttpApi(
            self,
            construct_id,
            description=f"Stratoflow API ({construct_id})",
            create_default_stage=False,
            default_integration=integration,
            default_authorizer=authorizer,
        )
        api.add_routes(
            path="/health",
            methods=[apigw.HttpMethod.GET],
            integration=integration,
            authorizer=apigw.HttpNoneAuthorizer(),
        )
        # The dashboard's static files (docs/ui.md): the pages hold no data, and every data
        # call they make carries the user's key through the default authorizer.
        for path in ("/ui", "/ui/{proxy+}"):
            api.add_routes(
                path=path,
                methods=[apigw.HttpMethod.GET],
                integration=integration,
                authorizer=apigw.HttpNoneAuthorizer(),
            )
        acknowledge(
            api,
            "AwsSolutions-APIG4",
            "Only GET /health and GET /ui, /ui/{proxy+} are open, by contract (SPEC 5): /health "
            "reveals nothing and load balancers and uptime checks call it without credentials; "
            "/ui serves the dashboard's static files, whose data calls need an API key.",
        )
        return api

    def _domain(self, custom_domain: CustomDomain | None) -> apigw.DomainName | None:
        if custom_domain is None:
            return None
        return apigw.DomainName(
            self,
            "Domain",
            domain_name=custom_domain.domain_name,
            certificate=custom_domain.certificate,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )

    def _stage(
        self,
        api: apigw.HttpApi,
        throttle: apigw.ThrottleSettings,
        domain: apigw.DomainName | None,
        mapping_key: str | None,
    ) -> apigw.HttpStage:
        mapping = (
            apigw.DomainMappingOptions(domain_name=domain, mapping_key=mapping_key)
            if domain is not None
            else None
        )
        stage = api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=throttle,
            domain_mapping=mapping,
        )
        access_logs = logs.LogGroup(
            api,
            "AccessLogs",
            retention=self._log_retention,
            removal_policy=self._removal_policy,
        )
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        return stage
