"""The context object, with the names, types and values Lambda's python runtime gives it
(awslambdaric's lambda_context.py): strings read from Lambda's environment variables
(memory_limit_in_mb is a str), `identity` always a CognitoIdentity, `client_context` None
unless the invoke carried one."""

import os
import sys
import time

from kiln_events import ACCOUNT_ID


class LambdaContext:
    def __init__(self, invoke_id, client_context, cognito_identity, epoch_deadline_time_in_ms,
                 invoked_function_arn=None, tenant_id=None, env=None):
        # awslambdaric reads os.environ for every context; Kiln reads it once at init and
        # passes the snapshot (`env`), which saves ~5 µs a request.
        env = env or os.environ
        self.aws_request_id = invoke_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = None
        if client_context is not None:
            self.client_context = from_dict(ClientContext, client_context)
            client = self.client_context.client
            self.client_context.client = from_dict(Client, client) if isinstance(client, dict) else None
        self.identity = from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (f"{self.__class__.__name__}([aws_request_id={self.aws_request_id},"
                f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
                f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
                f"function_version={self.function_version},invoked_function_arn={self.invoked_function_arn},"
                f"client_context={self.client_context},identity={self.identity},tenant_id={self.tenant_id}])")


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return (f"{self.__class__.__name__}([cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}])")


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __repr__(self):
        return (f"{self.__class__.__name__}([installation_id={self.installation_id},app_title={self.app_title},"
                f"app_version_name={self.app_version_name},app_version_code={self.app_version_code},"
                f"app_package_name={self.app_package_name}])")


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return f"{self.__class__.__name__}([custom={self.custom},env={self.env},client={self.client}])"


CONTEXT_VARIABLES = ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_FUNCTION_NAME",
                     "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION")


def context_environment():
    """The variables a context reads, read once."""
    return {k: os.environ[k] for k in CONTEXT_VARIABLES if k in os.environ}


def from_dict(cls, values):
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field))
    return obj


def function_arn(name):
    """The unqualified ARN Lambda passes for an invoke of the function by name."""
    region = os.environ.get("AWS_REGION") or "us-east-1"
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
