"""The baseline users write today: a plain boto3 `invoke` in a Locust task, reported to Locust."""

import os
import time

import boto3
from botocore.config import Config
from locust import User, constant, events, task

ARN = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"


class Boto3InvokeUser(User):
    wait_time = constant(0)

    def on_start(self):
        self.lam = boto3.client("lambda", endpoint_url=os.environ["SHIFTSIM_BENCH_ENDPOINT"], region_name="us-east-1",
                                aws_access_key_id="x", aws_secret_access_key="y",
                                config=Config(retries={"total_max_attempts": 1}, max_pool_connections=100))

    @task
    def invoke(self):
        start = time.perf_counter()
        response = self.lam.invoke(FunctionName=ARN, Payload=b'{"Name": "ContactFlowEvent"}')
        body = response["Payload"].read()
        events.request.fire(request_type="Lambda", name=f"invoke v{response.get('ExecutedVersion')}",
                            response_time=(time.perf_counter() - start) * 1000, response_length=len(body),
                            exception=None, context={})
