"""Validates deploy/ecs files against AWS's own API models (botocore), offline.

usage: validate_aws.py SERVICE OPERATION FILE  -> prints "ok" or the validation report, exit 1
"""
import json
import sys

import botocore.session
from botocore.validate import ParamValidator

service, operation, path = sys.argv[1:4]
model = botocore.session.get_session().get_service_model(service)
shape = model.operation_model(operation).input_shape
with open(path) as f:
    params = json.load(f)
report = ParamValidator().validate(params, shape)
if report.has_errors():
    print(report.generate_report())
    sys.exit(1)
print("ok")
